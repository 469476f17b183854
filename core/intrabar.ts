import type { Candle, PositionSide } from './types.js';

/**
 * Which order a position walks the extremes of a candle in. `path`: by the candle's colour, whatever
 * the position (the replay feed's path). `pessimistic`: the adverse extreme first for the position's
 * side (a LONG open -> low -> high -> close, a SHORT open -> high -> low -> close), so whenever a
 * candle reaches both a loss exit and a profit exit, the loss comes first. Labels and the backtester
 * take either; the replay feed and the live agent see real prices and keep `path`.
 */
export const INTRABAR_MODES = ['path', 'pessimistic'] as const;
export type IntrabarMode = (typeof INTRABAR_MODES)[number];

/**
 * A plausible price path inside one candle, shared by the replay feed of the local exchange and the
 * backtester so both see the same highs and lows in the same order.
 *
 * Rule: a rising candle (close >= open) is assumed to dip first (open -> low -> high -> close), a
 * falling one to spike first (open -> high -> low -> close). The `steps - 1` moves are shared among
 * the three legs in proportion to their length, and every leg ends exactly on its anchor, so the
 * path always touches the candle's true low and high: a stop at the low is never skipped.
 * First point = open, last = close. Deterministic: no randomness. `lowFirst` overrides the colour
 * rule (the pessimistic path); the legs are shared out the same way whatever the order.
 */
export function intrabarPath(c: Candle, steps: number, lowFirst: boolean = c.close >= c.open): number[] {
  if (steps < 2) return [c.close];
  const anchors = lowFirst ? [c.open, c.low, c.high, c.close] : [c.open, c.high, c.low, c.close];
  const lengths = [0, 1, 2].map((i) => Math.abs(anchors[i + 1]! - anchors[i]!));
  const moves = allocateMoves(lengths, steps - 1);
  const path: number[] = [c.open];
  for (let leg = 0; leg < 3; leg++) {
    const from = anchors[leg]!;
    const to = anchors[leg + 1]!;
    const k = moves[leg]!;
    for (let j = 1; j <= k; j++) path.push(j === k ? to : from + ((to - from) * j) / k);
  }
  while (path.length < steps) path.push(c.close); // a flat candle: no leg had length
  return path;
}

/** The path a position on `side` walks through candle `c` under `mode` (see IntrabarMode). */
export function positionPath(c: Candle, steps: number, side: PositionSide, mode: IntrabarMode): number[] {
  return intrabarPath(c, steps, mode === 'pessimistic' ? side === 'LONG' : c.close >= c.open);
}

/**
 * Split `total` moves among legs by length (largest remainder), giving every non-empty leg at least
 * one move while there are enough; with fewer moves than legs, the longest legs win.
 */
function allocateMoves(lengths: number[], total: number): number[] {
  const sum = lengths.reduce((a, b) => a + b, 0);
  const moves = [0, 0, 0];
  if (sum === 0) return moves;
  const live = [0, 1, 2].filter((i) => lengths[i]! > 0).sort((a, b) => lengths[b]! - lengths[a]!);
  if (total < live.length) {
    for (const i of live.slice(0, total)) moves[i] = 1;
    return moves;
  }
  for (const i of live) moves[i] = 1;
  const spare = total - live.length;
  const exact = lengths.map((l) => (l / sum) * spare);
  let given = 0;
  for (const i of live) {
    moves[i]! += Math.floor(exact[i]!);
    given += Math.floor(exact[i]!);
  }
  const byRemainder = [...live].sort((a, b) => exact[b]! - Math.floor(exact[b]!) - (exact[a]! - Math.floor(exact[a]!)));
  for (let r = 0; r < spare - given; r++) moves[byRemainder[r % byRemainder.length]!]! += 1;
  return moves;
}

/** The price path at a given time inside a candle of `intervalMs`, for a feed sampling at `stepMs`. */
export function intrabarPrice(c: Candle, intervalMs: number, stepMs: number, atMs: number): number {
  const steps = Math.max(2, Math.round(intervalMs / stepMs) + 1);
  const path = intrabarPath(c, steps);
  const idx = Math.min(steps - 1, Math.max(0, Math.floor((atMs - c.openTime) / stepMs)));
  return path[idx]!;
}
