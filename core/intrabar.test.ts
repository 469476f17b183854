import { describe, expect, it } from 'vitest';
import { intrabarPath, intrabarPrice, positionPath } from './intrabar.js';

describe('intrabar path', () => {
  it('visits low then high on a rising candle, high then low on a falling one', () => {
    const up = intrabarPath({ openTime: 0, open: 100, high: 104, low: 98, close: 103, volume: 1 }, 21);
    expect(up[0]).toBe(100);
    expect(up[20]).toBe(103);
    expect(Math.min(...up)).toBe(98);
    expect(Math.max(...up)).toBe(104);
    expect(up.indexOf(98)).toBeLessThan(up.indexOf(104));
    const down = intrabarPath({ openTime: 0, open: 100, high: 101, low: 95, close: 96, volume: 1 }, 21);
    expect(down.indexOf(101)).toBeLessThan(down.indexOf(95));
  });

  it('touches the exact low and high at every resolution', () => {
    const c = { openTime: 0, open: 100, high: 104.37, low: 97.91, close: 103.2, volume: 1 };
    for (const steps of [4, 5, 7, 21, 61, 301]) {
      const p = intrabarPath(c, steps);
      expect(p).toHaveLength(steps);
      expect(Math.min(...p)).toBe(97.91);
      expect(Math.max(...p)).toBe(104.37);
      expect(p[steps - 1]).toBe(103.2);
    }
  });

  it('is deterministic and flat for a flat candle', () => {
    const c = { openTime: 0, open: 5, high: 5, low: 5, close: 5, volume: 0 };
    expect(intrabarPath(c, 5)).toEqual([5, 5, 5, 5, 5]);
    expect(intrabarPrice({ openTime: 0, open: 1, high: 2, low: 1, close: 2, volume: 1 }, 300_000, 15_000, 300_000)).toBe(2);
  });

  it('pessimistic: a long meets the low first and a short the high first, whatever the colour; legs shared as before', () => {
    const up = { openTime: 0, open: 100, high: 104, low: 98, close: 103, volume: 1 };
    const down = { openTime: 0, open: 100, high: 101, low: 95, close: 96, volume: 1 };
    for (const c of [up, down]) {
      const long = positionPath(c, 21, 'LONG', 'pessimistic');
      const short = positionPath(c, 21, 'SHORT', 'pessimistic');
      expect(long.indexOf(c.low)).toBeLessThan(long.indexOf(c.high));
      expect(short.indexOf(c.high)).toBeLessThan(short.indexOf(c.low));
      expect([long[0], long[20], short[0], short[20]]).toEqual([c.open, c.close, c.open, c.close]);
      // The same anchor order as the colour rule gives the very same path.
      expect(c.close >= c.open ? long : short).toEqual(intrabarPath(c, 21));
    }
    // `path` ignores the side.
    expect(positionPath(down, 21, 'LONG', 'path')).toEqual(intrabarPath(down, 21));
    expect(positionPath(up, 21, 'SHORT', 'path')).toEqual(intrabarPath(up, 21));
  });
});
