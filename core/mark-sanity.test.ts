import { describe, expect, it } from 'vitest';
import { NEW_MARK_GUARD, entryQuantity, isPlausiblePrice, judgeMark, saneEntryPrice } from './mark-sanity.js';

describe('bad prints', () => {
  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, 1e300, 1e-300, '100', null, undefined])('%s is no price', (x) => {
    expect(isPlausiblePrice(x)).toBe(false);
  });

  it('believes a mark near the reference, and remembers it', () => {
    const { guard, verdict } = judgeMark(NEW_MARK_GUARD, 101, 100);
    expect(verdict).toEqual({ believed: true, price: 101 });
    expect(guard).toEqual({ lastGood: 101, suspect: null });
  });

  it('an implausible read changes nothing, not even a pending suspicion', () => {
    const guard = { lastGood: 100, suspect: 150 };
    for (const bad of [0, Number.NaN, 1e300, -100]) {
      const r = judgeMark(guard, bad, 100);
      expect(r.verdict.believed).toBe(false);
      expect(r.guard).toBe(guard);
    }
  });

  it('a jump is believed only when the next read confirms it', () => {
    const first = judgeMark({ lastGood: 100, suspect: null }, 130, 100);
    expect(first.verdict.believed).toBe(false);
    expect(first.guard).toEqual({ lastGood: 100, suspect: 130 });
    const second = judgeMark(first.guard, 131, 100);
    expect(second.verdict).toEqual({ believed: true, price: 131 });
    // A different jump instead replaces the suspicion: two disagreeing outliers prove nothing.
    const other = judgeMark(first.guard, 60, 100);
    expect(other.verdict.believed).toBe(false);
    expect(other.guard.suspect).toBe(60);
  });

  it('sizes an entry only when mark and last price agree', () => {
    expect(saneEntryPrice(100, 100.5)).toEqual({ ok: true, price: 100 });
    expect(saneEntryPrice(0, 100).ok).toBe(false);
    expect(saneEntryPrice(1e300, 100).ok).toBe(false);
    expect(saneEntryPrice(100, Number.NaN).ok).toBe(false);
    expect(saneEntryPrice(100, 150).ok).toBe(false);
  });

  it('never yields an infinite or zero quantity', () => {
    expect(entryQuantity(250, 50)).toBe(5);
    expect(entryQuantity(250, 0)).toBeNull();
    expect(entryQuantity(250, 1e-300)).toBeNull();
    expect(entryQuantity(0, 50)).toBeNull();
    expect(entryQuantity(Number.NaN, 50)).toBeNull();
  });
});
