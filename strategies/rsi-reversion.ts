import { z } from 'zod';
import { defineStrategy } from '../core/strategy.js';
import type { Candle } from '../core/types.js';

/**
 * RSI mean reversion: buy when the RSI of the closes says oversold, sell when overbought, unless the
 * move over the RSI window is too large to fade (an entry filter on a feature). Exits: tighter take
 * profit and time limit than the defaults, and a custom exit that gives up on a trade that has not
 * moved after `staleMinutes`. The example of README "Write a strategy".
 */

/** Cutler's RSI over the closes of `window` (period + 1 candles): 100 * gains / (gains + losses). */
export function rsi(window: readonly Candle[]): number {
  let gains = 0;
  let losses = 0;
  for (let i = 1; i < window.length; i++) {
    const d = window[i]!.close - window[i - 1]!.close;
    if (d > 0) gains += d;
    else losses -= d;
  }
  return gains + losses === 0 ? 50 : (100 * gains) / (gains + losses);
}

const PERIOD = 14;

const params = z.object({
  oversold: z.number().min(1).max(50).default(25).meta({ env: 'QT_RSI_OVERSOLD', description: 'RSI at or below which it buys' }),
  overbought: z.number().min(50).max(99).default(75).meta({ env: 'QT_RSI_OVERBOUGHT', description: 'RSI at or above which it sells' }),
  maxMovePct: z.number().min(0.1).max(100).default(3).meta({ env: 'QT_RSI_MAX_MOVE_PCT', description: 'no entry when the close moved more than this over the RSI window (%)' }),
  confidence: z.number().min(0.34).max(1).default(0.7).meta({ env: 'QT_RSI_CONFIDENCE', description: 'confidence reported with each entry (sizes it)' }),
  staleMinutes: z.number().min(1).max(1440).default(60).meta({ env: 'QT_RSI_STALE_MINUTES', description: 'custom exit: close a trade still within 0.1 % of its entry after this long' }),
});

export default defineStrategy({
  name: 'rsi-reversion',
  description: 'RSI(14) mean reversion with a large-move filter',
  params,
  features: {
    rsi: { warmup: PERIOD + 1, compute: rsi },
    move: { warmup: PERIOD + 1, compute: (w) => w[w.length - 1]!.close / w[0]!.close - 1 },
  },
  scorer: {
    rule: ({ features, params: p }) => {
      if (features.rsi! <= p.oversold) return { signal: 'BUY', confidence: p.confidence };
      if (features.rsi! >= p.overbought) return { signal: 'SELL', confidence: p.confidence };
      return { signal: 'HOLD', confidence: 0 };
    },
  },
  entry: ({ score, features, params: p }) => (Math.abs(features.move!) * 100 > p.maxMovePct ? { signal: 'HOLD', confidence: 0 } : score),
  exits: { takeProfitPct: 1.0, stopLossPct: 1.0, maxHoldSeconds: 2 * 3600 },
  customExit: (pos, p) => pos.heldMs >= p.staleMinutes * 60_000 && Math.abs(pos.price / pos.entryPrice - 1) < 0.001,
});
