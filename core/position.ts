import type { Candle, PositionSide } from './types.js';
import { type ExitRules, type ExitTracker, type ExitTrigger, newTracker, observePrice, trailingLevel } from './exits.js';

/**
 * One open position between two price observations: the exit rules of core/exits.ts (stop loss,
 * trailing stop, take profit, time limit) and a strategy's optional custom exit, as a pure step. The
 * position workflow's lifecycle (core/lifecycle-facts.ts), the backtester and the label builder all
 * step a position through here, so an exit fires at the same price and time in each.
 */
export type PositionState = ExitTracker;

/** What a strategy's custom exit sees at each observation. */
export interface PositionView {
  side: PositionSide;
  entryPrice: number;
  price: number;
  /** Best price since entry (highest for LONG, lowest for SHORT), before this observation. */
  bestPrice: number;
  heldMs: number;
}

/** A strategy's own exit rule: true closes the position at the observed price. Checked after the standard ones. */
export type CustomExit = (view: PositionView) => boolean;

export type PositionCommand = { kind: 'EXIT'; reason: ExitTrigger['reason'] | 'STRATEGY_EXIT'; price: number };

export const openPosition = newTracker;

export function step(
  state: PositionState,
  mark: number,
  now: number,
  rules: ExitRules,
  customExit?: CustomExit,
): { state: PositionState; commands: PositionCommand[] } {
  const r = observePrice(state, mark, now, rules);
  if (r.exit) return { state: r.tracker, commands: [{ kind: 'EXIT', reason: r.exit.reason, price: r.exit.price }] };
  if (customExit?.({ side: state.side, entryPrice: state.entryPrice, price: mark, bestPrice: state.bestPrice, heldMs: now - state.openedAt })) {
    return { state: r.tracker, commands: [{ kind: 'EXIT', reason: 'STRATEGY_EXIT', price: mark }] };
  }
  return { state: r.tracker, commands: [] };
}

/**
 * Whether no price inside a candle spanning [low, high] can fire a standard exit or arm the trail.
 * Exact shortcut: while the trail is unarmed the best price matters to nothing, and once it arms the
 * best price exceeds every price of a skipped candle, so skipping its update is harmless.
 */
export function quietCandle(side: PositionSide, entry: number, c: Candle, rules: ExitRules, armed: boolean): boolean {
  if (armed) return false;
  const arm = rules.trailingActivationPct / 100;
  if (side === 'LONG') {
    return c.high / entry - 1 < arm && c.high < entry * (1 + rules.takeProfitPct / 100) && c.low > entry * (1 - rules.stopLossPct / 100);
  }
  return 1 - c.low / entry < arm && c.low > entry * (1 - rules.takeProfitPct / 100) && c.high < entry * (1 + rules.stopLossPct / 100);
}

/**
 * Whether a whole candle can be skipped for an open position: no standard exit can fire inside it,
 * the time limit lies beyond its last tick, and there is no custom exit (which may look at any price).
 */
export function candleCannotExit(state: PositionState, candle: Candle, lastTickTime: number, rules: ExitRules, customExit?: CustomExit): boolean {
  if (customExit) return false;
  return lastTickTime - state.openedAt < rules.maxHoldSeconds * 1000 &&
    quietCandle(state.side, state.entryPrice, candle, rules, trailingLevel(state, rules) !== null);
}
