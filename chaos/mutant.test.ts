import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { removeClientIdLookups, TARGET_FILE } from './mutant.js';

describe('the idempotency mutant of the mutation check', () => {
  it('still applies to the current order code: both client-id lookups of placeMarketOrderOnce go', () => {
    const source = readFileSync(TARGET_FILE, 'utf8');
    const mutant = removeClientIdLookups(source);
    expect(mutant.removed).toBeGreaterThanOrEqual(1);
    const fn = mutant.source.slice(mutant.source.indexOf('export async function placeMarketOrderOnce'));
    expect(fn.slice(0, fn.indexOf('\n}\n'))).not.toMatch(/getOrder\(req\.symbol, req\.clientOrderId\)/);
    // Nothing else changes.
    expect(mutant.source.replaceAll('null', '')).toBe(source.replace(/await ex\.getOrder\(req\.symbol, req\.clientOrderId\)/g, '').replaceAll('null', ''));
  });

  it('refuses to run on code it does not recognise', () => {
    expect(() => removeClientIdLookups('export function other() {}\n')).toThrow(/update chaos\/mutation.ts/);
  });
});
