import type { Candle } from './types.js';

/**
 * The one feature pipeline: the live loop, the dataset builder and the backtester all call this code,
 * so training and serving cannot drift. Pure (no I/O, no Node APIs): it is bundled into workflows.
 *
 * Every feature is scale-free (returns, ratios, indicators normalised by price) so one model serves
 * symbols priced from 1e-5 to 1e5. A row describes the last *closed* candle and uses nothing later.
 * Windows are counted in candles, not minutes, so the pipeline works for any kline interval.
 */
export const FEATURE_NAMES: readonly string[] = [
  'ret_1', 'ret_3', 'ret_6', 'ret_12', 'ret_48', 'ret_288',
  'rsi_14', 'macd_norm', 'macd_signal_norm', 'macd_hist_norm', 'atr_14_norm',
  'bb_pctb_20', 'bb_width_20', 'vol_12', 'vol_48', 'vol_ratio_12_48',
  'volume_z_48', 'range_pos_48', 'body_ratio', 'range_norm',
  'ema_dist_24', 'ema_dist_96', 'tod_sin', 'tod_cos',
] as const;

const FEATURE_COUNT = FEATURE_NAMES.length;
/** Column of `atr_14_norm` (Wilder ATR 14 / close): what QT_EXIT_MODE=atr scales the exit distances by. */
export const ATR_NORM_COLUMN = FEATURE_NAMES.indexOf('atr_14_norm');
const LONGEST_RETURN = 288;
/**
 * Candles pushed before the first row is produced. 400 covers the longest lookback (288) and lets the
 * slowest recursive indicator (EMA 96, alpha = 2/97) forget its seed: (1 - 2/97)^400 < 3e-4.
 */
export const WARMUP_CANDLES = 400;
const HISTORY = LONGEST_RETURN + 1;

/** A candle the pipeline refuses: non-finite or non-positive prices, inconsistent OHLC, time going backwards or a gap. */
export class CandleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CandleError';
  }
}

/** Why a candle is malformed, or null if it is sound on its own. */
export function candleProblem(c: Candle): string | null {
  const { openTime, open, high, low, close, volume } = c;
  // Plain comparisons (no arrays): this runs for every candle of every backtest and dataset.
  if (!Number.isFinite(openTime) || openTime < 0) return `bad openTime ${openTime}`;
  if (!(open > 0 && open < Infinity)) return `bad open ${open} at ${openTime}`;
  if (!(high > 0 && high < Infinity)) return `bad high ${high} at ${openTime}`;
  if (!(low > 0 && low < Infinity)) return `bad low ${low} at ${openTime}`;
  if (!(close > 0 && close < Infinity)) return `bad close ${close} at ${openTime}`;
  if (!(volume >= 0 && volume < Infinity)) return `bad volume ${volume} at ${openTime}`;
  if (high < open || high < close || high < low || low > open || low > close) return `inconsistent OHLC at ${openTime}`;
  return null;
}

class Ema {
  value = NaN;
  constructor(private readonly alpha: number) {}
  push(x: number): number {
    this.value = Number.isNaN(this.value) ? x : this.value + this.alpha * (x - this.value);
    return this.value;
  }
}

/** Wilder's smoothing: seeded with the simple mean of the first `n` values, then alpha = 1/n. */
class Wilder {
  private count = 0;
  private sum = 0;
  value = NaN;
  constructor(private readonly n: number) {}
  push(x: number): number {
    if (this.count < this.n) {
      this.sum += x;
      this.count++;
      if (this.count === this.n) this.value = this.sum / this.n;
      return this.value;
    }
    this.value = (this.value * (this.n - 1) + x) / this.n;
    return this.value;
  }
}

/**
 * Fixed-size window over the most recent values (index 0 = newest). Every value is written twice,
 * `capacity` apart, so any window is one contiguous slice ending at `end` (no modulo in hot loops).
 */
class Ring {
  readonly buf: Float64Array;
  private head = -1;
  size = 0;
  constructor(readonly capacity: number) {
    this.buf = new Float64Array(capacity * 2);
  }
  push(x: number): void {
    this.head = (this.head + 1) % this.capacity;
    this.buf[this.head] = x;
    this.buf[this.head + this.capacity] = x;
    if (this.size < this.capacity) this.size++;
  }
  /** Index just past the newest value in `buf`; the last n values are buf[end - n .. end). */
  get end(): number {
    return this.head + this.capacity + 1;
  }
  /** k-th most recent value (0 = newest). */
  at(k: number): number {
    return this.buf[this.head + this.capacity - k]!;
  }
}

function mean(r: Ring, n: number): number {
  const b = r.buf;
  const end = r.end;
  let s = 0;
  for (let i = end - n; i < end; i++) s += b[i]!;
  return s / n;
}

/** Population standard deviation of the last n values around `m`. */
function std(r: Ring, n: number, m: number): number {
  const b = r.buf;
  const end = r.end;
  let v = 0;
  for (let i = end - n; i < end; i++) v += (b[i]! - m) * (b[i]! - m);
  return Math.sqrt(v / n);
}

const DAY_MS = 86_400_000;

export interface FeatureBuilderOptions {
  /** Kline interval in ms; when omitted it is taken from the first two candles. */
  intervalMs?: number;
}

/**
 * Incremental feature computation over a stream of closed candles of one symbol. `push` returns the
 * feature row of the candle just pushed, or null during warm-up. A malformed candle, one that goes
 * back in time, or a gap in the series throws CandleError and leaves the builder untouched; callers
 * decide whether to `reset()` (dataset) or to hold (live).
 */
export class FeatureBuilder {
  private intervalMs: number | undefined;
  private lastTime = NaN;
  private count = 0;
  private closes = new Ring(HISTORY);
  private highs = new Ring(48);
  private lows = new Ring(48);
  private rets = new Ring(48);
  private logVols = new Ring(48);
  private ema12 = new Ema(2 / 13);
  private ema26 = new Ema(2 / 27);
  private macdSignal = new Ema(2 / 10);
  private ema24 = new Ema(2 / 25);
  private ema96 = new Ema(2 / 97);
  private gain = new Wilder(14);
  private loss = new Wilder(14);
  private atr = new Wilder(14);

  constructor(private readonly options: FeatureBuilderOptions = {}) {
    this.intervalMs = options.intervalMs;
  }

  /** Candles accepted so far. */
  get pushed(): number {
    return this.count;
  }

  reset(): void {
    Object.assign(this, new FeatureBuilder(this.options));
  }

  push(c: Candle): Float32Array | null {
    const out = new Float32Array(FEATURE_COUNT);
    return this.pushInto(c, out, 0) ? out : null;
  }

  /**
   * Like push, but writes the row into `target` at `offset` (no allocation: the backtester fills one
   * matrix for millions of candles). Returns false during warm-up.
   */
  pushInto(c: Candle, target: Float32Array, offset: number): boolean {
    const problem = candleProblem(c);
    if (problem) throw new CandleError(problem);
    if (this.count > 0) {
      const dt = c.openTime - this.lastTime;
      if (dt <= 0) throw new CandleError(`candle at ${c.openTime} is not after ${this.lastTime}`);
      if (this.intervalMs === undefined) this.intervalMs = dt;
      else if (dt !== this.intervalMs) throw new CandleError(`gap: ${dt} ms between candles at ${this.lastTime} and ${c.openTime}, expected ${this.intervalMs}`);
    }
    this.update(c);
    if (this.count < WARMUP_CANDLES) return false;
    this.row(c, target, offset);
    return true;
  }

  private update(c: Candle): void {
    const prevClose = this.count > 0 ? this.closes.at(0) : NaN;
    if (this.count > 0) {
      const change = c.close - prevClose;
      this.gain.push(Math.max(change, 0));
      this.loss.push(Math.max(-change, 0));
      this.atr.push(Math.max(c.high - c.low, Math.abs(c.high - prevClose), Math.abs(c.low - prevClose)));
      this.rets.push(Math.log(c.close / prevClose));
    }
    this.lastTime = c.openTime;
    this.count++;
    this.closes.push(c.close);
    this.highs.push(c.high);
    this.lows.push(c.low);
    this.logVols.push(Math.log1p(c.volume));
    const macd = this.ema12.push(c.close) - this.ema26.push(c.close);
    this.macdSignal.push(macd);
    this.ema24.push(c.close);
    this.ema96.push(c.close);
  }

  /** The feature row of candle `c`, written field by field (no temporaries: this is the hot path). */
  private row(c: Candle, f: Float32Array, o: number): void {
    const close = c.close;
    const closes = this.closes;
    const gain = this.gain.value;
    const loss = this.loss.value;
    const rsi = loss === 0 ? (gain === 0 ? 50 : 100) : 100 - 100 / (1 + gain / loss);
    const macd = this.ema12.value - this.ema26.value;
    const signal = this.macdSignal.value;
    const bbMean = mean(closes, 20);
    const bbStd = std(closes, 20, bbMean);
    const vol12 = std(this.rets, 12, mean(this.rets, 12));
    const vol48 = std(this.rets, 48, mean(this.rets, 48));
    const vMean = mean(this.logVols, 48);
    const vStd = std(this.logVols, 48, vMean);
    let hi = -Infinity;
    let lo = Infinity;
    const hb = this.highs.buf;
    const lb = this.lows.buf;
    for (let i = this.highs.end - 48, j = this.lows.end - 48; i < this.highs.end; i++, j++) {
      if (hb[i]! > hi) hi = hb[i]!;
      if (lb[j]! < lo) lo = lb[j]!;
    }
    const range = c.high - c.low;
    // Time of day of the candle's close, the moment the row becomes known.
    const phase = (2 * Math.PI * ((c.openTime + (this.intervalMs ?? 0)) % DAY_MS)) / DAY_MS;
    f[o + 0] = Math.log(close / closes.at(1));
    f[o + 1] = Math.log(close / closes.at(3));
    f[o + 2] = Math.log(close / closes.at(6));
    f[o + 3] = Math.log(close / closes.at(12));
    f[o + 4] = Math.log(close / closes.at(48));
    f[o + 5] = Math.log(close / closes.at(288));
    f[o + 6] = rsi / 100 - 0.5;
    f[o + 7] = macd / close;
    f[o + 8] = signal / close;
    f[o + 9] = (macd - signal) / close;
    f[o + 10] = this.atr.value / close;
    f[o + 11] = bbStd === 0 ? 0.5 : (close - (bbMean - 2 * bbStd)) / (4 * bbStd);
    f[o + 12] = (4 * bbStd) / bbMean;
    f[o + 13] = vol12;
    f[o + 14] = vol48;
    f[o + 15] = vol48 === 0 ? 1 : vol12 / vol48;
    f[o + 16] = vStd === 0 ? 0 : (this.logVols.at(0) - vMean) / vStd;
    f[o + 17] = hi === lo ? 0.5 : (close - lo) / (hi - lo);
    f[o + 18] = range === 0 ? 0 : (close - c.open) / range;
    f[o + 19] = range / close;
    f[o + 20] = close / this.ema24.value - 1;
    f[o + 21] = close / this.ema96.value - 1;
    f[o + 22] = Math.sin(phase);
    f[o + 23] = Math.cos(phase);
  }
}

export type FeatureResult = { ok: true; features: Float32Array } | { ok: false; reason: string };

/** Features of the last candle of `candles` (closed candles, oldest first), or the reason there are none. */
export function computeFeatures(candles: readonly Candle[], options?: FeatureBuilderOptions): FeatureResult {
  if (candles.length < WARMUP_CANDLES) return { ok: false, reason: `need ${WARMUP_CANDLES} closed candles, got ${candles.length}` };
  const b = new FeatureBuilder(options);
  let last: Float32Array | null = null;
  try {
    for (const c of candles) last = b.push(c);
  } catch (e) {
    if (e instanceof CandleError) return { ok: false, reason: `invalid candles: ${e.message}` };
    throw e;
  }
  if (!last || !last.every(Number.isFinite)) return { ok: false, reason: 'non-finite feature' };
  return { ok: true, features: last };
}

/** Features of the last closed candle, or null when the input is too short or malformed. */
export function featuresFromCandles(candles: readonly Candle[], options?: FeatureBuilderOptions): Float32Array | null {
  const r = computeFeatures(candles, options);
  return r.ok ? r.features : null;
}
