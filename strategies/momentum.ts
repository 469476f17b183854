import { z } from 'zod';
import { defineStrategy, pipeline } from '../core/strategy.js';
import type { Signal } from '../core/types.js';

/**
 * The momentum rule, shared in meaning with models/training/evaluation.py (MOMENTUM_Z there): trade in
 * the direction of the last 12 candles' move (1 h on 5 m klines) when it exceeds `z` standard
 * deviations of 12-candle returns, estimated from the 48-candle volatility. The backtester also runs
 * it as a baseline next to any strategy.
 */
export const MOMENTUM_Z = 1.5;

export function momentumSignal(ret12: number, vol48: number, z: number = MOMENTUM_Z): Signal {
  const score = ret12 / (vol48 * Math.sqrt(12) + 1e-12);
  if (score > z) return 'BUY';
  if (score < -z) return 'SELL';
  return 'HOLD';
}

export default defineStrategy({
  name: 'momentum',
  description: 'the 12-candle move beyond z sigma, in its direction',
  params: z.object({
    z: z.number().min(0.1).max(10).default(MOMENTUM_Z).meta({ env: 'QT_MOMENTUM_Z', description: 'move, in standard deviations of 12-candle returns, that triggers an entry' }),
    confidence: z.number().min(0.34).max(1).default(0.75).meta({ env: 'QT_MOMENTUM_CONFIDENCE', description: 'confidence reported with each entry (sizes it between the threshold and 1)' }),
  }),
  features: { ret12: pipeline('ret_12'), vol48: pipeline('vol_48') },
  scorer: {
    rule: ({ features, params }) => {
      const signal = momentumSignal(features.ret12!, features.vol48!, params.z);
      return { signal, confidence: signal === 'HOLD' ? 0 : params.confidence };
    },
  },
});
