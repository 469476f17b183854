import { describe, expect, it } from 'vitest';
import { entryExitDistances, exitLevels, newTracker, observePrice, positionRules, trailingLevel, type ExitRules } from './exits.js';
import { DEFAULT_PARAMS } from './params.js';

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

  it('exit distances: the percentages in percent mode, ATR multiples of the decision candle in atr mode, none without an ATR', () => {
    expect(entryExitDistances(DEFAULT_PARAMS, undefined)).toEqual({ takeProfitPct: 1.5, stopLossPct: 1, trailingStopPct: 0.6, trailingActivationPct: 0.8 });
    expect(entryExitDistances(DEFAULT_PARAMS, 0.004)).toEqual(entryExitDistances(DEFAULT_PARAMS, undefined));
    const atr = { ...DEFAULT_PARAMS, exitMode: 'atr' as const, takeProfitAtr: 3, stopLossAtr: 2, trailingStopAtr: 1.2, trailingActivationAtr: 1.6 };
    const d = entryExitDistances(atr, 0.005)!;
    expect(d.takeProfitPct).toBeCloseTo(1.5, 12);
    expect(d.stopLossPct).toBeCloseTo(1, 12);
    expect(d.trailingStopPct).toBeCloseTo(0.6, 12);
    expect(d.trailingActivationPct).toBeCloseTo(0.8, 12);
    for (const bad of [undefined, NaN, 0, -0.01, Infinity]) expect(entryExitDistances(atr, bad)).toBeNull();
    // Parameters recorded before the mode existed are percent; a mode set on them takes the default multiples.
    const { exitMode: _m, takeProfitAtr: _a, stopLossAtr: _b, trailingStopAtr: _c, trailingActivationAtr: _d, ...old } = DEFAULT_PARAMS;
    expect(entryExitDistances(old, 0.005)).toEqual(entryExitDistances(DEFAULT_PARAMS, 0.005));
    expect(entryExitDistances({ ...old, exitMode: 'atr' }, 0.005)).toEqual(entryExitDistances({ ...DEFAULT_PARAMS, exitMode: 'atr' }, 0.005));
    // A position's rules: the time limit from the settings, the distances from its entry.
    const rulesOf = positionRules(DEFAULT_PARAMS, d);
    expect(rulesOf.maxHoldSeconds).toBe(DEFAULT_PARAMS.maxHoldSeconds);
    expect(exitLevels('LONG', 200, rulesOf).stopLoss).toBeCloseTo(198, 9);
  });
});
