import type { Candle, ExitReason, PositionSide } from './types.js';
import type { TradingParams } from './params.js';
import { type ExitRules, type ExitSettings, entryExitDistances, positionRules } from './exits.js';
import { type CustomExit, candleCannotExit, openPosition, step } from './position.js';
import { type IntrabarMode, positionPath } from './intrabar.js';
import { DEFAULT_SLIPPAGE_BPS, TAKER_FEE_RATE, entryFill, exitFill, netReturn } from './costs.js';


/**
 * Triple-barrier labels that follow the agent's own exits: a trade entered at the next candle's open
 * (MARKET, with slippage and taker fee), then walked along the same intrabar path the replay feed and
 * the backtester use, at the loop's resolution, through core/exits.ts until take-profit, stop-loss,
 * trailing stop or the time limit, and closed with slippage and a second taker fee.
 *
 * Label classes follow SIGNAL_CLASSES: 0 = HOLD, 1 = BUY, 2 = SELL, and -1 where the future needed to
 * settle the trade is not in the data (end of series or a gap): such rows are not training rows.
 */
export const LABEL_HOLD = 0;
export const LABEL_BUY = 1;
export const LABEL_SELL = 2;
export const LABEL_UNKNOWN = -1;

export interface TradeCosts {
  /** Sampling step of the intrabar path, ms (the symbol loop's 15 s). */
  stepMs: number;
  feeRate: number;
  slippageBps: number;
}

export const DEFAULT_TRADE_COSTS: TradeCosts = { stepMs: 15_000, feeRate: TAKER_FEE_RATE, slippageBps: DEFAULT_SLIPPAGE_BPS };

export interface TradeOutcome {
  side: PositionSide;
  entryPrice: number;
  exitPrice: number;
  exitTime: number;
  reason: ExitReason;
  /** Net return on notional after both fee legs and slippage (0.01 = 1 %). */
  netReturn: number;
}

/**
 * Simulate a trade entered at the open of `candles[entryIndex]` with the position's own `rules`
 * (core/exits.ts positionRules), walking each candle's path under `intrabar`. Returns null when the
 * data ends or has a gap before the trade settles.
 */
export function simulateTrade(
  candles: readonly Candle[],
  entryIndex: number,
  side: PositionSide,
  rules: ExitRules,
  intervalMs: number,
  costs: TradeCosts = DEFAULT_TRADE_COSTS,
  customExit?: CustomExit,
  intrabar: IntrabarMode = 'path',
): TradeOutcome | null {
  const first = candles[entryIndex];
  if (!first) return null;
  const ticks = Math.max(1, Math.round(intervalMs / costs.stepMs));
  // Quantity does not matter to a return: a unit notional.
  const entryPrice = entryFill(side, first.open, 1, costs).price;
  let position = openPosition(side, entryPrice, first.openTime);
  for (let i = entryIndex; i < candles.length; i++) {
    const c = candles[i]!;
    if (i > entryIndex && c.openTime - candles[i - 1]!.openTime !== intervalMs) return null;
    if (candleCannotExit(position, c, c.openTime + (ticks - 1) * costs.stepMs, rules, customExit)) continue;
    // The replay feed samples ticks 0..ticks-1 of a path whose last point (the close) is the next open.
    const path = positionPath(c, ticks + 1, side, intrabar);
    for (let k = i === entryIndex ? 1 : 0; k < ticks; k++) {
      const r = step(position, path[k]!, c.openTime + k * costs.stepMs, rules, customExit);
      position = r.state;
      const exit = r.commands[0];
      if (exit) {
        const exitPrice = exitFill(side, exit.price, 1, costs).price;
        return {
          side, entryPrice, exitPrice, exitTime: c.openTime + k * costs.stepMs, reason: exit.reason,
          netReturn: netReturn(side, entryPrice, exitPrice, costs.feeRate),
        };
      }
    }
  }
  return null;
}

/** How far past a candle's close a label looks: one candle to the entry plus the time limit. */
export function labelHorizonMs(params: Pick<TradingParams, 'maxHoldSeconds'>, intervalMs: number): number {
  return intervalMs + params.maxHoldSeconds * 1000;
}

export interface Labels {
  /** Per candle: LABEL_HOLD / LABEL_BUY / LABEL_SELL, or LABEL_UNKNOWN. */
  labels: Int8Array;
  /** Net return of a LONG / SHORT entered at the next open (NaN where unknown). */
  longReturn: Float32Array;
  shortReturn: Float32Array;
}

/** How labels walk a candle, and (for `QT_EXIT_MODE=atr`) each candle's ATR 14 / close. */
export interface LabelOptions {
  intrabar?: IntrabarMode;
  /** `atr_14_norm` of every candle (core/features.ts), aligned with the candles; NaN in warm-up. */
  atrNorm?: ArrayLike<number>;
}

/**
 * Label every candle t of a contiguous series: simulate a LONG and a SHORT entered at candle t+1's
 * open, with exit distances fixed from candle t (core/exits.ts entryExitDistances, as the agent and
 * the backtester fix them). BUY when the long nets > 0 after costs and beats the short, SELL
 * symmetrically, else HOLD. In ATR mode a candle without a known ATR is unknown.
 */
export function tripleBarrierLabels(
  candles: readonly Candle[],
  settings: ExitSettings,
  intervalMs: number,
  costs: TradeCosts = DEFAULT_TRADE_COSTS,
  options: LabelOptions = {},
): Labels {
  const n = candles.length;
  const labels = new Int8Array(n).fill(LABEL_UNKNOWN);
  const longReturn = new Float32Array(n).fill(NaN);
  const shortReturn = new Float32Array(n).fill(NaN);
  const intrabar = options.intrabar ?? 'path';
  for (let t = 0; t + 1 < n; t++) {
    if (candles[t + 1]!.openTime - candles[t]!.openTime !== intervalMs) continue;
    const distances = entryExitDistances(settings, options.atrNorm?.[t]);
    if (!distances) continue;
    const rules = positionRules(settings, distances);
    const long = simulateTrade(candles, t + 1, 'LONG', rules, intervalMs, costs, undefined, intrabar);
    const short = simulateTrade(candles, t + 1, 'SHORT', rules, intervalMs, costs, undefined, intrabar);
    if (!long || !short) continue;
    longReturn[t] = long.netReturn;
    shortReturn[t] = short.netReturn;
    labels[t] = classify(long.netReturn, short.netReturn);
  }
  return { labels, longReturn, shortReturn };
}

export function classify(longNet: number, shortNet: number): number {
  if (longNet > 0 && longNet > shortNet) return LABEL_BUY;
  if (shortNet > 0 && shortNet > longNet) return LABEL_SELL;
  return LABEL_HOLD;
}
