import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { FEATURE_NAMES, WARMUP_CANDLES } from '../../core/features.js';
import { featureRows } from '../../ml/dataset.js';
import { inferIntervalMs, listKlineFiles, readCandles } from '../../exchange/klines-file.js';
import { loadModel } from '../../ml/model.js';

/**
 * The shipped TFT backup model (models/tft-v1) loads in onnxruntime-node, agrees with the feature
 * pipeline, and reproduces the probabilities PyTorch computed at export time on windows that this
 * test rebuilds from raw candles with core/features.ts. Set QT_TFT_TEST_DATA to a klines directory
 * to also score windows from that data (e.g. ../shared/data/binance-futures-5m).
 */
const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const MODEL_DIR = join(ROOT, 'models', 'tft-v1');
const FIXTURE_DIR = join(ROOT, 'test', 'fixtures', 'tft-v1');
const TOLERANCE = 1e-4;

interface Card {
  kind: string;
  featureNames: string[];
  classes: string[];
  input: { kind: string; length: number; name: string; candlesNeeded: number };
  outputs: Record<string, string>;
  promotable: boolean;
}
interface Expected {
  window: number;
  entries: { symbol: string; endTime: number; probabilities: number[] }[];
}

const card: Card = JSON.parse(readFileSync(join(MODEL_DIR, 'card.json'), 'utf8'));
const expected: Expected = JSON.parse(readFileSync(join(FIXTURE_DIR, 'expected.json'), 'utf8'));
const N = card.input.length;
const F = FEATURE_NAMES.length;

/** Feature rows of every candle of each symbol in a klines directory (null during warm-up). */
function rowsByTime(dir: string, lastCandles = Infinity): Map<string, { times: number[]; rows: (Float32Array | null)[] }> {
  const out = new Map<string, { times: number[]; rows: (Float32Array | null)[] }>();
  for (const [symbol, path] of listKlineFiles(dir)) {
    const candles = readCandles(path).slice(-lastCandles);
    out.set(symbol, { times: candles.map((c) => c.openTime), rows: featureRows(candles, inferIntervalMs(candles)) });
  }
  return out;
}

/** The window of N rows ending at row `end`, oldest first, or null if any row is missing. */
function windowAt(rows: (Float32Array | null)[], end: number): Float32Array | null {
  if (end - N + 1 < 0) return null;
  const w = new Float32Array(N * F);
  for (let k = 0; k < N; k++) {
    const r = rows[end - N + 1 + k];
    if (!r) return null;
    w.set(r, k * F);
  }
  return w;
}

function batchOf(windows: Float32Array[]): ort.Tensor {
  const data = new Float32Array(windows.length * N * F);
  windows.forEach((w, i) => data.set(w, i * N * F));
  return new ort.Tensor('float32', data, [windows.length, N, F]);
}

async function score(session: ort.InferenceSession, windows: Float32Array[]): Promise<ort.Tensor> {
  const out = await session.run({ [card.input.name]: batchOf(windows) });
  return out.probabilities!;
}

function expectValidProbabilities(t: ort.Tensor, batch: number): void {
  expect(t.dims).toEqual([batch, 3]);
  const p = t.data as Float32Array;
  for (let i = 0; i < batch; i++) {
    const row = Array.from(p.subarray(i * 3, i * 3 + 3));
    for (const v of row) expect(v >= 0 && v <= 1).toBe(true);
    expect(row[0]! + row[1]! + row[2]!).toBeCloseTo(1, 5);
  }
}

describe('TFT backup model (models/tft-v1)', () => {
  let session: ort.InferenceSession;
  beforeAll(async () => {
    session = await ort.InferenceSession.create(join(MODEL_DIR, 'model.onnx'));
  });

  it('has a card that matches the feature pipeline and the class order', () => {
    expect(card.kind).toBe('tft');
    expect(card.featureNames).toEqual([...FEATURE_NAMES]);
    expect(card.classes).toEqual(['HOLD', 'BUY', 'SELL']);
    expect(card.input.kind).toBe('sequence');
    expect(card.input.candlesNeeded).toBe(WARMUP_CANDLES + N - 1);
    expect(typeof card.promotable).toBe('boolean');
    expect(expected.window).toBe(N);
    expect(session.inputNames).toEqual([card.input.name]);
    expect(session.outputNames).toEqual(['probabilities']);
  });

  /** Windows of the fixture entries, rebuilt from the raw klines with the production feature code. */
  function expectedWindows(): Float32Array[] {
    const data = rowsByTime(join(FIXTURE_DIR, 'klines'));
    return expected.entries.map((e) => {
      const s = data.get(e.symbol)!;
      const w = windowAt(s.rows, s.times.indexOf(e.endTime));
      if (!w) throw new Error(`no full window for ${e.symbol} at ${e.endTime}`);
      return w;
    });
  }

  function worstDiff(p: Float32Array): number {
    let worst = 0;
    expected.entries.forEach((e, i) => e.probabilities.forEach((v, c) => (worst = Math.max(worst, Math.abs(p[i * 3 + c]! - v)))));
    return worst;
  }

  it('reproduces the exported probabilities on windows rebuilt from raw candles', async () => {
    const windows = expectedWindows();
    expect(windows.length).toBeGreaterThanOrEqual(4);
    const t = await score(session, windows);
    expectValidProbabilities(t, windows.length);
    expect(worstDiff(t.data as Float32Array)).toBeLessThan(TOLERANCE);
  });

  it('loads through the runtime model loader as a sequence model and scores the same', async () => {
    const model = await loadModel(MODEL_DIR);
    try {
      expect(model.window).toBe(N);
      const windows = expectedWindows();
      const input = new Float32Array(windows.length * N * F);
      windows.forEach((w, i) => input.set(w, i * N * F));
      expect(worstDiff(await model.run(input, windows.length))).toBeLessThan(TOLERANCE);
    } finally {
      await model.close();
    }
  });

  it('scores one window the same alone as inside a batch (dynamic batch axis)', async () => {
    const { rows } = rowsByTime(join(FIXTURE_DIR, 'klines')).values().next().value!;
    const ends = [rows.length - 1, rows.length - 10, rows.length - 40];
    const windows = ends.map((end) => windowAt(rows, end)!);
    const all = (await score(session, windows)).data as Float32Array;
    for (let i = 0; i < windows.length; i++) {
      const alone = (await score(session, [windows[i]!])).data as Float32Array;
      for (let c = 0; c < 3; c++) expect(Math.abs(alone[c]! - all[i * 3 + c]!)).toBeLessThan(1e-5);
    }
    // Different market states give different outputs: the model is not a constant.
    expect(Math.abs(all[0]! - all[6]!) + Math.abs(all[1]! - all[7]!)).toBeGreaterThan(0);
  });

  const dataDir = process.env.QT_TFT_TEST_DATA;
  it.skipIf(!dataDir || !existsSync(dataDir))('scores the last window of every symbol of QT_TFT_TEST_DATA in one batch', async () => {
    const windows: Float32Array[] = [];
    for (const { rows } of rowsByTime(dataDir!, card.input.candlesNeeded + 50).values()) {
      const w = windowAt(rows, rows.length - 1);
      if (w) windows.push(w);
    }
    expect(windows.length).toBeGreaterThan(0);
    expectValidProbabilities(await score(session, windows), windows.length);
  });
});
