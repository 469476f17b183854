import { describe, expect, it } from 'vitest';
import { exitLevels, newTracker, observePrice, trailingLevel, type ExitRules } from './exits.js';

const rules: ExitRules = { takeProfitPct: 1.5, stopLossPct: 1, trailingStopPct: 0.5, trailingActivationPct: 0.8, maxHoldSeconds: 3600 };

function walk(side: 'LONG' | 'SHORT', prices: number[], startMs = 0, stepMs = 1000) {
  let t = newTracker(side, 100, startMs);
  for (let i = 0; i < prices.length; i++) {
    const r = observePrice(t, prices[i]!, startMs + (i + 1) * stepMs, rules);
    t = r.tracker;
    if (r.exit) return { ...r.exit, at: i };
  }
  return null;
}

describe('exit rules', () => {
  it('places take profit and stop loss on the right side for each direction', () => {
    const long = exitLevels('LONG', 100, rules);
    const short = exitLevels('SHORT', 100, rules);
    expect([long.takeProfit, long.stopLoss, short.takeProfit, short.stopLoss].map((x) => +x.toFixed(10))).toEqual([101.5, 99, 98.5, 101]);
  });

  it('exits a LONG at take profit and a SHORT at take profit', () => {
    expect(walk('LONG', [100.5, 101.2, 101.5])).toEqual({ reason: 'TAKE_PROFIT', price: 101.5, at: 2 });
    expect(walk('SHORT', [99.5, 98.4])).toEqual({ reason: 'TAKE_PROFIT', price: 98.4, at: 1 });
  });

  it('exits at the stop loss and never books an ambiguous print optimistically', () => {
    expect(walk('LONG', [99.5, 98.9])).toEqual({ reason: 'STOP_LOSS', price: 98.9, at: 1 });
    expect(walk('SHORT', [101.01])).toEqual({ reason: 'STOP_LOSS', price: 101.01, at: 0 });
  });

  it('arms the trail only after the activation move and fires on the pull-back', () => {
    // +0.7 % does not arm; a pull-back from there is not a trailing exit.
    expect(walk('LONG', [100.7, 100.3, 100.1])).toBeNull();
    // +1.2 % arms; trail = 101.2 * 0.995 = 100.694
    const r = walk('LONG', [100.9, 101.2, 100.8, 100.69]);
    expect(r).toEqual({ reason: 'TRAILING_STOP', price: 100.69, at: 3 });
  });

  it('trails a SHORT from its lowest price', () => {
    let t = newTracker('SHORT', 100, 0);
    t = observePrice(t, 98.9, 1, rules).tracker;
    expect(trailingLevel(t, rules)).toBeCloseTo(98.9 * 1.005, 10);
    expect(observePrice(t, 99.4, 2, rules).exit?.reason).toBe('TRAILING_STOP');
  });

  it('one print cannot both arm and fire the trail', () => {
    const t = newTracker('LONG', 100, 0);
    expect(observePrice(t, 101.2, 1, rules).exit).toBeNull();
  });

  it('closes at the time limit', () => {
    const t = newTracker('LONG', 100, 0);
    expect(observePrice(t, 100.1, 3_599_999, rules).exit).toBeNull();
    expect(observePrice(t, 100.1, 3_600_000, rules).exit).toEqual({ reason: 'TIME_LIMIT', price: 100.1 });
  });
});
