/** Shared vocabulary of the trading core. Pure data: safe inside Temporal workflows. */

export type Signal = 'BUY' | 'SELL' | 'HOLD';
export type PositionSide = 'LONG' | 'SHORT';
export type OrderSide = 'BUY' | 'SELL';

/** One kline. `openTime` is the candle's open time in ms UTC (the data files' `timestamp`). */
export interface Candle {
  openTime: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** Class order of every model's probability output. Changing it breaks every shipped model. */
export const SIGNAL_CLASSES: readonly Signal[] = ['HOLD', 'BUY', 'SELL'] as const;

/** A model's verdict for one symbol at one closed candle. */
export interface ScoredSignal {
  symbol: string;
  signal: Signal;
  /** Probability of `signal` (calibrated), 0..1. */
  confidence: number;
  probabilities: { HOLD: number; BUY: number; SELL: number };
  /** Open time of the last closed candle the features were computed from. */
  candleTime: number;
  /** Close of that candle: the reference price for sizing. */
  price: number;
  /** Which model produced it, e.g. "xgb-v1", "tft-v1", or "none" when forced to HOLD. */
  model: string;
  /** Why a signal was forced to HOLD (stale data, invalid features, no model). */
  holdReason?: string;
  /**
   * ATR 14 / close of that candle (feature atr_14_norm): the scale of the exit distances under
   * QT_EXIT_MODE=atr. Absent when it is not known (a HOLD, a scripted signal).
   */
  atrNorm?: number;
}

export type ExitReason =
  | 'TAKE_PROFIT'
  | 'STOP_LOSS'
  | 'TRAILING_STOP'
  | 'TIME_LIMIT'
  /** A strategy's own exit rule (strategies/<name>.ts `exits.custom`). */
  | 'STRATEGY_EXIT'
  | 'PROTECTIVE_STOP'
  | 'MANUAL'
  | 'KILL_FLATTEN'
  /** The exchange refused the protective stop, so the position was closed at once. */
  | 'PROTECTION_FAILED'
  /** Flat on the exchange without the agent's orders (closed by hand or liquidated). */
  | 'CLOSED_EXTERNALLY'
  /** Exposure nobody owned, closed by reconciliation (QT_ORPHAN_POLICY=flatten, or a kill with flatten). */
  | 'ORPHAN_FLATTEN'
  /** The journal row of a position whose workflow is gone, handed to the workflow that adopted its exposure. */
  | 'ADOPTED'
  /** Settled by reconciliation from the exchange's fills after the position's workflow was gone. */
  | 'RECONCILED';

export function sideForSignal(signal: Signal): PositionSide | null {
  if (signal === 'BUY') return 'LONG';
  if (signal === 'SELL') return 'SHORT';
  return null;
}

export function entryOrderSide(side: PositionSide): OrderSide {
  return side === 'LONG' ? 'BUY' : 'SELL';
}

export function exitOrderSide(side: PositionSide): OrderSide {
  return side === 'LONG' ? 'SELL' : 'BUY';
}

/** Quote asset of a USD-M symbol: the margin asset it settles in (USDT or USDC). */
export function quoteAsset(symbol: string): string {
  for (const q of ['USDT', 'USDC']) if (symbol.endsWith(q)) return q;
  throw new Error(`unsupported symbol ${symbol}: only USDT- and USDC-margined symbols are traded`);
}
