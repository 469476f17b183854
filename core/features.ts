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
  if (!Number.isFinite(openTime) || openTime < 0) return `bad openTime ${openTime}`;
  for (const [k, v] of [['open', open], ['high', high], ['low', low], ['close', close]] as const) {
    if (!Number.isFinite(v) || v <= 0) return `bad ${k} ${v} at ${openTime}`;
  }
  if (!Number.isFinite(volume) || volume < 0) return `bad volume ${volume} at ${openTime}`;
  if (high < Math.max(open, close, low) || low > Math.min(open, close)) return `inconsistent OHLC at ${openTime}`;
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

/** Fixed-size window over the most recent values (index 0 = newest). */
class Ring {
  private readonly buf: Float64Array;
  private head = -1;
  size = 0;
  constructor(readonly capacity: number) {
    this.buf = new Float64Array(capacity);
  }
  push(x: number): void {
    this.head = (this.head + 1) % this.capacity;
    this.buf[this.head] = x;
    if (this.size < this.capacity) this.size++;
  }
  /** k-th most recent value (0 = newest). */
  at(k: number): number {
    return this.buf[(this.head - k + this.capacity * 2) % this.capacity]!;
  }
}

function meanStd(r: Ring, n: number): [number, number] {
  let s = 0;
  for (let k = 0; k < n; k++) s += r.at(k);
  const m = s / n;
  let v = 0;
  for (let k = 0; k < n; k++) v += (r.at(k) - m) ** 2;
  return [m, Math.sqrt(v / n)];
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
    const problem = candleProblem(c);
    if (problem) throw new CandleError(problem);
    if (this.count > 0) {
      const dt = c.openTime - this.lastTime;
      if (dt <= 0) throw new CandleError(`candle at ${c.openTime} is not after ${this.lastTime}`);
      if (this.intervalMs === undefined) this.intervalMs = dt;
      else if (dt !== this.intervalMs) throw new CandleError(`gap: ${dt} ms between candles at ${this.lastTime} and ${c.openTime}, expected ${this.intervalMs}`);
    }
    this.update(c);
    return this.count >= WARMUP_CANDLES ? this.row(c) : null;
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

  private row(c: Candle): Float32Array {
    const close = c.close;
    const ret = (n: number) => Math.log(close / this.closes.at(n));
    const rsi = this.loss.value === 0 ? (this.gain.value === 0 ? 50 : 100) : 100 - 100 / (1 + this.gain.value / this.loss.value);
    const macd = this.ema12.value - this.ema26.value;
    const [bbMean, bbStd] = meanStd(this.closes, 20);
    const [, vol12] = meanStd(this.rets, 12);
    const [, vol48] = meanStd(this.rets, 48);
    const [vMean, vStd] = meanStd(this.logVols, 48);
    let hi = -Infinity;
    let lo = Infinity;
    for (let k = 0; k < 48; k++) {
      hi = Math.max(hi, this.highs.at(k));
      lo = Math.min(lo, this.lows.at(k));
    }
    const range = c.high - c.low;
    // Time of day of the candle's close, the moment the row becomes known.
    const phase = (2 * Math.PI * ((c.openTime + (this.intervalMs ?? 0)) % DAY_MS)) / DAY_MS;
    return Float32Array.from([
      ret(1), ret(3), ret(6), ret(12), ret(48), ret(288),
      rsi / 100 - 0.5,
      macd / close,
      this.macdSignal.value / close,
      (macd - this.macdSignal.value) / close,
      this.atr.value / close,
      bbStd === 0 ? 0.5 : (close - (bbMean - 2 * bbStd)) / (4 * bbStd),
      (4 * bbStd) / bbMean,
      vol12,
      vol48,
      vol48 === 0 ? 1 : vol12 / vol48,
      vStd === 0 ? 0 : (this.logVols.at(0) - vMean) / vStd,
      hi === lo ? 0.5 : (close - lo) / (hi - lo),
      range === 0 ? 0 : (close - c.open) / range,
      range / close,
      close / this.ema24.value - 1,
      close / this.ema96.value - 1,
      Math.sin(phase),
      Math.cos(phase),
    ]);
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
