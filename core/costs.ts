/**
 * Trading costs shared by the local exchange, the backtester and the label builder, so paper,
 * backtest and training all charge the same. Binance USD-M base tier.
 */
export const TAKER_FEE_RATE = 0.0005;
export const MAKER_FEE_RATE = 0.0002;
/** Adverse slippage applied to every MARKET fill, in basis points of price. */
export const DEFAULT_SLIPPAGE_BPS = 2;
/** Funding is settled at 00:00, 08:00 and 16:00 UTC. */
export const FUNDING_INTERVAL_MS = 8 * 60 * 60 * 1000;

/** Price of a MARKET fill after adverse slippage: buyers pay up, sellers receive less. */
export function slippedPrice(price: number, orderSide: 'BUY' | 'SELL', slippageBps = DEFAULT_SLIPPAGE_BPS): number {
  const f = slippageBps / 10_000;
  return orderSide === 'BUY' ? price * (1 + f) : price * (1 - f);
}

/** Realized P&L of a closed round trip, before fees. Positive is profit, in quote asset. */
export function grossPnl(side: 'LONG' | 'SHORT', entryPrice: number, exitPrice: number, quantity: number): number {
  const move = exitPrice - entryPrice;
  return (side === 'LONG' ? move : -move) * quantity;
}
