import type { PositionSide } from './types.js';
import { entryOrderSide, exitOrderSide } from './types.js';

/**
 * The one fill and fee model, shared by the local exchange's matching engine, the backtester and the
 * label builder, so paper, backtest and training all charge the same. Binance USD-M base tier.
 */
export const TAKER_FEE_RATE = 0.0005;
export const MAKER_FEE_RATE = 0.0002;
/** Adverse slippage applied to every MARKET fill, in basis points of price. */
export const DEFAULT_SLIPPAGE_BPS = 2;
/** Funding is settled at 00:00, 08:00 and 16:00 UTC. */
export const FUNDING_INTERVAL_MS = 8 * 60 * 60 * 1000;

/** How a MARKET order fills: adverse slippage on the price, a taker fee on the filled notional. */
export interface FillModel {
  slippageBps: number;
  feeRate: number;
}

export const DEFAULT_FILL_MODEL: FillModel = { slippageBps: DEFAULT_SLIPPAGE_BPS, feeRate: TAKER_FEE_RATE };

/** Price of a MARKET fill after adverse slippage: buyers pay up, sellers receive less. */
export function slippedPrice(price: number, orderSide: 'BUY' | 'SELL', slippageBps = DEFAULT_SLIPPAGE_BPS): number {
  const f = slippageBps / 10_000;
  return orderSide === 'BUY' ? price * (1 + f) : price * (1 - f);
}

/** Fee of one fill, in quote asset. */
export function fillFee(fillPrice: number, quantity: number, feeRate = TAKER_FEE_RATE): number {
  return fillPrice * quantity * feeRate;
}

/** Realized P&L of a closed round trip, before fees. Positive is profit, in quote asset. */
export function grossPnl(side: PositionSide, entryPrice: number, exitPrice: number, quantity: number): number {
  const move = exitPrice - entryPrice;
  return (side === 'LONG' ? move : -move) * quantity;
}

export interface Fill {
  price: number;
  quantity: number;
  fee: number;
}

/** Opening a position of `notional` with a MARKET order at `price`. */
export function entryFill(side: PositionSide, price: number, notional: number, model: FillModel = DEFAULT_FILL_MODEL): Fill {
  const fillPrice = slippedPrice(price, entryOrderSide(side), model.slippageBps);
  const quantity = notional / fillPrice;
  return { price: fillPrice, quantity, fee: fillFee(fillPrice, quantity, model.feeRate) };
}

/** Closing `quantity` of a position with a MARKET order at `price`. */
export function exitFill(side: PositionSide, price: number, quantity: number, model: FillModel = DEFAULT_FILL_MODEL): Fill {
  const fillPrice = slippedPrice(price, exitOrderSide(side), model.slippageBps);
  return { price: fillPrice, quantity, fee: fillFee(fillPrice, quantity, model.feeRate) };
}

/** Net return of a round trip per unit of entry notional, both fills already slipped. */
export function netReturn(side: PositionSide, entryFillPrice: number, exitFillPrice: number, feeRate: number): number {
  const move = side === 'LONG' ? exitFillPrice - entryFillPrice : entryFillPrice - exitFillPrice;
  return (move - feeRate * (entryFillPrice + exitFillPrice)) / entryFillPrice;
}
