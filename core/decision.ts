import type { PositionSide, Signal } from './types.js';
import { sideForSignal } from './types.js';
import type { TradingParams } from './params.js';
import { targetNotional } from './sizing.js';

/** What the symbol loop knows when a signal arrives. */
export interface EntryContext {
  now: number;
  killed: boolean;
  /** QT_ENABLE_AI_TRADING: false keeps signals journaled but opens nothing. */
  aiTradingEnabled: boolean;
  hasOpenPosition: boolean;
  /** Epoch ms before which no new entry is allowed (0 = none). */
  cooldownUntil: number;
}

export type SkipReason = 'HOLD' | 'BELOW_THRESHOLD' | 'KILLED' | 'AI_TRADING_DISABLED' | 'POSITION_OPEN' | 'COOLDOWN' | 'INVALID_SIGNAL';

export type EntryDecision =
  | { kind: 'ENTER'; side: PositionSide; notional: number }
  | { kind: 'SKIP'; reason: SkipReason };

/**
 * The one entry rule, used by the symbol workflow and the backtester alike. Risk limits that need
 * the whole book (open positions, exposure, daily loss) are checked afterwards by `checkRisk`.
 */
export function decideEntry(
  signal: { signal: Signal; confidence: number },
  ctx: EntryContext,
  params: Pick<TradingParams, 'confidenceThreshold' | 'minSizeFraction' | 'positionNotional'>,
): EntryDecision {
  if (!Number.isFinite(signal.confidence) || signal.confidence < 0 || signal.confidence > 1) return { kind: 'SKIP', reason: 'INVALID_SIGNAL' };
  const side = sideForSignal(signal.signal);
  if (side === null) return { kind: 'SKIP', reason: 'HOLD' };
  if (signal.confidence < params.confidenceThreshold) return { kind: 'SKIP', reason: 'BELOW_THRESHOLD' };
  if (ctx.killed) return { kind: 'SKIP', reason: 'KILLED' };
  if (!ctx.aiTradingEnabled) return { kind: 'SKIP', reason: 'AI_TRADING_DISABLED' };
  if (ctx.hasOpenPosition) return { kind: 'SKIP', reason: 'POSITION_OPEN' };
  if (ctx.now < ctx.cooldownUntil) return { kind: 'SKIP', reason: 'COOLDOWN' };
  return { kind: 'ENTER', side, notional: targetNotional(signal.confidence, params) };
}
