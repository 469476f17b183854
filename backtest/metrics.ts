import type { BacktesterResult, Trade } from './backtester.js';

export interface TradeStats {
  trades: number;
  winRate: number;
  netPnl: number;
  fees: number;
  /** Gross profit of winners over gross loss of losers (Infinity with no losers, 0 with no trades). */
  profitFactor: number;
  /** Mean net P&L per trade, quote asset. */
  expectancy: number;
  /** Mean net return per trade on its notional (size-independent), e.g. -0.001 = -0.1 %. */
  meanReturn: number;
  /** Fraction of the simulated time with a position open. */
  exposure: number;
}

export interface PortfolioStats extends TradeStats {
  /** Annualised (x sqrt 365) from daily P&L over the starting capital. */
  sharpe: number;
  sortino: number;
  /** Largest fall of equity from a peak, quote asset, and as a fraction of capital + peak. */
  maxDrawdown: number;
  maxDrawdownPct: number;
  finalEquity: number;
}

export function tradeStats(trades: readonly Trade[], exposedSteps: number, totalSteps: number): TradeStats {
  let wins = 0;
  let gain = 0;
  let loss = 0;
  let fees = 0;
  let ret = 0;
  for (const t of trades) {
    if (t.pnl > 0) {
      wins++;
      gain += t.pnl;
    } else loss -= t.pnl;
    fees += t.fees;
    ret += t.pnl / t.notional;
  }
  const n = trades.length;
  return {
    trades: n,
    winRate: n ? wins / n : 0,
    netPnl: gain - loss,
    fees,
    profitFactor: n === 0 ? 0 : loss === 0 ? Infinity : gain / loss,
    expectancy: n ? (gain - loss) / n : 0,
    meanReturn: n ? ret / n : 0,
    exposure: totalSteps ? exposedSteps / totalSteps : 0,
  };
}

export function portfolioStats(r: BacktesterResult, capital: number): PortfolioStats {
  const base = tradeStats(r.trades, r.exposedSteps, r.times.length);
  const daily = dailyReturns(r, capital);
  const mean = daily.reduce((s, x) => s + x, 0) / (daily.length || 1);
  const sd = Math.sqrt(daily.reduce((s, x) => s + (x - mean) ** 2, 0) / Math.max(1, daily.length - 1));
  const downside = Math.sqrt(daily.reduce((s, x) => s + Math.min(0, x) ** 2, 0) / Math.max(1, daily.length));
  let peak = 0;
  let maxDd = 0;
  let maxDdPct = 0;
  for (const e of r.equity) {
    peak = Math.max(peak, e);
    const dd = peak - e;
    if (dd > maxDd) maxDd = dd;
    maxDdPct = Math.max(maxDdPct, dd / (capital + peak));
  }
  const annual = Math.sqrt(365);
  return {
    ...base,
    sharpe: sd > 0 ? (mean / sd) * annual : 0,
    sortino: downside > 0 ? (mean / downside) * annual : 0,
    maxDrawdown: maxDd,
    maxDrawdownPct: maxDdPct,
    finalEquity: capital + (r.equity[r.equity.length - 1] ?? 0),
  };
}

/**
 * Daily P&L (change of marked-to-market equity between UTC day ends) over the starting capital. A
 * fixed base, because position sizes do not scale with equity: dividing by a shrinking equity would
 * blow returns up as the account nears zero.
 */
function dailyReturns(r: BacktesterResult, capital: number): number[] {
  const out: number[] = [];
  let dayStart = 0;
  let day = r.times.length ? Math.floor(r.times[0]! / 86_400_000) : 0;
  let last = 0;
  for (let i = 0; i < r.times.length; i++) {
    const d = Math.floor(r.times[i]! / 86_400_000);
    if (d !== day) {
      out.push((last - dayStart) / capital);
      dayStart = last;
      day = d;
    }
    last = r.equity[i]!;
  }
  if (r.times.length) out.push((last - dayStart) / capital);
  return out;
}

/** Per-symbol trade statistics (exposure per symbol from the engine's step counts). */
export function symbolStats(r: BacktesterResult, symbols: string[]): Record<string, TradeStats> {
  const by = new Map<string, Trade[]>(symbols.map((s) => [s, []]));
  for (const t of r.trades) by.get(t.symbol)!.push(t);
  const out: Record<string, TradeStats> = {};
  symbols.forEach((s, i) => (out[s] = tradeStats(by.get(s)!, r.symbolExposedSteps[i]!, r.times.length)));
  return out;
}
