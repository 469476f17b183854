/**
 * The momentum baseline, shared in meaning with models/training/evaluation.py (MOMENTUM_Z there):
 * trade in the direction of the last 12 candles' move (1 h on 5 m klines) when it exceeds 1.5
 * standard deviations of 12-candle returns, estimated from the 48-candle volatility.
 */
export const MOMENTUM_Z = 1.5;

/** 0 = HOLD, 1 = BUY, 2 = SELL. */
export function momentumSignal(ret12: number, vol48: number, z: number = MOMENTUM_Z): number {
  const score = ret12 / (vol48 * Math.sqrt(12) + 1e-12);
  if (score > z) return 1;
  if (score < -z) return 2;
  return 0;
}
