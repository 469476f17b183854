import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { removeClientIdLookups, TARGET_FILE } from './mutant.js';

describe('the idempotency mutant of the mutation check', () => {
  it('still applies to the current order code: the lookups before the send go, nothing else changes', () => {
    const source = readFileSync(TARGET_FILE, 'utf8');
    const mutant = removeClientIdLookups(source);
    expect(mutant.removed).toBeGreaterThanOrEqual(1);
    const fn = mutant.source.slice(mutant.source.indexOf('export async function placeMarketOrderOnce'));
    expect(fn.slice(0, fn.indexOf('ex.placeMarketOrder('))).not.toMatch(/getOrder\(req\.symbol, req\.clientOrderId\)/);
    const lookups = (text: string) => text.match(/await ex\.getOrder\(req\.symbol, req\.clientOrderId\)/g)?.length ?? 0;
    expect(lookups(source) - lookups(mutant.source)).toBe(mutant.removed);
    expect(mutant.source.length).toBe(source.length - mutant.removed * ('await ex.getOrder(req.symbol, req.clientOrderId)'.length - 'null'.length));
  });

  it('refuses to run on code it does not recognise', () => {
    expect(() => removeClientIdLookups('export function other() {}\n')).toThrow(/update chaos\/mutation.ts/);
  });
});
