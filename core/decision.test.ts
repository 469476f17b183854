import { describe, expect, it } from 'vitest';
import { decideEntry, type EntryContext } from './decision.js';
import { DEFAULT_PARAMS } from './params.js';
import { sizeFraction } from './sizing.js';
import { checkRisk, DEFAULT_RISK_LIMITS } from './risk.js';

const ctx: EntryContext = { now: 10_000, killed: false, aiTradingEnabled: true, hasOpenPosition: false, cooldownUntil: 0 };

describe('entry decision', () => {
  it('goes LONG on BUY and SHORT on SELL at or above the threshold', () => {
    expect(decideEntry({ signal: 'BUY', confidence: 0.55 }, ctx, DEFAULT_PARAMS)).toMatchObject({ kind: 'ENTER', side: 'LONG' });
    expect(decideEntry({ signal: 'SELL', confidence: 0.9 }, ctx, DEFAULT_PARAMS)).toMatchObject({ kind: 'ENTER', side: 'SHORT' });
  });

  it('never enters on HOLD, below threshold, or an invalid confidence', () => {
    expect(decideEntry({ signal: 'HOLD', confidence: 0.99 }, ctx, DEFAULT_PARAMS)).toEqual({ kind: 'SKIP', reason: 'HOLD' });
    expect(decideEntry({ signal: 'BUY', confidence: 0.5499 }, ctx, DEFAULT_PARAMS)).toEqual({ kind: 'SKIP', reason: 'BELOW_THRESHOLD' });
    expect(decideEntry({ signal: 'BUY', confidence: Number.NaN }, ctx, DEFAULT_PARAMS)).toEqual({ kind: 'SKIP', reason: 'INVALID_SIGNAL' });
    expect(decideEntry({ signal: 'BUY', confidence: 1.2 }, ctx, DEFAULT_PARAMS)).toEqual({ kind: 'SKIP', reason: 'INVALID_SIGNAL' });
  });

  it('respects kill, AI switch, open position and cooldown', () => {
    const buy = { signal: 'BUY' as const, confidence: 0.8 };
    expect(decideEntry(buy, { ...ctx, killed: true }, DEFAULT_PARAMS)).toEqual({ kind: 'SKIP', reason: 'KILLED' });
    expect(decideEntry(buy, { ...ctx, aiTradingEnabled: false }, DEFAULT_PARAMS)).toEqual({ kind: 'SKIP', reason: 'AI_TRADING_DISABLED' });
    expect(decideEntry(buy, { ...ctx, hasOpenPosition: true }, DEFAULT_PARAMS)).toEqual({ kind: 'SKIP', reason: 'POSITION_OPEN' });
    expect(decideEntry(buy, { ...ctx, cooldownUntil: 10_001 }, DEFAULT_PARAMS)).toEqual({ kind: 'SKIP', reason: 'COOLDOWN' });
    expect(decideEntry(buy, { ...ctx, cooldownUntil: 10_000 }, DEFAULT_PARAMS).kind).toBe('ENTER');
  });

  it('sizes by confidence: the minimum fraction at the threshold, full size at 1', () => {
    expect(sizeFraction(0.55, 0.55, 0.5)).toBe(0.5);
    expect(sizeFraction(1, 0.55, 0.5)).toBe(1);
    expect(sizeFraction(0.775, 0.55, 0.5)).toBeCloseTo(0.75, 12);
    expect(sizeFraction(0.54, 0.55, 0.5)).toBe(0);
    const d = decideEntry({ signal: 'BUY', confidence: 1 }, ctx, DEFAULT_PARAMS);
    expect(d).toMatchObject({ notional: DEFAULT_PARAMS.positionNotional });
  });
});

describe('risk rules', () => {
  const book = { globalKill: false, openPositions: [{ symbol: 'ETHUSDT', notional: 200 }], realizedPnlToday: -10 };
  const p = { symbol: 'BTCUSDT', notional: 100, leverage: 5 };

  it('approves an entry within every limit', () => {
    expect(checkRisk(p, book, DEFAULT_RISK_LIMITS)).toEqual({ approved: true });
  });

  it('rejects on the global kill, daily loss, leverage, position count, total and symbol exposure', () => {
    const rule = (v: ReturnType<typeof checkRisk>) => (v.approved ? 'OK' : v.rule);
    expect(rule(checkRisk(p, { ...book, globalKill: true }, DEFAULT_RISK_LIMITS))).toBe('GLOBAL_KILL');
    expect(rule(checkRisk(p, { ...book, realizedPnlToday: -100 }, DEFAULT_RISK_LIMITS))).toBe('DAILY_LOSS');
    expect(rule(checkRisk({ ...p, leverage: 11 }, book, DEFAULT_RISK_LIMITS))).toBe('LEVERAGE');
    expect(rule(checkRisk(p, book, { ...DEFAULT_RISK_LIMITS, maxOpenPositions: 1 }))).toBe('MAX_POSITIONS');
    expect(rule(checkRisk(p, book, { ...DEFAULT_RISK_LIMITS, maxTotalNotional: 299 }))).toBe('TOTAL_NOTIONAL');
    expect(rule(checkRisk({ ...p, symbol: 'ETHUSDT', notional: 60 }, book, { ...DEFAULT_RISK_LIMITS, maxSymbolNotional: 250 }))).toBe('SYMBOL_NOTIONAL');
  });
});
