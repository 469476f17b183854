import type { Candle } from '../core/types.js';
import type { FuturesExchange } from '../exchange/types.js';

const INTERVAL = '5m';
const INTERVAL_MS = 5 * 60 * 1000;

export interface ClosedCandles {
  /** Closed candles, oldest first, at most `history` of them. */
  candles: Candle[];
  /** Why these candles must not be traded on (gap before the forming candle, too few, a stale stream), or null. */
  problem: string | null;
  /**
   * The feature rows of the last candles, back to back (the model's window, ending at the last candle), when
   * the source keeps them up to date; otherwise the signal service computes them from `candles`.
   */
  features?: Float32Array;
}

/** Where the signal activity gets a symbol's closed candles: the worker's stream store, or REST polling. */
export interface CandleSource {
  closedCandles(symbol: string): Promise<ClosedCandles>;
}

/**
 * Per-symbol cache of closed 5-minute candles over REST, for callers without market streams (tests, the
 * fleet benchmark). The first call loads the full history; later calls fetch only the newest few klines
 * (weight 1 on Binance) and append what closed since. Only the forming candle is dropped: features see
 * closed candles only. The worker uses the stream store instead (market/market-data-service.ts).
 */
export class CandleCache implements CandleSource {
  private readonly bySymbol = new Map<string, Candle[]>();

  constructor(
    private readonly exchange: FuturesExchange,
    private readonly history: number,
  ) {}

  async closedCandles(symbol: string): Promise<ClosedCandles> {
    const cached = this.bySymbol.get(symbol);
    const limit = cached && cached.length >= this.history ? 5 : this.history + 1;
    const klines = await this.exchange.klines(symbol, INTERVAL, limit);
    if (klines.length < 2) return { candles: cached ?? [], problem: 'exchange returned no closed candle' };
    const forming = klines[klines.length - 1]!;
    const fresh = klines.slice(0, -1);
    const merged = merge(cached ?? [], fresh, this.history);
    this.bySymbol.set(symbol, merged);
    const last = merged[merged.length - 1]!;
    if (forming.openTime - last.openTime !== INTERVAL_MS) {
      return { candles: merged, problem: `stale data: last closed candle ${new Date(last.openTime).toISOString()} does not precede the forming one` };
    }
    if (merged.length < this.history) return { candles: merged, problem: `only ${merged.length} of ${this.history} candles of history` };
    return { candles: merged, problem: null };
  }
}

/** Append candles newer than the cache; a gap or reordering resets to the fresh batch. */
function merge(cached: Candle[], fresh: Candle[], keep: number): Candle[] {
  const lastCached = cached[cached.length - 1];
  const newer = lastCached ? fresh.filter((c) => c.openTime > lastCached.openTime) : fresh;
  const first = newer[0];
  const contiguous = lastCached && first ? first.openTime - lastCached.openTime === INTERVAL_MS : newer.length === 0;
  const out = contiguous ? cached.concat(newer) : fresh.slice();
  return out.length > keep ? out.slice(out.length - keep) : out;
}
