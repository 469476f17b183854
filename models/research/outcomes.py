"""Trade outcomes with the agent's exits, for every candle, both sides, under two intrabar paths.

A trade decided at the close of candle t enters at the open of candle t+1 (MARKET, 2 bp slippage,
0.05 % taker fee), is walked every 15 s along a path through each 5-minute candle by the rules of
core/exits.ts (stop loss, then trailing stop, then take profit, then time limit; the trailing level
uses the best price before the observation) and leaves with slippage and a second taker fee.

Two paths through a candle:
- `path`: core/intrabar.ts as it is: a rising candle goes open -> low -> high -> close, a falling
  one open -> high -> low -> close (the same for a long and a short);
- `pessimistic`: the adverse extreme first for the position's side: a long always walks
  open -> low -> high -> close, a short open -> high -> low -> close. Whenever a candle reaches
  both a loss exit and a profit exit, the loss comes first.
Both paths spread the 20 moves over the three legs exactly as core/intrabar.ts does.

Exits are fixed percentages (the agent's 1.5 / 1 / 0.6 armed at 0.8, 4 h) or multiples of the
ATR 14 of the decision candle (`atr_14_norm` of core/features.ts, i.e. Wilder ATR / close).

    nice -n 15 .venv/bin/python models/research/outcomes.py --check-dataset .qt/datasets/shared.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, DEV_END, INTERVAL_MS, SLIPPAGE_BPS, STEP_MS, TAKER_FEE_RATE, TICKS, Market, load_market  # noqa: E402


@dataclass(frozen=True)
class Exits:
    """`mode = percent`: the numbers are percent of entry; `mode = atr`: multiples of ATR14/close."""
    mode: str = "percent"
    take_profit: float = 1.5
    stop_loss: float = 1.0
    trailing_stop: float = 0.6
    trailing_activation: float = 0.8
    max_hold_s: int = 4 * 3600

    @property
    def key(self) -> str:
        return f"{self.mode}-tp{self.take_profit:g}-sl{self.stop_loss:g}-tr{self.trailing_stop:g}-act{self.trailing_activation:g}-h{self.max_hold_s // 60}m"


AGENT_EXITS = Exits()


# ---- intrabar paths (core/intrabar.ts) ----

def _allocate_moves(lengths: np.ndarray, total: int) -> np.ndarray:
    """allocateMoves of core/intrabar.ts for many candles at once: lengths [n, 3] -> moves [n, 3]."""
    n = lengths.shape[0]
    s = lengths.sum(axis=1)
    live = lengths > 0
    nlive = live.sum(axis=1)
    moves = live.astype(np.int64)
    spare = total - nlive
    with np.errstate(invalid="ignore", divide="ignore"):
        exact = np.where(s[:, None] > 0, (lengths / s[:, None]) * spare[:, None], 0.0)
    fl = np.floor(exact)
    moves += fl.astype(np.int64)
    extra = spare - fl.sum(axis=1).astype(np.int64)
    rem = exact - fl
    # Rank of each live leg in JS's stable sort: by remainder desc; ties keep the order of `live`
    # (length desc, then index asc).
    rank = np.zeros((n, 3), dtype=np.int64)
    for i in range(3):
        for j in range(3):
            if i == j:
                continue
            tie_order = (lengths[:, j] > lengths[:, i]) | ((lengths[:, j] == lengths[:, i]) & (j < i))
            before = live[:, j] & ((rem[:, j] > rem[:, i]) | ((rem[:, j] == rem[:, i]) & tie_order))
            rank[:, i] += before
    if np.any((extra > nlive) & (s > 0)):
        raise AssertionError("more leftover moves than legs: never happens with 20 moves")
    moves += (live & (rank < extra[:, None])).astype(np.int64)
    moves[s == 0] = 0
    return moves


def intrabar_paths(o, h, l, c, low_first: np.ndarray, steps: int = TICKS + 1) -> np.ndarray:
    """intrabarPath(c, steps) for arrays of candles, with the leg order given per candle:
    low_first -> open, low, high, close; else open, high, low, close. Returns [n, steps]."""
    anchors = np.stack([o, np.where(low_first, l, h), np.where(low_first, h, l), c], axis=1)
    lengths = np.abs(np.diff(anchors, axis=1))
    moves = _allocate_moves(lengths, steps - 1)
    n = len(o)
    path = np.empty((n, steps))
    path[:, 0] = o
    ends = np.cumsum(moves, axis=1)
    starts = ends - moves
    for p in range(1, steps):
        val = c.copy()  # past the last leg: a flat candle pads with the close
        for leg in range(2, -1, -1):
            k = moves[:, leg]
            j = p - starts[:, leg]
            inside = (j >= 1) & (j <= k)
            frm, to = anchors[:, leg], anchors[:, leg + 1]
            with np.errstate(invalid="ignore", divide="ignore"):
                v = np.where(j == k, to, frm + ((to - frm) * j) / np.maximum(k, 1))
            val = np.where(inside, v, val)
        path[:, p] = val
    return path


# ---- the trade simulator (core/labels.ts simulateTrade, vectorised over entries) ----

def simulate(path_long: np.ndarray, path_short: np.ndarray, open_: np.ndarray, highs: np.ndarray, lows: np.ndarray, entries: np.ndarray, side: int,
             tp: np.ndarray, sl: np.ndarray, trail: np.ndarray, act: np.ndarray, max_hold_s: int):
    """Trades of one symbol entered at the open of candle `entries` (fractions of entry for the
    exit distances, per entry). `path_*[i, k]` is the price at tick k of candle i that a long / a short
    walks. Returns net return, exit candle index, exit reason (0 SL, 1 trail, 2 TP, 3 time), NaN /
    -1 where the data ends first."""
    path = path_long if side > 0 else path_short
    n_candles = path.shape[0]
    m = len(entries)
    slip = SLIPPAGE_BPS / 10_000
    entry = open_[entries] * (1 + slip) if side > 0 else open_[entries] * (1 - slip)
    tp_px = entry * (1 + tp) if side > 0 else entry * (1 - tp)
    sl_px = entry * (1 - sl) if side > 0 else entry * (1 + sl)
    best = entry.copy()
    net = np.full(m, np.nan)
    exit_idx = np.full(m, -1, dtype=np.int64)
    reason = np.full(m, -1, dtype=np.int8)
    limit_ticks = (max_hold_s * 1000) // STEP_MS
    last_candle = limit_ticks // TICKS  # the candle holding the time-limit tick
    alive = np.flatnonzero(entries + (limit_ticks + TICKS - 1) // TICKS < n_candles)
    for j in range(last_candle + 1):
        if not alive.size:
            break
        idx = entries[alive] + j
        e, b = entry[alive], best[alive]
        # The exact shortcut of core/labels.ts quietCandle: a candle whose whole range can neither
        # fire an exit nor arm the trail, before the time limit, changes nothing.
        if (j + 1) * TICKS - 1 < limit_ticks:
            if side > 0:
                unarmed = b / e - 1 < act[alive]
                quiet = unarmed & (highs[idx] / e - 1 < act[alive]) & (highs[idx] < tp_px[alive]) & (lows[idx] > sl_px[alive])
            else:
                unarmed = 1 - b / e < act[alive]
                quiet = unarmed & (1 - lows[idx] / e < act[alive]) & (lows[idx] > tp_px[alive]) & (highs[idx] < sl_px[alive])
            walk = alive[~quiet]
        else:
            walk = alive
        if not walk.size:
            continue
        prices = path[entries[walk] + j]
        for k in range(TICKS):
            tick = j * TICKS + k
            if tick == 0:
                continue  # the entry tick
            if tick > limit_ticks or walk.size == 0:
                break
            p = prices[:, k]
            e, b = entry[walk], best[walk]
            if side > 0:
                armed = b / e - 1 >= act[walk]
                hit_tr = armed & (p <= b * (1 - trail[walk]))
                hit_sl = p <= sl_px[walk]
                hit_tp = p >= tp_px[walk]
                best[walk] = np.maximum(b, p)
            else:
                armed = 1 - b / e >= act[walk]
                hit_tr = armed & (p >= b * (1 + trail[walk]))
                hit_sl = p >= sl_px[walk]
                hit_tp = p <= tp_px[walk]
                best[walk] = np.minimum(b, p)
            code = np.where(hit_sl, 0, np.where(hit_tr, 1, np.where(hit_tp, 2, 3 if tick >= limit_ticks else -1)))
            done = code >= 0
            if done.any():
                rows = walk[done]
                px = p[done]
                fill = px * (1 - slip) if side > 0 else px * (1 + slip)
                move = fill - e[done] if side > 0 else e[done] - fill
                net[rows] = (move - TAKER_FEE_RATE * (e[done] + fill)) / e[done]
                exit_idx[rows] = entries[rows] + j
                reason[rows] = code[done]
                keep = ~done
                walk, prices = walk[keep], prices[keep]
        alive = alive[np.isnan(net[alive])]
    return net, exit_idx, reason


def exit_fractions(ex: Exits, atr_norm: np.ndarray):
    """Exit distances as fractions of the entry price, per decision candle."""
    if ex.mode == "percent":
        one = np.ones_like(atr_norm)
        return (one * (ex.take_profit / 100), one * (ex.stop_loss / 100), one * (ex.trailing_stop / 100), one * (ex.trailing_activation / 100))
    if ex.mode == "atr":
        a = np.nan_to_num(atr_norm, nan=0.0)
        return (ex.take_profit * a, ex.stop_loss * a, ex.trailing_stop * a, ex.trailing_activation * a)
    raise ValueError(f"unknown exit mode {ex.mode}")


def atr_norm(m: Market) -> np.ndarray:
    """atr_14_norm of core/features.ts for every candle: Wilder ATR 14 (seeded with the mean of the
    first 14 true ranges, from the second candle on) over the close. NaN before it is defined."""
    out = np.full(m.close.shape, np.nan)
    for s in range(len(m.symbols)):
        f0 = int(np.flatnonzero(np.isfinite(m.close[s]))[0])  # the symbol's first candle
        h, l, c = m.high[s, f0:], m.low[s, f0:], m.close[s, f0:]
        tr = np.maximum(h[1:] - l[1:], np.maximum(np.abs(h[1:] - c[:-1]), np.abs(l[1:] - c[:-1])))
        v = np.nan
        total = 0.0
        a = np.full(len(c), np.nan)
        for i, x in enumerate(tr):
            if i < 14:
                total += x
                if i == 13:
                    v = total / 14
            else:
                v = (v * 13 + x) / 14
            a[i + 1] = v
        out[s, f0:] = a / c
    return out


def outcomes(m: Market, ex: Exits, intrabar: str) -> dict[str, np.ndarray]:
    """For every symbol and decision candle t: net return of a long / short entered at t+1's open,
    and the index of the candle where each one exits. Cached under .qt/research/."""
    cache = CACHE / f"outcomes-{ex.key}-{intrabar}.npz"
    if cache.exists():
        return dict(np.load(cache))
    started = time.time()
    atr = atr_norm(m) if ex.mode == "atr" else np.zeros_like(m.close)
    S, N = m.close.shape
    res = {k: np.full((S, N), np.nan) for k in ("long", "short")}
    res.update({k: np.full((S, N), -1, dtype=np.int64) for k in ("long_exit", "short_exit")})
    res.update({k: np.full((S, N), -1, dtype=np.int8) for k in ("long_reason", "short_reason")})
    for s in range(S):
        o, h, l, c = m.open[s], m.high[s], m.low[s], m.close[s]
        rising = c >= o
        if intrabar == "path":
            p_long = p_short = intrabar_paths(o, h, l, c, rising)
        elif intrabar == "pessimistic":
            p_long = intrabar_paths(o, h, l, c, np.ones(N, dtype=bool))
            p_short = intrabar_paths(o, h, l, c, np.zeros(N, dtype=bool))
        else:
            raise ValueError(intrabar)
        tp, sl, tr, act = exit_fractions(ex, atr[s])
        decide = np.arange(N - 1)
        valid = np.isfinite(c[decide]) & np.isfinite(o[decide + 1]) & np.isfinite(tp[decide]) & (tp[decide] > 0)
        decide = decide[valid]
        entries = decide + 1
        for side, name in ((1, "long"), (-1, "short")):
            net, xi, rs = simulate(p_long, p_short, o, h, l, entries, side, tp[decide], sl[decide], tr[decide], act[decide], ex.max_hold_s)
            res[name][s, decide] = net
            res[f"{name}_exit"][s, decide] = xi
            res[f"{name}_reason"][s, decide] = rs
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **res)
    print(f"[outcomes] {ex.key} {intrabar}: {time.time() - started:.0f}s", file=sys.stderr, flush=True)
    return res


def check_against_dataset(m: Market, dataset: Path) -> dict:
    """Parity: the `path` outcomes with the agent's exits must equal the long/short returns that
    `qt dataset build` (core/labels.ts) wrote, row for row."""
    side = json.loads(dataset.read_text())
    meta = np.load(dataset.parent / side["metaFile"])
    meta = meta[meta[:, 0] < DEV_END]  # development rows only: nothing is computed on the reserved fold
    res = outcomes(m, AGENT_EXITS, "path")
    sym_index = np.array([m.symbols.index(s) for s in side["symbols"]])
    s = sym_index[meta[:, 1].astype(np.int64)]
    t = ((meta[:, 0] - m.time[0]) // INTERVAL_MS).astype(np.int64)
    diff_long = np.abs(res["long"][s, t] - meta[:, 3])
    diff_short = np.abs(res["short"][s, t] - meta[:, 4])
    worst = float(np.nanmax(np.maximum(diff_long, diff_short)))
    report = {"rows": int(len(meta)), "maxAbsDiff": worst, "rowsOver1e-6": int(((diff_long > 1e-6) | (diff_short > 1e-6)).sum()),
              "nanInPython": int(np.isnan(res["long"][s, t]).sum() + np.isnan(res["short"][s, t]).sum())}
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check-dataset", type=Path, help="compare the path outcomes with a `qt dataset build` sidecar")
    args = ap.parse_args()
    m = load_market()
    dev = (m.time < DEV_END)[None, :]  # statistics over the development period only
    res = {intrabar: outcomes(m, AGENT_EXITS, intrabar) for intrabar in ("path", "pessimistic")}
    names = ["stop loss", "trailing stop", "take profit", "time limit"]
    for side in ("long", "short"):
        a, b = res["path"], res["pessimistic"]
        ok = dev & (a[f"{side}_reason"] >= 0) & (b[f"{side}_reason"] >= 0)
        ra, rb = a[f"{side}_reason"][ok], b[f"{side}_reason"][ok]
        diff = (b[side] - a[side])[ok]
        moves = {f"{names[i]} -> {names[j]}": int(((ra == i) & (rb == j)).sum()) for i in range(4) for j in range(4) if i != j}
        print(json.dumps({"side": side, "trades": int(ok.sum()), "meanNetPath": float(a[side][ok].mean()), "meanNetPessimistic": float(b[side][ok].mean()),
                          "reasonChanged": int((ra != rb).sum()), "netChanged": int((np.abs(diff) > 1e-12).sum()), "meanDifference": float(diff.mean()),
                          "moves": {k: v for k, v in moves.items() if v}}))
    if args.check_dataset:
        print(json.dumps(check_against_dataset(m, args.check_dataset)))


if __name__ == "__main__":
    main()
