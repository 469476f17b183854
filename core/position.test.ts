import { describe, expect, it } from 'vitest';
import { DEFAULT_PARAMS } from './params.js';
import { candleCannotExit, openPosition, step } from './position.js';
import { entryFill, exitFill, grossPnl } from './costs.js';

const T0 = Date.UTC(2025, 8, 1);

describe('position step (core/position.ts)', () => {
  it('fires the standard exits as core/exits.ts does', () => {
    const p = openPosition('LONG', 100, T0);
    expect(step(p, 100.5, T0 + 1000, DEFAULT_PARAMS).commands).toEqual([]);
    expect(step(p, 98.9, T0 + 1000, DEFAULT_PARAMS).commands).toEqual([{ kind: 'EXIT', reason: 'STOP_LOSS', price: 98.9 }]);
    expect(step(p, 101.6, T0 + 1000, DEFAULT_PARAMS).commands).toEqual([{ kind: 'EXIT', reason: 'TAKE_PROFIT', price: 101.6 }]);
    expect(step(p, 100, T0 + DEFAULT_PARAMS.maxHoldSeconds * 1000, DEFAULT_PARAMS).commands[0]).toMatchObject({ reason: 'TIME_LIMIT' });
  });

  it("runs a strategy's custom exit after the standard ones, and then no candle is skipped", () => {
    const p = openPosition('SHORT', 100, T0);
    const custom = (v: { heldMs: number }) => v.heldMs >= 60_000;
    expect(step(p, 100, T0 + 59_999, DEFAULT_PARAMS, custom).commands).toEqual([]);
    expect(step(p, 100, T0 + 60_000, DEFAULT_PARAMS, custom).commands).toEqual([{ kind: 'EXIT', reason: 'STRATEGY_EXIT', price: 100 }]);
    expect(step(p, 101.1, T0 + 60_000, DEFAULT_PARAMS, custom).commands[0]).toMatchObject({ reason: 'STOP_LOSS' });
    const calm = { openTime: T0 + 300_000, open: 100, high: 100.1, low: 99.9, close: 100, volume: 1 };
    expect(candleCannotExit(p, calm, T0 + 600_000, DEFAULT_PARAMS)).toBe(true);
    expect(candleCannotExit(p, calm, T0 + 600_000, DEFAULT_PARAMS, custom)).toBe(false);
  });

  it('fills and fees: slippage against the order, taker fee on each leg', () => {
    const entry = entryFill('LONG', 100, 100);
    expect(entry.price).toBeCloseTo(100.02, 10);
    expect(entry.quantity).toBeCloseTo(100 / 100.02, 12);
    expect(entry.fee).toBeCloseTo(0.05, 12);
    const exit = exitFill('LONG', 110, entry.quantity);
    expect(exit.price).toBeCloseTo(109.978, 10);
    expect(grossPnl('LONG', entry.price, exit.price, entry.quantity)).toBeCloseTo((109.978 - 100.02) * entry.quantity, 10);
  });
});
