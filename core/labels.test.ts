import { describe, expect, it } from 'vitest';
import { LABEL_BUY, LABEL_HOLD, LABEL_SELL, LABEL_UNKNOWN, simulateTrade, tripleBarrierLabels } from './labels.js';
import { netReturn } from './costs.js';
import { DEFAULT_PARAMS } from './params.js';
import { intrabarPath } from './intrabar.js';
import { newTracker, observePrice } from './exits.js';
import type { Candle, PositionSide } from './types.js';

const MIN5 = 300_000;
const flat = (i: number, p: number): Candle => ({ openTime: i * MIN5, open: p, high: p, low: p, close: p, volume: 1 });
const bar = (i: number, open: number, high: number, low: number, close: number): Candle => ({ openTime: i * MIN5, open, high, low, close, volume: 1 });

/** Reference walk without any shortcut: every 15 s tick of every candle through observePrice. */
function naive(cs: Candle[], entry: number, side: PositionSide): number | null {
  const e = side === 'LONG' ? cs[entry]!.open * 1.0002 : cs[entry]!.open * 0.9998;
  let t = newTracker(side, e, cs[entry]!.openTime);
  for (let i = entry; i < cs.length; i++) {
    const path = intrabarPath(cs[i]!, 21);
    for (let k = i === entry ? 1 : 0; k < 20; k++) {
      const r = observePrice(t, path[k]!, cs[i]!.openTime + k * 15_000, DEFAULT_PARAMS);
      t = r.tracker;
      if (r.exit) {
        const x = side === 'LONG' ? r.exit.price * 0.9998 : r.exit.price * 1.0002;
        return netReturn(side, e, x, 0.0005);
      }
    }
  }
  return null;
}

describe('triple-barrier labels', () => {
  it('label BUY when the next candles reach take-profit, with both fees and slippage charged', () => {
    const cs = [flat(0, 100), flat(1, 100), bar(2, 100, 102, 100, 102), ...Array.from({ length: 60 }, (_, i) => flat(3 + i, 102))];
    const long = simulateTrade(cs, 1, 'LONG', DEFAULT_PARAMS, MIN5)!;
    expect(long.reason).toBe('TAKE_PROFIT');
    const entry = 100 * 1.0002;
    expect(long.entryPrice).toBeCloseTo(entry, 10);
    // The path crosses TP between samples: the exit is the first sampled price at or above TP.
    expect(long.exitPrice / 0.9998).toBeGreaterThanOrEqual(entry * 1.015);
    expect(long.netReturn).toBeCloseTo((long.exitPrice - entry - 0.0005 * (entry + long.exitPrice)) / entry, 12);
    const { labels } = tripleBarrierLabels(cs, DEFAULT_PARAMS, MIN5);
    expect(labels[0]).toBe(LABEL_BUY);
  });

  it('label SELL on a drop and HOLD on a flat market where fees make both sides lose', () => {
    const drop = [flat(0, 50), bar(1, 50, 50, 48, 48), ...Array.from({ length: 60 }, (_, i) => flat(2 + i, 48))];
    expect(tripleBarrierLabels(drop, DEFAULT_PARAMS, MIN5).labels[0]).toBe(LABEL_SELL);
    const still = Array.from({ length: 60 }, (_, i) => flat(i, 10));
    const l = tripleBarrierLabels(still, DEFAULT_PARAMS, MIN5);
    expect(l.labels[0]).toBe(LABEL_HOLD);
    // Time limit: 4 h after the entry at candle 1's open, both legs lose fees + slippage.
    expect(l.longReturn[0]).toBeCloseTo(-(0.0002 + 0.0002 + 0.0005 * 2) / 1.0002, 4);
  });

  it('stop-loss is booked before take-profit when both are inside one candle (worst case first)', () => {
    // A falling candle spikes first: open -> high -> low -> close. Long stop at -1 %, TP at +1.5 %.
    const cs = [flat(0, 100), flat(1, 100), bar(2, 100, 100.5, 98, 99), ...Array.from({ length: 60 }, (_, i) => flat(3 + i, 99))];
    const long = simulateTrade(cs, 1, 'LONG', DEFAULT_PARAMS, MIN5)!;
    expect(long.reason).toBe('STOP_LOSS');
    expect(long.netReturn).toBeLessThan(-0.01);
  });

  it('trailing stop locks in a gain after the trail arms', () => {
    // +1.2 % (arms at 0.8 %) then back down: trail 0.6 % under the best price fires.
    const cs = [flat(0, 100), flat(1, 100), bar(2, 100, 101.2, 100, 101.2), bar(3, 101.2, 101.2, 99, 99), ...Array.from({ length: 60 }, (_, i) => flat(4 + i, 99))];
    const long = simulateTrade(cs, 1, 'LONG', DEFAULT_PARAMS, MIN5)!;
    expect(long.reason).toBe('TRAILING_STOP');
    expect(long.netReturn).toBeGreaterThan(0);
  });

  it('leave the end of the series and gaps unlabelled', () => {
    const cs = Array.from({ length: 30 }, (_, i) => flat(i, 10));
    expect(Array.from(tripleBarrierLabels(cs, DEFAULT_PARAMS, MIN5).labels).every((x) => x === LABEL_UNKNOWN)).toBe(true);
    const gapped = Array.from({ length: 80 }, (_, i) => flat(i < 10 ? i : i + 1, 10));
    const l = tripleBarrierLabels(gapped, DEFAULT_PARAMS, MIN5).labels;
    expect(l[0]).toBe(LABEL_UNKNOWN);
    expect(l[9]).toBe(LABEL_UNKNOWN);
    expect(l[10]).toBe(LABEL_HOLD);
  });

  it('the quiet-candle shortcut gives exactly the tick-by-tick result on a random walk', () => {
    let s = 3;
    const rnd = () => ((s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const cs: Candle[] = [];
    let p = 100;
    for (let i = 0; i < 600; i++) {
      const o = p;
      const c = o * Math.exp((rnd() - 0.5) * 0.012);
      cs.push(bar(i, o, Math.max(o, c) * (1 + rnd() * 0.004), Math.min(o, c) * (1 - rnd() * 0.004), c));
      p = c;
    }
    const l = tripleBarrierLabels(cs, DEFAULT_PARAMS, MIN5);
    let checked = 0;
    for (let t = 0; t < 500; t += 7) {
      expect(l.longReturn[t]).toBeCloseTo(naive(cs, t + 1, 'LONG')!, 6);
      expect(l.shortReturn[t]).toBeCloseTo(naive(cs, t + 1, 'SHORT')!, 6);
      checked++;
    }
    expect(checked).toBeGreaterThan(70);
    const counts = [0, 0, 0];
    for (const x of l.labels.slice(0, 500)) counts[x]!++;
    expect(counts[LABEL_BUY]).toBeGreaterThan(50);
    expect(counts[LABEL_SELL]).toBeGreaterThan(50);
  });

  it('pessimistic path: a candle reaching both the stop and the take profit stops a long out; path books the take profit', () => {
    // Entry at candle 1's open (100); candle 1 rises through both extremes (low 98.5 < stop, high 102 > TP).
    const cs = [flat(0, 100), bar(1, 100, 102, 98.5, 101.5), ...Array.from({ length: 60 }, (_, i) => flat(2 + i, 101.5))];
    expect(simulateTrade(cs, 1, 'LONG', DEFAULT_PARAMS, MIN5)!.reason).toBe('STOP_LOSS'); // rising: low first anyway
    const fall = [flat(0, 100), bar(1, 100, 102, 98.5, 99), ...Array.from({ length: 60 }, (_, i) => flat(2 + i, 99))];
    expect(simulateTrade(fall, 1, 'LONG', DEFAULT_PARAMS, MIN5)!.reason).toBe('TAKE_PROFIT'); // falling: high first
    expect(simulateTrade(fall, 1, 'LONG', DEFAULT_PARAMS, MIN5, undefined, undefined, 'pessimistic')!.reason).toBe('STOP_LOSS');
    const labels = tripleBarrierLabels(fall, DEFAULT_PARAMS, MIN5, undefined, { intrabar: 'pessimistic' });
    expect(labels.longReturn[0]).toBeLessThan(0);
    expect(tripleBarrierLabels(fall, DEFAULT_PARAMS, MIN5).longReturn[0]).toBeGreaterThan(0);
  });

  it('atr exits: distances from the decision candle, unknown where its ATR is unknown', () => {
    const cs = [flat(0, 100), flat(1, 100), bar(2, 100, 100.7, 99.9, 100.6), ...Array.from({ length: 60 }, (_, i) => flat(3 + i, 100.6))];
    const atr = { ...DEFAULT_PARAMS, exitMode: 'atr' as const, takeProfitAtr: 3, stopLossAtr: 2, trailingStopAtr: 1.2, trailingActivationAtr: 1.6 };
    // ATR 0.2 % at candle 0: take profit at 0.6 % is reached in candle 2 (the percent default, 1.5 %, is not).
    const atrNorm = Float64Array.from(cs, (_, i) => (i === 0 ? 0.002 : i === 1 ? NaN : 0.002));
    const l = tripleBarrierLabels(cs, atr, MIN5, undefined, { atrNorm });
    expect(l.labels[0]).toBe(LABEL_BUY);
    expect(l.longReturn[0]).toBeCloseTo(netReturn('LONG', 100 * 1.0002, 100 * 1.0002 * 1.006 * 0.9998, 0.0005), 3);
    expect(l.labels[1]).toBe(LABEL_UNKNOWN);
    const distances = { takeProfitPct: 0.6, stopLossPct: 0.4, trailingStopPct: 0.24, trailingActivationPct: 0.32 };
    expect(simulateTrade(cs, 1, 'LONG', { ...DEFAULT_PARAMS, ...distances }, MIN5)!.reason).toBe('TAKE_PROFIT');
    expect(simulateTrade(cs, 1, 'LONG', DEFAULT_PARAMS, MIN5)!.reason).toBe('TIME_LIMIT');
  });
});
