import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mutate, removeClientIdLookups, resendBlindly, TARGETS, UNKNOWN_ANSWER } from './mutant.js';

const LOOKUP = 'await ex.getOrder(req.symbol, req.clientOrderId)';
const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : null);

describe('the idempotency mutant of the mutation check', () => {
  it('still applies to the current order code: lookups before a send go, nothing else changes', () => {
    const written = new Map<string, string>();
    const applied = mutate((file) => written.get(file) ?? read(file), (file, text) => written.set(file, text));
    expect(applied.length).toBeGreaterThanOrEqual(2);
    // The lifecycle: one status changed, nothing else.
    const lifecycle = written.get(UNKNOWN_ANSWER.file)!;
    expect(lifecycle).toBe(read(UNKNOWN_ANSWER.file)!.replace(UNKNOWN_ANSWER.find, UNKNOWN_ANSWER.replace));
    written.delete(UNKNOWN_ANSWER.file);
    for (const [file, text] of written) {
      const original = read(file)!;
      const removed = original.split(LOOKUP).length - text.split(LOOKUP).length;
      expect(removed).toBeGreaterThanOrEqual(1);
      expect(text.length).toBe(original.length - removed * (LOOKUP.length - 'null'.length));
      for (const t of TARGETS.filter((x) => x.file === file)) {
        const start = text.indexOf(t.from);
        if (start >= 0) expect(text.slice(start, text.indexOf(t.until, start))).not.toContain(LOOKUP);
      }
    }
  });

  it('keeps a lookup after the send (a -4116 answer) and refuses code it does not recognise', () => {
    const source = `export async function placeMarketOrderOnce() {\n  a = ${LOOKUP};\n  ex.placeMarketOrder(req);\n  b = ${LOOKUP};\n}\n`;
    const mutant = removeClientIdLookups(source, TARGETS[0]);
    expect(mutant.removed).toBe(1);
    expect(mutant.source).toContain(`a = null;`);
    expect(mutant.source).toContain(`b = ${LOOKUP};`);
    expect(() => mutate(() => 'export function other() {}\n', () => {})).toThrow(/update TARGETS/);
  });

  it('takes only the unknown answer of the lifecycle for "not sent"', () => {
    const source = `switch (x) {\n  case 'ORDER':\n    a.status = 'UNKNOWN';\n    return;\n  case 'UNKNOWN':\n    a.status = 'UNKNOWN';\n    return;\n}\nb.status = 'UNKNOWN';\n`;
    const mutant = resendBlindly(source);
    expect(mutant.replaced).toBe(1);
    expect(mutant.source.split("'NOT_SENT'")).toHaveLength(2);
    expect(mutant.source).toContain(`case 'UNKNOWN':\n    a.status = 'NOT_SENT';`);
    expect(resendBlindly('case \'UNKNOWN\':\n  return;\n').replaced).toBe(0);
  });
});
