import type { ExitReason, PositionSide } from './types.js';
import { DEFAULT_PARAMS, type TradingParams, exitModeOf } from './params.js';

/** The rules one position is stepped by: its four distances in percent of entry, and the time limit. */
export type ExitRules = Pick<
  TradingParams,
  'takeProfitPct' | 'stopLossPct' | 'trailingStopPct' | 'trailingActivationPct' | 'maxHoldSeconds'
>;

/** A position's four exit distances, percent of its entry price, fixed when it is entered. */
export type ExitDistances = Pick<ExitRules, 'takeProfitPct' | 'stopLossPct' | 'trailingStopPct' | 'trailingActivationPct'>;

/** How the exits are configured: the mode, the percentages and the ATR multiples (QT_EXIT_MODE and friends). */
export type ExitSettings = ExitRules &
  Partial<Pick<TradingParams, 'exitMode' | 'takeProfitAtr' | 'stopLossAtr' | 'trailingStopAtr' | 'trailingActivationAtr'>>;

/**
 * The exit distances of a position entered on a decision candle whose ATR 14 / close (feature
 * `atr_14_norm` of core/features.ts) is `atrNorm`: the percentages in `percent` mode, the ATR
 * multiples times `atrNorm` in `atr` mode. Null in `atr` mode without a usable ATR: no entry then,
 * since a position without known exits must not be opened. The live entry, the backtester and the
 * label builder all take a position's distances from here, once, at entry.
 */
export function entryExitDistances(settings: ExitSettings, atrNorm: number | undefined): ExitDistances | null {
  if (exitModeOf(settings) === 'percent') {
    const { takeProfitPct, stopLossPct, trailingStopPct, trailingActivationPct } = settings;
    return { takeProfitPct, stopLossPct, trailingStopPct, trailingActivationPct };
  }
  if (atrNorm === undefined || !Number.isFinite(atrNorm) || atrNorm <= 0) return null;
  // Parameters recorded before the ATR multiples existed take their defaults.
  const pct = (key: 'takeProfitAtr' | 'stopLossAtr' | 'trailingStopAtr' | 'trailingActivationAtr') => (settings[key] ?? DEFAULT_PARAMS[key]) * atrNorm * 100;
  return {
    takeProfitPct: pct('takeProfitAtr'),
    stopLossPct: pct('stopLossAtr'),
    trailingStopPct: pct('trailingStopAtr'),
    trailingActivationPct: pct('trailingActivationAtr'),
  };
}

/**
 * The rules of one position: the configured time limit with the distances fixed at its entry (if any).
 * Exactly the rule fields, never the rest of the settings, so it can travel as an activity's input.
 */
export function positionRules(settings: ExitRules, distances?: ExitDistances | null): ExitRules {
  const { takeProfitPct, stopLossPct, trailingStopPct, trailingActivationPct, maxHoldSeconds } = settings;
  return { takeProfitPct, stopLossPct, trailingStopPct, trailingActivationPct, maxHoldSeconds, ...distances };
}

/** What an open position remembers between price observations. Plain JSON (workflow state). */
export interface ExitTracker {
  side: PositionSide;
  entryPrice: number;
  openedAt: number;
  /** Best price seen since entry: highest for LONG, lowest for SHORT. */
  bestPrice: number;
}

export interface ExitLevels {
  takeProfit: number;
  stopLoss: number;
}

export interface ExitTrigger {
  reason: Extract<ExitReason, 'TAKE_PROFIT' | 'STOP_LOSS' | 'TRAILING_STOP' | 'TIME_LIMIT'>;
  /** The observed price that triggered the exit. */
  price: number;
}

export function newTracker(side: PositionSide, entryPrice: number, openedAt: number): ExitTracker {
  return { side, entryPrice, openedAt, bestPrice: entryPrice };
}

/** Fixed take-profit and stop-loss prices (the stop is also placed on the exchange). */
export function exitLevels(side: PositionSide, entryPrice: number, rules: Pick<ExitRules, 'takeProfitPct' | 'stopLossPct'>): ExitLevels {
  const tp = rules.takeProfitPct / 100;
  const sl = rules.stopLossPct / 100;
  return side === 'LONG'
    ? { takeProfit: entryPrice * (1 + tp), stopLoss: entryPrice * (1 - sl) }
    : { takeProfit: entryPrice * (1 - tp), stopLoss: entryPrice * (1 + sl) };
}

/** The trailing stop price, or null while the trail has not armed yet. */
export function trailingLevel(t: ExitTracker, rules: ExitRules): number | null {
  const favourable = t.side === 'LONG' ? t.bestPrice / t.entryPrice - 1 : 1 - t.bestPrice / t.entryPrice;
  if (favourable < rules.trailingActivationPct / 100) return null;
  const d = rules.trailingStopPct / 100;
  return t.side === 'LONG' ? t.bestPrice * (1 - d) : t.bestPrice * (1 + d);
}

/**
 * Feed one price observation. Returns the updated tracker and, if an exit condition holds, the
 * trigger. Checks run worst-case first (stop loss, then trailing, then take profit) so an ambiguous
 * observation is never booked optimistically. The trailing level uses the best price *before* this
 * observation, so one print cannot both arm and fire the trail.
 */
export function observePrice(
  t: ExitTracker,
  price: number,
  now: number,
  rules: ExitRules,
): { tracker: ExitTracker; exit: ExitTrigger | null } {
  const { takeProfit, stopLoss } = exitLevels(t.side, t.entryPrice, rules);
  const long = t.side === 'LONG';
  const trail = trailingLevel(t, rules);
  const better = long ? price > t.bestPrice : price < t.bestPrice;
  const tracker = better ? { ...t, bestPrice: price } : t;

  let exit: ExitTrigger | null = null;
  if (long ? price <= stopLoss : price >= stopLoss) exit = { reason: 'STOP_LOSS', price };
  else if (trail !== null && (long ? price <= trail : price >= trail)) exit = { reason: 'TRAILING_STOP', price };
  else if (long ? price >= takeProfit : price <= takeProfit) exit = { reason: 'TAKE_PROFIT', price };
  else if (now - t.openedAt >= rules.maxHoldSeconds * 1000) exit = { reason: 'TIME_LIMIT', price };
  return { tracker, exit };
}
