import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mutate, removeClientIdLookups, TARGETS } from './mutant.js';

const LOOKUP = 'await ex.getOrder(req.symbol, req.clientOrderId)';
const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : null);

describe('the idempotency mutant of the mutation check', () => {
  it('still applies to the current order code: lookups before a send go, nothing else changes', () => {
    const written = new Map<string, string>();
    const applied = mutate((file) => written.get(file) ?? read(file), (file, text) => written.set(file, text));
    expect(applied.length).toBeGreaterThanOrEqual(1);
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
});
