import type { Candle } from '../../core/types.js';

/** What a stream kline update did to a book. */
export type KlineApplied =
  /** The update closed the candle after the last closed one: it was appended. */
  | { kind: 'appended'; candle: Candle }
  /** An update of the candle still forming (or the first one seen of a new candle). */
  | { kind: 'forming' }
  /** An update of a candle the book already holds as closed (a repeat after a reconnect): ignored. */
  | { kind: 'old' }
  /** Closed candles are missing between the book and this update: fill them over REST. */
  | { kind: 'gap'; missing: number }
  /** The book holds nothing yet: seed it over REST first. */
  | { kind: 'unseeded' };

/**
 * One symbol's candles of one interval: closed candles, contiguous and oldest first (at most `capacity`),
 * plus the candle still forming. Fed by REST batches (`merge`) and stream updates (`apply`); it never holds
 * a gap: a batch that cannot be joined to what the book holds replaces it, and a batch with a gap inside
 * keeps only what follows the gap (indicators need contiguous candles). Pure bookkeeping, no I/O.
 */
export class CandleBook {
  private candles: Candle[] = [];
  forming: Candle | null = null;

  constructor(
    readonly intervalMs: number,
    readonly capacity: number,
  ) {}

  get closed(): readonly Candle[] {
    return this.candles;
  }

  get last(): Candle | undefined {
    return this.candles[this.candles.length - 1];
  }

  /** Closed candles missing between the last closed candle and a candle opening at `openTime`. */
  missingBefore(openTime: number): number {
    const last = this.last;
    if (!last) return 0;
    return Math.max(0, Math.round((openTime - last.openTime) / this.intervalMs) - 1);
  }

  apply(candle: Candle, closed: boolean): KlineApplied {
    const last = this.last;
    if (!last) return { kind: 'unseeded' };
    if (candle.openTime <= last.openTime) return { kind: 'old' };
    const missing = this.missingBefore(candle.openTime);
    if (!closed) {
      if (!this.forming || candle.openTime >= this.forming.openTime) this.forming = candle;
      return missing > 0 ? { kind: 'gap', missing } : { kind: 'forming' };
    }
    if (missing > 0) return { kind: 'gap', missing };
    this.push(candle);
    if (this.forming && this.forming.openTime <= candle.openTime) this.forming = null;
    return { kind: 'appended', candle };
  }

  /** Whether `merge` would join this batch to the candles held (false: it would replace them). */
  joins(rows: readonly Candle[], lastIsForming: boolean): boolean {
    const last = this.last;
    if (!last) return true;
    const closedRows = lastIsForming ? rows.slice(0, -1) : rows;
    const newer = closedRows.filter((c) => c.openTime > last.openTime);
    return newer.length === 0 || (newer[0]!.openTime - last.openTime === this.intervalMs && contiguous(newer, this.intervalMs));
  }

  /**
   * Joins a REST batch (oldest first; when `lastIsForming`, its last row is the candle still forming).
   * Returns the closed candles appended, or `reset` when the batch replaced the book's candles.
   */
  merge(rows: readonly Candle[], lastIsForming: boolean): { appended: Candle[]; reset: boolean } {
    const closedRows = lastIsForming ? rows.slice(0, -1) : rows.slice();
    const formingRow = lastIsForming ? rows[rows.length - 1] : undefined;
    const last = this.last;
    const newer = last ? closedRows.filter((c) => c.openTime > last.openTime) : closedRows;
    let appended: Candle[] = [];
    let reset = false;
    if (newer.length > 0) {
      if (last !== undefined && this.joins(rows, lastIsForming)) {
        for (const c of newer) this.push(c);
        appended = newer;
      } else {
        this.candles = contiguousTail(closedRows, this.intervalMs).slice(-this.capacity);
        appended = this.candles.slice();
        reset = true;
      }
    }
    const end = this.last;
    if (formingRow && end && formingRow.openTime > end.openTime && (!this.forming || formingRow.openTime >= this.forming.openTime)) this.forming = formingRow;
    if (this.forming && end && this.forming.openTime <= end.openTime) this.forming = null;
    return { appended, reset };
  }

  private push(c: Candle): void {
    this.candles.push(c);
    if (this.candles.length > this.capacity) this.candles.splice(0, this.candles.length - this.capacity);
  }
}

function contiguous(list: readonly Candle[], intervalMs: number): boolean {
  for (let i = 1; i < list.length; i++) if (list[i]!.openTime - list[i - 1]!.openTime !== intervalMs) return false;
  return true;
}

/** The candles after the last hole of `list` (all of it when it has none). */
export function contiguousTail(list: readonly Candle[], intervalMs: number): Candle[] {
  let start = 0;
  for (let i = 1; i < list.length; i++) if (list[i]!.openTime - list[i - 1]!.openTime !== intervalMs) start = i;
  return list.slice(start);
}
