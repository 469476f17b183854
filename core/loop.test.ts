import { describe, expect, it } from 'vitest';
import { DEFAULT_PARAMS } from './params.js';
import { type LoopState, couldEnter, positionClosed, staleCandle, tick } from './loop.js';

const FLAT: LoopState = { killed: false, aiTradingEnabled: true, hasOpenPosition: false, cooldownUntil: 0 };
const MIN5 = 300_000;
const NOW = Date.UTC(2025, 8, 1, 12, 0, 30);

describe('symbol loop pass (core/loop.ts)', () => {
  it('enters with the side and a confidence-sized notional', () => {
    const { commands } = tick(FLAT, { signal: { signal: 'SELL', confidence: 1 }, params: DEFAULT_PARAMS }, NOW);
    const percent = { takeProfitPct: 1.5, stopLossPct: 1, trailingStopPct: 0.6, trailingActivationPct: 0.8 };
    expect(commands).toEqual([{ kind: 'ENTER', side: 'SHORT', notional: DEFAULT_PARAMS.positionNotional, confidence: 1, exits: percent }]);
    const half = tick(FLAT, { signal: { signal: 'BUY', confidence: DEFAULT_PARAMS.confidenceThreshold }, params: DEFAULT_PARAMS }, NOW).commands[0];
    expect(half).toMatchObject({ kind: 'ENTER', side: 'LONG', notional: DEFAULT_PARAMS.positionNotional * DEFAULT_PARAMS.minSizeFraction });
  });

  it('fixes ATR exits from the signal\'s candle, and enters nothing without its ATR', () => {
    const params = { ...DEFAULT_PARAMS, exitMode: 'atr' as const };
    const enter = tick(FLAT, { signal: { signal: 'BUY', confidence: 0.9, atrNorm: 0.005 }, params }, NOW).commands[0];
    expect(enter).toMatchObject({ kind: 'ENTER', side: 'LONG' });
    const exits = (enter as { exits: Record<string, number> }).exits;
    expect(exits.takeProfitPct).toBeCloseTo(3 * 0.5, 12);
    expect(exits.stopLossPct).toBeCloseTo(2 * 0.5, 12);
    expect(exits.trailingStopPct).toBeCloseTo(1.2 * 0.5, 12);
    expect(exits.trailingActivationPct).toBeCloseTo(1.6 * 0.5, 12);
    for (const atrNorm of [undefined, NaN, 0]) {
      expect(tick(FLAT, { signal: { signal: 'BUY', confidence: 0.9, atrNorm }, params }, NOW).commands[0]).toMatchObject({ kind: 'JOURNAL_DECISION', outcome: 'NO_EXIT_DISTANCES' });
    }
  });

  it('journals why it does not enter: hold (with the scorer reason), threshold, kill, AI off, position, cooldown', () => {
    const skip = (state: Partial<LoopState>, signal: { signal: 'BUY' | 'HOLD'; confidence: number; holdReason?: string }) =>
      tick({ ...FLAT, ...state }, { signal, params: DEFAULT_PARAMS }, NOW).commands;
    expect(skip({}, { signal: 'HOLD', confidence: 1, holdReason: 'no model loaded' })).toEqual([{ kind: 'JOURNAL_DECISION', outcome: 'HOLD', reason: 'no model loaded' }]);
    expect(skip({}, { signal: 'BUY', confidence: 0.5 })[0]).toMatchObject({ outcome: 'BELOW_THRESHOLD' });
    expect(skip({ killed: true }, { signal: 'BUY', confidence: 0.9 })[0]).toMatchObject({ outcome: 'KILLED' });
    expect(skip({ aiTradingEnabled: false }, { signal: 'BUY', confidence: 0.9 })[0]).toMatchObject({ outcome: 'AI_TRADING_DISABLED' });
    expect(skip({ hasOpenPosition: true }, { signal: 'BUY', confidence: 0.9 })[0]).toMatchObject({ outcome: 'POSITION_OPEN' });
    expect(skip({ cooldownUntil: NOW + 1 }, { signal: 'BUY', confidence: 0.9 })[0]).toMatchObject({ outcome: 'COOLDOWN' });
    expect(skip({ cooldownUntil: NOW }, { signal: 'BUY', confidence: 0.9 })[0]).toMatchObject({ kind: 'ENTER' });
  });

  it('a closed position starts the cooldown from its exit', () => {
    const s = positionClosed({ ...FLAT, hasOpenPosition: true }, NOW, { cooldownSeconds: 180 });
    expect(s).toEqual({ ...FLAT, cooldownUntil: NOW + 180_000 });
    expect(tick(s, { signal: { signal: 'BUY', confidence: 0.9 }, params: DEFAULT_PARAMS }, NOW + 179_999).commands[0]).toMatchObject({ outcome: 'COOLDOWN' });
  });

  it('refuses a candle that has not closed or closed too long ago', () => {
    const closedAt = Date.UTC(2025, 8, 1, 12);
    const timing = { candleTime: closedAt - MIN5, intervalMs: MIN5, staleAfterMs: 2 * MIN5 };
    expect(staleCandle(timing, closedAt)).toBeNull();
    expect(staleCandle(timing, closedAt + 2 * MIN5)).toBeNull();
    expect(staleCandle(timing, closedAt + 2 * MIN5 + 1)).toMatch(/stale data/);
    expect(staleCandle(timing, closedAt - 1)).toMatch(/has not closed yet/);
    const stale = tick(FLAT, { signal: { signal: 'BUY', confidence: 0.9 }, params: DEFAULT_PARAMS, timing }, closedAt + 3 * MIN5).commands[0];
    expect(stale).toMatchObject({ kind: 'JOURNAL_DECISION', outcome: 'STALE_SIGNAL' });
  });

  it('couldEnter is the state-free part of the rule', () => {
    expect(couldEnter('BUY', 0.55, DEFAULT_PARAMS)).toBe(true);
    expect(couldEnter('BUY', 0.549, DEFAULT_PARAMS)).toBe(false);
    expect(couldEnter('HOLD', 1, DEFAULT_PARAMS)).toBe(false);
  });
});
