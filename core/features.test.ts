import { describe, expect, it } from 'vitest';
import { CandleError, FEATURE_NAMES, FeatureBuilder, WARMUP_CANDLES, computeFeatures, featuresFromCandles } from './features.js';
import type { Candle } from './types.js';

const MIN5 = 300_000;

/** A deterministic random walk with volume, enough for every indicator. */
function series(n: number, seed = 7, start = 1_751_600_000_000): Candle[] {
  let s = seed;
  const rnd = () => ((s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const out: Candle[] = [];
  let price = 100;
  for (let i = 0; i < n; i++) {
    const open = price;
    const close = open * Math.exp((rnd() - 0.5) * 0.01);
    const high = Math.max(open, close) * (1 + rnd() * 0.003);
    const low = Math.min(open, close) * (1 - rnd() * 0.003);
    out.push({ openTime: start + i * MIN5, open, high, low, close, volume: rnd() * 1000 });
    price = close;
  }
  return out;
}

// --- Independent batch reference: textbook definitions over the whole array, no shared code. ---
function emaSeries(xs: number[], span: number): number[] {
  const a = 2 / (span + 1);
  const out = [xs[0]!];
  for (let i = 1; i < xs.length; i++) out.push(a * xs[i]! + (1 - a) * out[i - 1]!);
  return out;
}
function wilderLast(xs: number[], n: number): number {
  let v = xs.slice(0, n).reduce((s, x) => s + x, 0) / n;
  for (let i = n; i < xs.length; i++) v = (v * (n - 1) + xs[i]!) / n;
  return v;
}
function popStd(xs: number[]): number {
  const m = xs.reduce((s, x) => s + x, 0) / xs.length;
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / xs.length);
}
function reference(cs: Candle[]): Record<string, number> {
  const c = cs.map((x) => x.close);
  const n = c.length - 1;
  const last = cs[n]!;
  const changes = c.slice(1).map((x, i) => x - c[i]!);
  const avgGain = wilderLast(changes.map((d) => Math.max(d, 0)), 14);
  const avgLoss = wilderLast(changes.map((d) => Math.max(-d, 0)), 14);
  const rsi = 100 - 100 / (1 + avgGain / avgLoss);
  const tr = cs.slice(1).map((x, i) => Math.max(x.high - x.low, Math.abs(x.high - c[i]!), Math.abs(x.low - c[i]!)));
  const macdLine = emaSeries(c, 12).map((v, i) => v - emaSeries(c, 26)[i]!);
  const signal = emaSeries(macdLine, 9);
  const w20 = c.slice(-20);
  const m20 = w20.reduce((s, x) => s + x, 0) / 20;
  const sd20 = popStd(w20);
  const logRets = c.slice(1).map((x, i) => Math.log(x / c[i]!));
  const lv = cs.slice(-48).map((x) => Math.log(1 + x.volume));
  const hi = Math.max(...cs.slice(-48).map((x) => x.high));
  const lo = Math.min(...cs.slice(-48).map((x) => x.low));
  const hourFrac = ((last.openTime + MIN5) % 86_400_000) / 86_400_000;
  return {
    ret_1: Math.log(c[n]! / c[n - 1]!),
    ret_12: Math.log(c[n]! / c[n - 12]!),
    ret_288: Math.log(c[n]! / c[n - 288]!),
    rsi_14: rsi / 100 - 0.5,
    macd_norm: macdLine[n]! / c[n]!,
    macd_signal_norm: signal[n]! / c[n]!,
    macd_hist_norm: (macdLine[n]! - signal[n]!) / c[n]!,
    atr_14_norm: wilderLast(tr, 14) / c[n]!,
    bb_pctb_20: (c[n]! - (m20 - 2 * sd20)) / (4 * sd20),
    bb_width_20: (4 * sd20) / m20,
    vol_12: popStd(logRets.slice(-12)),
    vol_48: popStd(logRets.slice(-48)),
    volume_z_48: (lv[47]! - lv.reduce((s, x) => s + x, 0) / 48) / popStd(lv),
    range_pos_48: (c[n]! - lo) / (hi - lo),
    ema_dist_96: c[n]! / emaSeries(c, 96)[n]! - 1,
    tod_sin: Math.sin(2 * Math.PI * hourFrac),
    tod_cos: Math.cos(2 * Math.PI * hourFrac),
  };
}

describe('features', () => {
  it('match an independent batch implementation', () => {
    const cs = series(900);
    const got = featuresFromCandles(cs)!;
    expect(got).not.toBeNull();
    expect(got.length).toBe(FEATURE_NAMES.length);
    const ref = reference(cs);
    for (const [name, want] of Object.entries(ref)) {
      const v = got[FEATURE_NAMES.indexOf(name)]!;
      // Float32 output; EMA seeding differs by < 1e-6 relative after warm-up.
      expect(v, name).toBeCloseTo(want, 5);
      expect(Math.abs(v - want), name).toBeLessThanOrEqual(Math.abs(want) * 1e-4 + 1e-6);
    }
  });

  it('RSI is 100 on a steady rise and 50 on a flat market', () => {
    const rising: Candle[] = [];
    const flat: Candle[] = [];
    for (let i = 0; i < WARMUP_CANDLES; i++) {
      const p = 100 * 1.001 ** i;
      rising.push({ openTime: i * MIN5, open: p, high: p * 1.001, low: p, close: p * 1.001, volume: 1 });
      flat.push({ openTime: i * MIN5, open: 5, high: 5, low: 5, close: 5, volume: 0 });
    }
    const rsi = FEATURE_NAMES.indexOf('rsi_14');
    expect(featuresFromCandles(rising)![rsi]).toBeCloseTo(0.5, 6);
    expect(featuresFromCandles(flat)![rsi]).toBe(0);
    expect(Array.from(featuresFromCandles(flat)!).every(Number.isFinite)).toBe(true);
  });

  it('never look ahead: changing later candles leaves earlier rows unchanged', () => {
    const cs = series(700);
    const rowsA: (Float32Array | null)[] = [];
    const b = new FeatureBuilder();
    for (const c of cs) rowsA.push(b.push(c));
    const altered = cs.map((c, i) => (i >= 600 ? { ...c, close: c.close * 1.2, high: c.high * 1.2, volume: c.volume * 9 } : c));
    const b2 = new FeatureBuilder();
    altered.forEach((c, i) => {
      const row = b2.push(c);
      if (i < 600) expect(row).toEqual(rowsA[i]);
    });
    expect(featuresFromCandles(cs.slice(0, 600))).toEqual(rowsA[599]);
  });

  it('return null during warm-up and a row from the warm-up-th candle on', () => {
    const cs = series(WARMUP_CANDLES);
    const b = new FeatureBuilder();
    cs.slice(0, -1).forEach((c) => expect(b.push(c)).toBeNull());
    expect(b.push(cs.at(-1)!)).not.toBeNull();
    expect(computeFeatures(cs.slice(1))).toMatchObject({ ok: false });
  });

  it('refuse malformed, out-of-order and gapped candles', () => {
    const cs = series(WARMUP_CANDLES + 5);
    const bad = (i: number, patch: Partial<Candle>) => cs.map((c, j) => (j === i ? { ...c, ...patch } : c));
    expect(featuresFromCandles(bad(10, { close: NaN }))).toBeNull();
    expect(featuresFromCandles(bad(10, { low: -1 }))).toBeNull();
    expect(featuresFromCandles(bad(10, { volume: -5 }))).toBeNull();
    expect(featuresFromCandles(bad(10, { high: cs[10]!.low * 0.5 }))).toBeNull();
    expect(featuresFromCandles(bad(10, { openTime: cs[9]!.openTime }))).toBeNull();
    const gapped = cs.map((c, j) => (j >= 200 ? { ...c, openTime: c.openTime + MIN5 } : c));
    const r = computeFeatures(gapped);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/gap/);
    const b = new FeatureBuilder();
    b.push(cs[0]!);
    expect(() => b.push({ ...cs[1]!, open: Infinity })).toThrow(CandleError);
    // The builder is untouched by a refused candle: the next good one is accepted.
    expect(() => b.push(cs[1]!)).not.toThrow();
  });
});
