import { describe, expect, it } from 'vitest';
import { META_COLUMNS, buildDataset } from '../../ml/dataset.js';
import { readCandles } from '../../exchange/klines-file.js';
import { FEATURE_NAMES, featuresFromCandles } from '../../core/features.js';
import { labelHorizonMs, tripleBarrierLabels } from '../../core/labels.js';
import { DEFAULT_PARAMS } from '../../core/params.js';

const MIN5 = 300_000;

describe('dataset builder', () => {
  const from = Date.UTC(2025, 8, 3);
  const to = Date.UTC(2025, 8, 8);
  const ds = buildDataset({ dataDir: 'test/fixtures/ml-slice', symbols: ['ETHUSDT', 'SOLUSDT'], from, to, progress: false });
  const m = META_COLUMNS.length;
  const f = FEATURE_NAMES.length;

  it('keeps rows inside [from, to), each labelled only with trades that settled before --to', () => {
    expect(ds.symbols).toEqual(['ETHUSDT', 'SOLUSDT']);
    // With more future data every kept row keeps its label: none was cut short at --to.
    const longer = buildDataset({ dataDir: 'test/fixtures/ml-slice', symbols: ['ETHUSDT', 'SOLUSDT'], from, to: to + 86_400_000, progress: false });
    const key = (meta: Float64Array, r: number) => `${meta[r * m + 1]}:${meta[r * m]}`;
    const labelOf = new Map<string, number>();
    for (let r = 0; r < longer.rows; r++) labelOf.set(key(longer.meta, r), longer.meta[r * m + 2]!);
    let maxTime = -Infinity;
    for (let r = 0; r < ds.rows; r++) {
      const t = ds.meta[r * m]!;
      expect(t).toBeGreaterThanOrEqual(from);
      expect(t).toBeLessThan(to);
      expect(labelOf.get(key(ds.meta, r))).toBe(ds.meta[r * m + 2]);
      maxTime = Math.max(maxTime, t);
    }
    // Every row's whole label horizon (next candle + 4 h) lies before --to, however its trade ended.
    expect(maxTime + MIN5 + labelHorizonMs(DEFAULT_PARAMS, MIN5)).toBeLessThanOrEqual(to);
    expect(maxTime + MIN5 + labelHorizonMs(DEFAULT_PARAMS, MIN5)).toBeGreaterThan(to - 2 * MIN5);
    expect(longer.rows).toBeGreaterThan(ds.rows);
  });

  it('rows are exactly what the live path computes from the candles up to that time', () => {
    const candles = readCandles('test/fixtures/ml-slice/SOLUSDT.csv.gz').filter((c) => c.openTime < to);
    const labels = tripleBarrierLabels(candles, DEFAULT_PARAMS, MIN5);
    let checked = 0;
    for (let r = 0; r < ds.rows; r += 97) {
      if (ds.meta[r * m + 1] !== 1) continue; // SOLUSDT
      const t = ds.meta[r * m]!;
      const idx = candles.findIndex((c) => c.openTime === t);
      const live = featuresFromCandles(candles.slice(0, idx + 1))!;
      expect(Array.from(ds.features.subarray(r * f, (r + 1) * f))).toEqual(Array.from(live));
      expect(ds.meta[r * m + 2]).toBe(labels.labels[idx]);
      expect(ds.meta[r * m + 3]).toBeCloseTo(labels.longReturn[idx]!, 6);
      checked++;
    }
    expect(checked).toBeGreaterThan(5);
  });
});
