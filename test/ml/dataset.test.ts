import { describe, expect, it } from 'vitest';
import { META_COLUMNS, buildDataset } from '../../ml/dataset.js';
import { readCandles } from '../../exchange/klines-file.js';
import { ATR_NORM_COLUMN, FEATURE_NAMES, featuresFromCandles } from '../../core/features.js';
import { labelHorizonMs, simulateTrade, tripleBarrierLabels } from '../../core/labels.js';
import { entryExitDistances, positionRules } from '../../core/exits.js';
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

  it('with ATR exits on the pessimistic path, each row\'s returns are the trades the agent would fix from its live features', () => {
    const params = { ...DEFAULT_PARAMS, exitMode: 'atr' as const };
    const atr = buildDataset({ dataDir: 'test/fixtures/ml-slice', symbols: ['SOLUSDT'], from, to, params, intrabar: 'pessimistic', progress: false });
    const candles = readCandles('test/fixtures/ml-slice/SOLUSDT.csv.gz').filter((c) => c.openTime < to);
    let checked = 0;
    let differ = 0;
    for (let r = 0; r < atr.rows; r += 53) {
      const t = atr.meta[r * m]!;
      const idx = candles.findIndex((c) => c.openTime === t);
      // What the live loop has at the close of candle idx: its features, hence its ATR and the position's exits.
      const live = featuresFromCandles(candles.slice(0, idx + 1))!;
      const rules = positionRules(params, entryExitDistances(params, live[ATR_NORM_COLUMN]));
      for (const [side, col] of [['LONG', 3], ['SHORT', 4]] as const) {
        const trade = simulateTrade(candles, idx + 1, side, rules, MIN5, undefined, undefined, 'pessimistic')!;
        expect(atr.meta[r * m + col]).toBeCloseTo(trade.netReturn, 6);
      }
      const percent = tripleBarrierLabels(candles.slice(0, idx + 60), DEFAULT_PARAMS, MIN5).longReturn[idx]!;
      if (Math.abs(percent - atr.meta[r * m + 3]!) > 1e-6) differ++;
      checked++;
    }
    expect(checked).toBeGreaterThan(10);
    expect(differ).toBeGreaterThan(0); // the ATR labels are not the percent ones
  });
});
