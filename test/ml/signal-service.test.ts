import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ModelLoadError, loadModel } from '../../ml/model.js';
import { createSignalService, featureWindow } from '../../ml/signal-service.js';
import { readCandles } from '../../exchange/klines-file.js';
import { ATR_NORM_COLUMN, FEATURE_NAMES, FeatureBuilder, featuresFromCandles } from '../../core/features.js';

const SHIPPED = 'models/xgb-v1';
const quiet = pino({ level: 'silent' });
const candles = readCandles('test/fixtures/ml-slice/BTCUSDT.csv.gz').slice(0, 600);
const eth = readCandles('test/fixtures/ml-slice/ETHUSDT.csv.gz').slice(0, 600);
const closeOfLast = candles[candles.length - 1]!.openTime + 300_000;
const tmp = mkdtempSync(join(tmpdir(), 'qt-model-'));

/** A copy of the shipped model with its card edited. */
function variant(name: string, edit: (card: Record<string, unknown>) => void): string {
  const dir = join(tmp, name);
  cpSync(SHIPPED, dir, { recursive: true });
  const card = JSON.parse(readFileSync(join(dir, 'card.json'), 'utf8'));
  edit(card);
  writeFileSync(join(dir, 'card.json'), JSON.stringify(card));
  return dir;
}

describe('model loading', () => {
  it('scores the saved parity rows exactly as Python did (onnxruntime vs XGBoost, calibrated)', async () => {
    const sample = JSON.parse(readFileSync(join(SHIPPED, 'parity-sample.json'), 'utf8')) as { features: number[][]; probabilities: number[][] };
    const m = await loadModel(SHIPPED);
    const probs = await m.run(Float32Array.from(sample.features.flat()), sample.features.length);
    sample.probabilities.forEach((row, i) => row.forEach((p, k) => expect(Math.abs(probs[i * 3 + k]! - p)).toBeLessThan(1e-5)));
    await m.close();
  });

  it('refuses a card whose feature list differs from the pipeline', async () => {
    const swapped = variant('swapped', (c) => {
      const names = [...(c.featureNames as string[])];
      [names[0], names[1]] = [names[1]!, names[0]!];
      c.featureNames = names;
    });
    await expect(loadModel(swapped)).rejects.toThrow(/order differs/);
    const missing = variant('missing', (c) => (c.featureNames = (c.featureNames as string[]).slice(1)));
    await expect(loadModel(missing)).rejects.toThrow(ModelLoadError);
    await expect(loadModel(missing)).rejects.toThrow(/missing \["ret_1"\]/);
  });

  it('live mode refuses an unproven model unless explicitly allowed', async () => {
    const unproven = variant('unproven', (c) => (c.promotable = false));
    await expect(loadModel(unproven, { liveTrading: true })).rejects.toThrow(/promotable: false/);
    const m = await loadModel(unproven, { liveTrading: true, allowUnproven: true });
    await m.close();
    const paper = await loadModel(unproven, { liveTrading: false });
    await paper.close();
  });
});

describe('signal service', () => {
  it('scores concurrent symbols in one batched session.run and returns calibrated probabilities', async () => {
    const svc = await createSignalService({ primaryDir: SHIPPED, now: () => closeOfLast + 5_000, logger: quiet });
    const symbols = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'DOGEUSDT'];
    const out = await Promise.all(symbols.map((s, i) => svc.score(s, i % 2 ? eth : candles)));
    expect(svc.status()).toMatchObject({ batches: 1, lastBatchSize: 4, scored: 4, source: 'primary', model: 'xgb-v1' });
    for (const [i, s] of out.entries()) {
      expect(s.holdReason).toBeUndefined();
      // The candle's ATR for ATR exits: the very feature value the dataset builder and the backtester read.
      expect(s.atrNorm).toBe(featuresFromCandles(i % 2 ? eth : candles)![ATR_NORM_COLUMN]);
      expect(s.atrNorm).toBeGreaterThan(0);
      const p = s.probabilities;
      expect(p.HOLD + p.BUY + p.SELL).toBeCloseTo(1, 5);
      expect(s.confidence).toBe(Math.max(p.HOLD, p.BUY, p.SELL));
      expect(s.candleTime).toBe(candles[candles.length - 1]!.openTime);
    }
    // Same candles, same answer: the service is deterministic.
    expect(out[0]!.probabilities).toEqual(out[2]!.probabilities);
    await svc.close();
  });

  it('turns invalid, stale, unclosed and short inputs into HOLD with a reason, never an error', async () => {
    const svc = await createSignalService({ primaryDir: SHIPPED, now: () => closeOfLast + 5_000, logger: quiet });
    const bad = candles.map((c, i) => (i === 500 ? { ...c, close: Number.NaN } : c));
    const gap = candles.filter((_, i) => i !== 300);
    const cases = await Promise.all([
      svc.score('A', bad), svc.score('B', gap), svc.score('C', candles.slice(0, 100)), svc.score('D', []),
    ]);
    expect(cases.map((c) => c.signal)).toEqual(['HOLD', 'HOLD', 'HOLD', 'HOLD']);
    expect(cases[0]!.holdReason).toMatch(/invalid candles: bad close/);
    expect(cases[1]!.holdReason).toMatch(/gap/);
    expect(cases[2]!.holdReason).toMatch(/insufficient data/);
    expect(cases[3]!.holdReason).toMatch(/insufficient data/);
    await svc.close();
    const late = await createSignalService({ primaryDir: SHIPPED, now: () => closeOfLast + 3_600_000, logger: quiet });
    expect((await late.score('E', candles)).holdReason).toMatch(/stale/);
    await late.close();
    const early = await createSignalService({ primaryDir: SHIPPED, now: () => closeOfLast - 60_000, logger: quiet });
    expect((await early.score('F', candles)).holdReason).toMatch(/not closed/);
    await early.close();
  });

  it('falls back to the backup model, then to HOLD with an alert', async () => {
    const broken = variant('broken', (c) => (c.featureNames = ['x']));
    const fallback = await createSignalService({ primaryDir: broken, backupDir: SHIPPED, now: () => closeOfLast, logger: quiet });
    expect(fallback.status()).toMatchObject({ source: 'backup', model: 'xgb-v1' });
    expect(fallback.status().loadErrors[0]).toMatch(/feature list/);
    expect((await fallback.score('BTCUSDT', candles)).holdReason).toBeUndefined();
    await fallback.close();
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
    const none = await createSignalService({ primaryDir: join(tmp, 'nope'), backupDir: broken, now: () => closeOfLast, logger });
    const s = await none.score('BTCUSDT', candles);
    expect(s).toMatchObject({ signal: 'HOLD', model: 'none', holdReason: 'no model loaded' });
    expect(warnings.join('')).toMatch(/ALERT: no usable model/);
    await none.close();
  });

  it('scores the feature rows a caller keeps as it scores the candles, and never trades on a bad row', async () => {
    const svc = await createSignalService({ primaryDir: SHIPPED, now: () => closeOfLast + 5_000, logger: quiet });
    const kept = featureWindow(candles, 1) as Float32Array;
    const [fromCandles, fromRows] = await Promise.all([svc.score('A', candles), svc.score('B', candles, kept)]);
    expect(fromRows.probabilities).toEqual(fromCandles.probabilities);
    // Rows of another length are not the model's window: the service computes its own.
    expect((await svc.score('C', candles, new Float32Array(3))).probabilities).toEqual(fromCandles.probabilities);
    const poisoned = kept.slice();
    poisoned[5] = Number.NaN;
    expect(await svc.score('D', candles, poisoned)).toMatchObject({ signal: 'HOLD', holdReason: 'non-finite feature' });
    await svc.close();
  });

  it('lays out the last N feature rows for a sequence model, and a rank mismatch becomes HOLD', async () => {
    const window = featureWindow(candles, 3) as Float32Array;
    const builder = new FeatureBuilder();
    const rows = candles.map((c) => builder.push(c));
    const f = FEATURE_NAMES.length;
    expect(window).toHaveLength(3 * f);
    for (let k = 0; k < 3; k++) expect(window.subarray(k * f, (k + 1) * f)).toEqual(rows[candles.length - 3 + k]);
    expect(featureWindow(candles.slice(0, 401), 3)).toMatch(/insufficient data: need 402/);
    // The shipped graph takes [batch, F]: declaring it a sequence makes session.run fail, which must HOLD.
    const seq = variant('seq1', (c) => (c.input = { kind: 'sequence', length: 2, name: 'features' }));
    const svc = await createSignalService({ primaryDir: seq, now: () => closeOfLast, logger: quiet });
    expect(await svc.score('X', candles)).toMatchObject({ signal: 'HOLD', holdReason: expect.stringMatching(/inference failed/) });
    await svc.close();
  });
});

describe('backup sequence model', () => {
  it('falls back to models/tft-v1 and feeds it [batch, N, F] windows in one batched run', async () => {
    const card = JSON.parse(readFileSync('models/tft-v1/card.json', 'utf8')) as { input: { kind: string; length: number } };
    expect(card.input.kind).toBe('sequence');
    const svc = await createSignalService({ primaryDir: join(tmp, 'absent'), backupDir: 'models/tft-v1', now: () => closeOfLast, logger: quiet });
    expect(svc.status()).toMatchObject({ source: 'backup', model: 'tft-v1', candlesNeeded: 400 + card.input.length - 1 });
    const [a, b] = await Promise.all([svc.score('BTCUSDT', candles), svc.score('ETHUSDT', eth)]);
    expect(svc.status()).toMatchObject({ batches: 1, lastBatchSize: 2 });
    for (const s of [a!, b!]) {
      expect(s.holdReason).toBeUndefined();
      expect(s.probabilities.HOLD + s.probabilities.BUY + s.probabilities.SELL).toBeCloseTo(1, 5);
    }
    const short = await svc.score('BTCUSDT', candles.slice(candles.length - 400 - card.input.length + 2));
    expect(short.holdReason).toMatch(/insufficient data/);
    await svc.close();
  });
});
