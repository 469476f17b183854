import type { Candle } from '../core/types.js';
import { SIGNAL_CLASSES } from '../core/types.js';
import { type Strategy, evaluateStrategy, readsPipeline } from '../core/strategy.js';
import { CandleError, FEATURE_NAMES, FeatureBuilder } from '../core/features.js';
import type { LoadedModel } from '../ml/model.js';

/**
 * A strategy's verdict for every candle of one symbol: index i is what the loop would have seen once
 * candle i closed (so it acts during candle i+1). 0 = HOLD, 1 = BUY, 2 = SELL (SIGNAL_CLASSES).
 */
export interface SignalTrack {
  signal: Uint8Array;
  confidence: Float32Array;
}

/** Feature rows of every candle laid out in one matrix; `valid[i]` = 0 during warm-up or after a gap. */
export interface FeatureMatrix {
  rows: Float32Array;
  valid: Uint8Array;
}

export function featureMatrix(candles: readonly Candle[], intervalMs: number): FeatureMatrix {
  const f = FEATURE_NAMES.length;
  const rows = new Float32Array(candles.length * f);
  const valid = new Uint8Array(candles.length);
  const b = new FeatureBuilder({ intervalMs });
  for (let i = 0; i < candles.length; i++) {
    let ok: boolean;
    try {
      ok = b.pushInto(candles[i]!, rows, i * f);
    } catch (e) {
      // A gap or bad candle restarts the warm-up, as in the dataset and the live loop.
      if (!(e instanceof CandleError)) throw e;
      b.reset();
      ok = b.pushInto(candles[i]!, rows, i * f);
    }
    valid[i] = ok && allFinite(rows.subarray(i * f, (i + 1) * f)) ? 1 : 0;
  }
  return { rows, valid };
}

function allFinite(r: Float32Array): boolean {
  for (let k = 0; k < r.length; k++) if (!Number.isFinite(r[k]!)) return false;
  return true;
}

/**
 * Score every candle of one symbol from `startIndex` on whose last `window` feature rows are valid,
 * in one batched session.run: the same numbers the live service would get one tick at a time.
 */
export async function scoreSymbol(model: LoadedModel, m: FeatureMatrix, startIndex: number): Promise<SignalTrack> {
  const f = FEATURE_NAMES.length;
  const w = model.window;
  const track = holdTrack(m.valid.length);
  const rows: number[] = [];
  let run = 0;
  for (let i = 0; i < m.valid.length; i++) {
    run = m.valid[i] ? run + 1 : 0;
    if (run >= w && i >= startIndex) rows.push(i);
  }
  if (rows.length === 0) return track;
  const input = new Float32Array(rows.length * w * f);
  rows.forEach((i, j) => input.set(m.rows.subarray((i - w + 1) * f, (i + 1) * f), j * w * f));
  const probs = await model.run(input, rows.length);
  rows.forEach((i, j) => {
    let best = 0;
    for (let k = 1; k < 3; k++) if (probs[j * 3 + k]! > probs[j * 3 + best]!) best = k;
    track.signal[i] = best;
    track.confidence[i] = probs[j * 3 + best]!;
  });
  return track;
}

export function holdTrack(n: number): SignalTrack {
  return { signal: new Uint8Array(n), confidence: new Float32Array(n) };
}

/**
 * A strategy's verdict on every candle from `startIndex` on, through core/strategy.ts as the live
 * signal source computes it. `modelTrack`, for model strategies, holds the batched model scores that
 * the strategy's entry rule then sees. Candles whose features are not all known hold.
 */
export function strategyTrack<P extends Record<string, unknown>>(
  s: Strategy<P>, params: P, symbol: string, candles: readonly Candle[], m: FeatureMatrix, intervalMs: number, startIndex: number, modelTrack?: SignalTrack,
): SignalTrack {
  const f = FEATURE_NAMES.length;
  const pipelineRows = readsPipeline(s);
  const t = holdTrack(m.valid.length);
  let contiguous = 0;
  for (let i = 0; i < candles.length; i++) {
    contiguous = i > 0 && candles[i]!.openTime - candles[i - 1]!.openTime === intervalMs ? contiguous + 1 : 1;
    if (i < startIndex || (pipelineRows && !m.valid[i])) continue;
    const score = modelTrack ? { signal: SIGNAL_CLASSES[modelTrack.signal[i]!]!, confidence: modelTrack.confidence[i]! } : undefined;
    if (score?.signal === 'HOLD') continue;
    // Candle features only see this run of contiguous candles, as after a gap in the live loop.
    const r = evaluateStrategy(s, params, symbol, candles, i, pipelineRows ? m.rows.subarray(i * f, (i + 1) * f) : null, score, i + 1 - contiguous);
    t.signal[i] = SIGNAL_CLASSES.indexOf(r.signal);
    t.confidence[i] = r.signal === 'HOLD' ? 0 : r.confidence;
  }
  return t;
}

/** Seeded random BUY/SELL on a fraction `rate` of the valid candles. */
export function randomTrack(m: FeatureMatrix, rate: number, confidence: number, rng: () => number): SignalTrack {
  const t = holdTrack(m.valid.length);
  for (let i = 0; i < m.valid.length; i++) {
    if (!m.valid[i] || rng() >= rate) continue;
    t.signal[i] = rng() < 0.5 ? 1 : 2;
    t.confidence[i] = confidence;
  }
  return t;
}

/** Fraction of valid candles on which a track would trade at `threshold`, and their mean confidence. */
export function actionableStats(tracks: SignalTrack[], matrices: FeatureMatrix[], threshold: number): { rate: number; meanConfidence: number } {
  let valid = 0;
  let hits = 0;
  let conf = 0;
  tracks.forEach((t, s) => {
    const v = matrices[s]!.valid;
    for (let i = 0; i < v.length; i++) {
      if (!v[i]) continue;
      valid++;
      if (t.signal[i] !== 0 && t.confidence[i]! >= threshold) {
        hits++;
        conf += t.confidence[i]!;
      }
    }
  });
  return { rate: valid ? hits / valid : 0, meanConfidence: hits ? conf / hits : threshold };
}

/** mulberry32: a small, fast, seedable PRNG so random baselines repeat exactly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
