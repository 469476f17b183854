/**
 * Bad prints. A single mark price of 0, NaN, a negative number or 1e300 must never trade: no exit and no
 * entry is decided on one implausible read. A value is believed when it is a plausible price close to the
 * last believed one, or when the next read confirms a large move. Pure: safe inside workflows.
 */

/** A mark further than this (as a fraction) from the last believed one is not believed on one read. */
export const MAX_MARK_JUMP = 0.1;

/** Outside this range a number is no price of any listed contract (PEPE trades near 1e-5, BTC near 1e5). */
const MIN_PRICE = 1e-12;
const MAX_PRICE = 1e12;

/** Finite, positive and within the range any real contract trades in. */
export function isPlausiblePrice(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x >= MIN_PRICE && x <= MAX_PRICE;
}

function within(a: number, b: number, fraction: number): boolean {
  return Math.abs(a / b - 1) <= fraction;
}

/** What a position remembers about marks: the last believed one, and an unconfirmed jump. */
export interface MarkGuard {
  lastGood: number | null;
  /** A plausible print far from `lastGood`, waiting for the next read to confirm it. */
  suspect: number | null;
}

export const NEW_MARK_GUARD: MarkGuard = { lastGood: null, suspect: null };

export type MarkVerdict = { believed: true; price: number } | { believed: false; reason: string };

/**
 * Judge one mark read. `reference` (e.g. the entry price) stands in for the last believed mark until
 * there is one. A jump beyond MAX_MARK_JUMP is believed only when the following read lands within
 * MAX_MARK_JUMP of it; an implausible number never counts, not even as a confirmation.
 */
export function judgeMark(guard: MarkGuard, mark: unknown, reference: number | null): { guard: MarkGuard; verdict: MarkVerdict } {
  if (!isPlausiblePrice(mark)) return { guard, verdict: { believed: false, reason: `implausible mark ${String(mark)}` } };
  const base = guard.lastGood ?? (isPlausiblePrice(reference) ? reference : null);
  const believe = (): { guard: MarkGuard; verdict: MarkVerdict } => ({ guard: { lastGood: mark, suspect: null }, verdict: { believed: true, price: mark } });
  if (base === null || within(mark, base, MAX_MARK_JUMP)) return believe();
  if (guard.suspect !== null && within(mark, guard.suspect, MAX_MARK_JUMP)) return believe();
  return {
    guard: { lastGood: guard.lastGood, suspect: mark },
    verdict: { believed: false, reason: `mark ${mark} is ${(Math.abs(mark / base - 1) * 100).toFixed(1)}% from ${base}; waiting for the next read` },
  };
}

export type EntryPrice = { ok: true; price: number } | { ok: false; reason: string };

/**
 * The price an entry is sized from: the mark, when the latest trade price (the ticker price)
 * agrees with it. Two independent reads that disagree mean one of them is a bad print: no entry now.
 */
export function saneEntryPrice(mark: unknown, lastTrade: unknown): EntryPrice {
  if (!isPlausiblePrice(mark)) return { ok: false, reason: `implausible mark price ${String(mark)}` };
  if (!isPlausiblePrice(lastTrade)) return { ok: false, reason: `implausible last price ${String(lastTrade)}` };
  if (!within(mark, lastTrade, MAX_MARK_JUMP)) return { ok: false, reason: `mark ${mark} and last price ${lastTrade} disagree` };
  return { ok: true, price: mark };
}

/** Base-asset quantity for a notional at a price; null when it would not be a finite positive number. */
export function entryQuantity(notional: number, price: number): number | null {
  if (!(notional > 0) || !isPlausiblePrice(price)) return null;
  const q = notional / price;
  return Number.isFinite(q) && q > 0 ? q : null;
}
