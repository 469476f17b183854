import type { PositionSide, Signal } from './types.js';
import type { TradingParams } from './params.js';
import { type EntryContext, type SkipReason, decideEntry } from './decision.js';
import { type ExitDistances, type ExitSettings, entryExitDistances } from './exits.js';

/**
 * One pass of the symbol loop, without I/O: given what the loop knows and the signal of the last closed
 * candle, what to do. The symbol workflow runs each command as an activity (reserve in the risk book,
 * start a position workflow, journal the decision); the backtester runs the same pass over history
 * and checks the entry against its simulated book. Live and backtest therefore gate, time and size
 * an entry the same way.
 */
export interface LoopState {
  killed: boolean;
  /** QT_ENABLE_AI_TRADING: false keeps signals journaled but opens nothing. */
  aiTradingEnabled: boolean;
  hasOpenPosition: boolean;
  /** Epoch ms before which no new entry is allowed (0 = none). */
  cooldownUntil: number;
}

/** The signal of the last closed candle, as the strategy's scorer gave it. */
export interface LoopSignal {
  signal: Signal;
  confidence: number;
  /** Why the scorer forced HOLD (stale data, no model, ...); journaled with the decision. */
  holdReason?: string;
  /** ATR 14 / close of the signal's candle: the scale of ATR exits (core/exits.ts). */
  atrNorm?: number;
}

/**
 * Where the signal's candle sits in time. The live loop's signal service has judged it already (a
 * stale candle comes back as HOLD with its reason); the backtester passes it so the same rule holds.
 */
export interface CandleTiming {
  candleTime: number;
  intervalMs: number;
  /** A candle that closed longer ago than this is stale. */
  staleAfterMs: number;
}

export interface LoopInputs {
  signal: LoopSignal;
  params: Pick<TradingParams, 'confidenceThreshold' | 'minSizeFraction' | 'positionNotional'> & ExitSettings;
  timing?: CandleTiming;
}

export type LoopCommand =
  /**
   * Open a position (after the book-wide risk check, which needs every symbol's positions), with its
   * exit distances fixed now, from the signal's candle.
   */
  | { kind: 'ENTER'; side: PositionSide; notional: number; confidence: number; exits: ExitDistances }
  /** Nothing to trade: record why. NO_EXIT_DISTANCES: ATR exits and no ATR known for the signal's candle. */
  | { kind: 'JOURNAL_DECISION'; outcome: SkipReason | 'STALE_SIGNAL' | 'NO_EXIT_DISTANCES'; reason: string };

export function tick(state: LoopState, inputs: LoopInputs, now: number): { state: LoopState; commands: LoopCommand[] } {
  const { signal } = inputs;
  const stale = inputs.timing ? staleCandle(inputs.timing, now) : null;
  if (stale) return { state, commands: [{ kind: 'JOURNAL_DECISION', outcome: 'STALE_SIGNAL', reason: stale }] };
  const ctx: EntryContext = { now, ...state };
  const d = decideEntry(signal, ctx, inputs.params);
  if (d.kind === 'SKIP') return { state, commands: [{ kind: 'JOURNAL_DECISION', outcome: d.reason, reason: signal.holdReason ?? '' }] };
  const exits = entryExitDistances(inputs.params, signal.atrNorm);
  if (!exits) return { state, commands: [{ kind: 'JOURNAL_DECISION', outcome: 'NO_EXIT_DISTANCES', reason: `QT_EXIT_MODE=atr and no ATR for the signal's candle (${String(signal.atrNorm)})` }] };
  return { state, commands: [{ kind: 'ENTER', side: d.side, notional: d.notional, confidence: signal.confidence, exits }] };
}

/** The loop's state after its position closed at `at`: no entry until the cooldown has passed. */
export function positionClosed(state: LoopState, at: number, params: Pick<TradingParams, 'cooldownSeconds'>): LoopState {
  return { ...state, hasOpenPosition: false, cooldownUntil: at + params.cooldownSeconds * 1000 };
}

/**
 * Whether a signal could open a position at all, whatever the loop's state: a side, and confidence at
 * or above the threshold. The backtester uses it to skip candles where nothing can happen.
 */
export function couldEnter(signal: Signal, confidence: number, params: Pick<TradingParams, 'confidenceThreshold'>): boolean {
  return signal !== 'HOLD' && confidence >= params.confidenceThreshold;
}

/** Why the candle a signal was computed from cannot be traded at `now` (not closed yet, or stale), or null. */
export function staleCandle(t: CandleTiming, now: number): string | null {
  const closeTime = t.candleTime + t.intervalMs;
  if (closeTime > now) return `last candle ${new Date(t.candleTime).toISOString()} has not closed yet`;
  if (now - closeTime > t.staleAfterMs) return `stale data: last candle closed ${Math.round((now - closeTime) / 1000)} s ago`;
  return null;
}
