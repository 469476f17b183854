import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FEATURE_NAMES } from './features.js';
import { defineStrategy, evaluateStrategy, pipeline, strategyWarmup } from './strategy.js';
import type { Candle } from './types.js';

const candles: Candle[] = [100, 101, 103, 102, 104, 106].map((close, i) => ({ openTime: i * 300_000, open: close, high: close, low: close, close, volume: 1 }));

const rising = defineStrategy({
  name: 'rising',
  description: 'buys three rising closes unless ret_12 is negative',
  params: z.object({ confidence: z.number().default(0.8) }),
  features: {
    up: { warmup: 3, compute: (w) => (w[2]!.close > w[1]!.close && w[1]!.close > w[0]!.close ? 1 : 0) },
    ret12: pipeline('ret_12'),
  },
  scorer: { rule: ({ features, params }) => (features.up ? { signal: 'BUY', confidence: params.confidence } : { signal: 'HOLD', confidence: 0 }) },
  entry: ({ score, features }) => (features.ret12! < 0 ? { signal: 'HOLD', confidence: 0 } : score),
});

const row = (ret12: number) => {
  const r = new Float32Array(FEATURE_NAMES.length);
  r[FEATURE_NAMES.indexOf('ret_12')] = ret12;
  return r;
};

describe('strategy evaluation (core/strategy.ts)', () => {
  it('computes named features over the candles up to the one just closed, then the rule and the entry rule', () => {
    expect(evaluateStrategy(rising, { confidence: 0.8 }, 'X', candles, 2, row(0.01))).toMatchObject({ signal: 'BUY', confidence: 0.8, features: { up: 1, ret12: expect.closeTo(0.01, 6) } });
    expect(evaluateStrategy(rising, { confidence: 0.8 }, 'X', candles, 3, row(0.01)).signal).toBe('HOLD');
    expect(evaluateStrategy(rising, { confidence: 0.8 }, 'X', candles, 2, row(-0.01)).signal).toBe('HOLD'); // the entry filter
  });

  it('holds while a feature is unknown: too few candles since `first`, or no pipeline row', () => {
    expect(evaluateStrategy(rising, { confidence: 0.8 }, 'X', candles, 5, row(0.01), undefined, 4).signal).toBe('HOLD');
    expect(evaluateStrategy(rising, { confidence: 0.8 }, 'X', candles, 5, row(0.01), undefined, 3).signal).toBe('BUY');
    expect(evaluateStrategy(rising, { confidence: 0.8 }, 'X', candles, 5, null).signal).toBe('HOLD');
  });

  it('warm-up: the longest feature, or the pipeline warm-up once it reads the pipeline; unknown pipeline names fail', () => {
    expect(strategyWarmup(rising, 400)).toBe(400);
    expect(strategyWarmup({ ...rising, features: { up: rising.features.up! } }, 400)).toBe(3);
    expect(() => pipeline('no_such_feature')).toThrow(/unknown pipeline feature no_such_feature/);
  });
});
