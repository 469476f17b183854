import type { Candle } from './types.js';

/**
 * A plausible price path inside one candle, shared by the replay feed of the local exchange and the
 * backtester so both see the same highs and lows in the same order.
 *
 * Rule: a rising candle (close >= open) is assumed to dip first (open -> low -> high -> close), a
 * falling one to spike first (open -> high -> low -> close). Each leg is walked linearly, `steps`
 * points in total, first point = open, last = close. Deterministic: no randomness.
 */
export function intrabarPath(c: Candle, steps: number): number[] {
  if (steps < 2) return [c.close];
  const anchors = c.close >= c.open ? [c.open, c.low, c.high, c.close] : [c.open, c.high, c.low, c.close];
  const lengths = [Math.abs(anchors[1]! - anchors[0]!), Math.abs(anchors[2]! - anchors[1]!), Math.abs(anchors[3]! - anchors[2]!)];
  const total = lengths[0]! + lengths[1]! + lengths[2]!;
  const path: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = i / (steps - 1);
    path.push(total === 0 ? c.open : pointAt(anchors, lengths, t * total));
  }
  return path;
}

/** Price after travelling `distance` along the piecewise-linear path through `anchors`. */
function pointAt(anchors: number[], lengths: number[], distance: number): number {
  let left = distance;
  for (let leg = 0; leg < 3; leg++) {
    const len = lengths[leg]!;
    if (left <= len || leg === 2) {
      const from = anchors[leg]!;
      const to = anchors[leg + 1]!;
      const frac = len === 0 ? 1 : Math.min(1, left / len);
      return from + (to - from) * frac;
    }
    left -= len;
  }
  return anchors[3]!;
}

/** The price path at a given time inside a candle of `intervalMs`, for a feed sampling at `stepMs`. */
export function intrabarPrice(c: Candle, intervalMs: number, stepMs: number, atMs: number): number {
  const steps = Math.max(2, Math.round(intervalMs / stepMs) + 1);
  const path = intrabarPath(c, steps);
  const idx = Math.min(steps - 1, Math.max(0, Math.floor((atMs - c.openTime) / stepMs)));
  return path[idx]!;
}
