import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { positionPath, type IntrabarMode } from '../../core/intrabar.js';
import { simulateTrade } from '../../core/labels.js';
import { entryExitDistances, positionRules } from '../../core/exits.js';
import { DEFAULT_PARAMS, type TradingParams } from '../../core/params.js';
import type { Candle, PositionSide } from '../../core/types.js';
import { seededRandom } from '../../backtest/signals.js';
import { PROJECT_ROOT, pythonPath } from '../../ml/python.js';

/**
 * Parity with the research reference (models/research/outcomes.py): its `intrabar_paths(..., low_first)`
 * and its vectorised exit simulator, run by the project's Python on the same candles, must give the
 * paths and trade outcomes that core/intrabar.ts and core/labels.ts give, under both paths and with
 * percent and ATR exits.
 */
const MIN5 = 300_000;
const T0 = Date.UTC(2025, 8, 1);

function randomWalk(n: number, seed: number): Candle[] {
  const rng = seededRandom(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(rng() + 1e-12)) * Math.cos(2 * Math.PI * rng());
  const out: Candle[] = [];
  let price = 100;
  for (let i = 0; i < n; i++) {
    const open = price;
    const close = open * (1 + 0.006 * gauss());
    const high = Math.max(open, close) * (1 + 0.004 * Math.abs(gauss()));
    const low = Math.min(open, close) * (1 - 0.004 * Math.abs(gauss()));
    out.push({ openTime: T0 + i * MIN5, open, high, low, close, volume: 1 });
    price = close;
  }
  return out;
}

const PYTHON = `
import json, sys
sys.path.insert(0, 'models/research')
import numpy as np
from outcomes import intrabar_paths, simulate, exit_fractions, Exits
req = json.load(sys.stdin)
o, h, l, c = (np.array(req[k], dtype=float) for k in ('open', 'high', 'low', 'close'))
colour = c >= o
paths = {
  'path': (intrabar_paths(o, h, l, c, colour), intrabar_paths(o, h, l, c, colour)),
  'pessimistic': (intrabar_paths(o, h, l, c, np.ones_like(colour)), intrabar_paths(o, h, l, c, np.zeros_like(colour))),
}
entries = np.array(req['entries'], dtype=np.int64)
atr = np.array(req['atr'], dtype=float)
out = {'paths': {m: [p[0].tolist(), p[1].tolist()] for m, p in paths.items()}, 'trades': {}}
for mode, ex in (('percent', Exits()), ('atr', Exits(mode='atr', take_profit=3, stop_loss=2, trailing_stop=1.2, trailing_activation=1.6))):
  tp, sl, tr, act = exit_fractions(ex, atr)
  for intrabar, (pl, ps) in paths.items():
    for side in (1, -1):
      net, idx, reason = simulate(pl, ps, o, h, l, entries, side, tp, sl, tr, act, ex.max_hold_s)
      out['trades'][f'{mode}/{intrabar}/{side}'] = {'net': np.nan_to_num(net, nan=-99).tolist(), 'exit': idx.tolist(), 'reason': reason.tolist()}
json.dump(out, sys.stdout)
`;

interface Reference {
  paths: Record<IntrabarMode, [number[][], number[][]]>;
  trades: Record<string, { net: number[]; exit: number[]; reason: number[] }>;
}

const REASON_CODE: Record<string, number> = { STOP_LOSS: 0, TRAILING_STOP: 1, TAKE_PROFIT: 2, TIME_LIMIT: 3 };

describe('parity with the research reference (models/research/outcomes.py)', () => {
  const candles = randomWalk(260, 7);
  const entries = Array.from({ length: 30 }, (_, i) => 1 + i * 6);
  const rng = seededRandom(11);
  const atr = entries.map(() => 0.002 + 0.004 * rng());
  const ref = JSON.parse(
    execFileSync(pythonPath(), ['-c', PYTHON], {
      cwd: PROJECT_ROOT,
      input: JSON.stringify({ open: candles.map((c) => c.open), high: candles.map((c) => c.high), low: candles.map((c) => c.low), close: candles.map((c) => c.close), entries, atr }),
      maxBuffer: 64 * 1024 * 1024,
    }).toString(),
  ) as Reference;

  it.each(['path', 'pessimistic'] as const)('the %s path of every candle, long and short', (mode) => {
    const [long, short] = ref.paths[mode];
    candles.forEach((c, i) => {
      expect(positionPath(c, 21, 'LONG', mode)).toEqual(long[i]);
      expect(positionPath(c, 21, 'SHORT', mode)).toEqual(short[i]);
    });
  });

  const cases = (['percent', 'atr'] as const).flatMap((exitMode) => (['path', 'pessimistic'] as const).flatMap((intrabar) => (['LONG', 'SHORT'] as const).map((side) => [exitMode, intrabar, side] as const)));
  it.each(cases)('trade outcomes with %s exits on the %s path, %s', (exitMode, intrabar, side: PositionSide) => {
    const settings: TradingParams = { ...DEFAULT_PARAMS, exitMode, takeProfitAtr: 3, stopLossAtr: 2, trailingStopAtr: 1.2, trailingActivationAtr: 1.6 };
    const want = ref.trades[`${exitMode}/${intrabar}/${side === 'LONG' ? 1 : -1}`]!;
    let settled = 0;
    entries.forEach((e, j) => {
      const rules = positionRules(settings, entryExitDistances(settings, atr[j]));
      const got = simulateTrade(candles, e, side, rules, MIN5, undefined, undefined, intrabar);
      if (want.exit[j] === -1) return expect(got).toBeNull();
      settled++;
      expect(got, `entry ${e}`).not.toBeNull();
      expect(got!.netReturn).toBeCloseTo(want.net[j]!, 12);
      expect((got!.exitTime - T0 - (got!.exitTime - T0) % MIN5) / MIN5).toBe(want.exit[j]);
      expect(REASON_CODE[got!.reason]).toBe(want.reason[j]);
    });
    expect(settled).toBeGreaterThan(20);
  });

  it('the pessimistic path changes some outcomes (the comparison is not vacuous)', () => {
    const a = ref.trades['percent/path/1']!.net;
    const b = ref.trades['percent/pessimistic/1']!.net;
    expect(a.some((x, i) => x !== b[i])).toBe(true);
  });
});
