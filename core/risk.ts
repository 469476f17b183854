/** Book-wide limits, checked before every entry. Amounts are in the quote asset. */
export interface RiskLimits {
  maxOpenPositions: number;
  maxTotalNotional: number;
  maxSymbolNotional: number;
  /** Realized loss (net of fees) in the venue's current UTC day at which new entries halt; a positive number. */
  dailyLossLimit: number;
  maxLeverage: number;
  /** Hard cap on one entry order's notional, whatever the sizing asks for. */
  maxOrderNotional: number;
}

export const DEFAULT_RISK_LIMITS: RiskLimits = {
  maxOpenPositions: 10,
  maxTotalNotional: 5_000,
  maxSymbolNotional: 500,
  dailyLossLimit: 100,
  maxLeverage: 10,
  maxOrderNotional: 1_000,
};

export interface BookSnapshot {
  globalKill: boolean;
  openPositions: { symbol: string; notional: number }[];
  /** Realized P&L of the venue's current UTC day, fees included (negative = loss). */
  realizedPnlToday: number;
}

export interface EntryProposal {
  symbol: string;
  notional: number;
  leverage: number;
}

export type RiskVerdict = { approved: true } | { approved: false; rule: string; detail: string };

export function checkRisk(p: EntryProposal, book: BookSnapshot, limits: RiskLimits): RiskVerdict {
  const reject = (rule: string, detail: string): RiskVerdict => ({ approved: false, rule, detail });
  // Hard caps first: a malformed or oversized order is refused whatever the book holds.
  if (!Number.isFinite(p.notional) || p.notional <= 0) return reject('INVALID_ORDER', `notional ${p.notional} is not a positive number`);
  if (p.notional > limits.maxOrderNotional) return reject('ORDER_NOTIONAL', `order notional ${p.notional.toFixed(2)} above cap ${limits.maxOrderNotional}`);
  if (!Number.isInteger(p.leverage) || p.leverage < 1) return reject('LEVERAGE', `leverage ${p.leverage} is not a positive integer`);
  if (book.globalKill) return reject('GLOBAL_KILL', 'global kill switch is on');
  if (-book.realizedPnlToday >= limits.dailyLossLimit)
    return reject('DAILY_LOSS', `realized today ${book.realizedPnlToday.toFixed(2)} breaches the daily loss limit ${limits.dailyLossLimit}`);
  if (p.leverage > limits.maxLeverage) return reject('LEVERAGE', `leverage ${p.leverage} above cap ${limits.maxLeverage}`);
  if (book.openPositions.length >= limits.maxOpenPositions)
    return reject('MAX_POSITIONS', `${book.openPositions.length} positions open, limit ${limits.maxOpenPositions}`);
  const total = book.openPositions.reduce((s, x) => s + x.notional, 0);
  if (total + p.notional > limits.maxTotalNotional)
    return reject('TOTAL_NOTIONAL', `exposure ${total.toFixed(2)} + ${p.notional.toFixed(2)} above ${limits.maxTotalNotional}`);
  const mine = book.openPositions.filter((x) => x.symbol === p.symbol).reduce((s, x) => s + x.notional, 0);
  if (mine + p.notional > limits.maxSymbolNotional)
    return reject('SYMBOL_NOTIONAL', `${p.symbol} exposure ${(mine + p.notional).toFixed(2)} above ${limits.maxSymbolNotional}`);
  return { approved: true };
}
