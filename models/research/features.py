"""Feature matrices for the research: the 24 features of core/features.ts plus market context.

The 24 per-symbol features are read from a dataset written by `qt dataset build` (so they are
exactly what the agent computes). The context features are defined here, each from closed candles
only (the decision candle t and earlier, of every symbol in the data directory), so the signal
service, which already scores all symbols of a tick in one batch, can compute them identically.

Definitions (r_k[s, t] = ln(close[s, t] / close[s, t - k]); "the universe" = the symbols that have
a candle at t and k candles before it; ranks are average ranks of ties, scaled to [0, 1] as
(rank - 1) / (n - 1); vol_48 = population std of the last 48 one-candle log returns, as in
core/features.ts):
- mkt_ret_k      (k = 1, 12, 48, 288): mean of r_k over the universe
- rel_univ_k     (k = 12, 48, 288): r_k[s] - mkt_ret_k
- btc_ret_k      (k = 12, 48): r_k of BTCUSDT
- rel_btc_k      (k = 12, 48): r_k[s] - btc_ret_k
- breadth_k      (k = 12, 48): share of the universe with r_k > 0
- disp_12        : cross-sectional population std of r_12
- univ_vol_48    : median of vol_48 over the universe
- vol_rel_univ   : vol_48[s] / univ_vol_48
- rank_mom_288, rank_mom_48: cross-sectional rank of r_288, r_48 (momentum)
- rank_rev_3, rank_rev_1:    cross-sectional rank of r_3, r_1 (recent reversal)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, INTERVAL_MS, Market  # noqa: E402

CONTEXT_NAMES = [
    "mkt_ret_1", "mkt_ret_12", "mkt_ret_48", "mkt_ret_288",
    "rel_univ_12", "rel_univ_48", "rel_univ_288",
    "btc_ret_12", "btc_ret_48", "rel_btc_12", "rel_btc_48",
    "breadth_12", "breadth_48", "disp_12", "univ_vol_48", "vol_rel_univ",
    "rank_mom_288", "rank_mom_48", "rank_rev_3", "rank_rev_1",
]


def base_features(m: Market, dataset: Path) -> tuple[np.ndarray, list[str]]:
    """[symbols, candles, 24] float32 from a `qt dataset build` sidecar; NaN where it has no row."""
    cache = CACHE / f"base-features-{dataset.stem}.npy"
    side = json.loads(dataset.read_text())
    names = list(side["featureNames"])
    if cache.exists():
        return np.load(cache), names
    X = np.load(dataset.parent / side["featuresFile"])
    meta = np.load(dataset.parent / side["metaFile"])
    sym_index = np.array([m.symbols.index(s) for s in side["symbols"]])
    s = sym_index[meta[:, 1].astype(np.int64)]
    t = ((meta[:, 0] - m.time[0]) // INTERVAL_MS).astype(np.int64)
    out = np.full((len(m.symbols), len(m.time), X.shape[1]), np.nan, dtype=np.float32)
    out[s, t] = X
    np.save(cache, out)
    return out, names


def _log_return(close: np.ndarray, k: int) -> np.ndarray:
    r = np.full(close.shape, np.nan)
    r[:, k:] = np.log(close[:, k:] / close[:, :-k])
    return r


def _cross_rank(x: np.ndarray) -> np.ndarray:
    """Per column (candle), average rank of each finite value among the finite ones, in [0, 1]."""
    out = np.full(x.shape, np.nan)
    for t in range(x.shape[1]):
        col = x[:, t]
        ok = np.isfinite(col)
        n = int(ok.sum())
        if n < 2:
            continue
        v = col[ok]
        order = np.argsort(v, kind="stable")
        ranks = np.empty(n)
        ranks[order] = np.arange(1, n + 1)
        # average ranks of ties
        uniq, inv, counts = np.unique(v, return_inverse=True, return_counts=True)
        if len(uniq) < n:
            sums = np.bincount(inv, weights=ranks)
            ranks = sums[inv] / counts[inv]
        out[ok, t] = (ranks - 1) / (n - 1)
    return out


def _rolling_std(x: np.ndarray, n: int) -> np.ndarray:
    """Population std of the last n values along axis 1 (NaN until n values exist)."""
    out = np.full(x.shape, np.nan)
    c1 = np.nancumsum(np.nan_to_num(x), axis=1)
    c2 = np.nancumsum(np.nan_to_num(x) ** 2, axis=1)
    s1 = c1[:, n - 1:] - np.concatenate([np.zeros((x.shape[0], 1)), c1[:, :-n]], axis=1)
    s2 = c2[:, n - 1:] - np.concatenate([np.zeros((x.shape[0], 1)), c2[:, :-n]], axis=1)
    var = np.maximum(s2 / n - (s1 / n) ** 2, 0)
    out[:, n - 1:] = np.sqrt(var)
    # windows that contain a missing value are undefined
    missing = np.isnan(x).astype(np.int64).cumsum(axis=1)
    bad = missing[:, n - 1:] - np.concatenate([np.zeros((x.shape[0], 1), dtype=np.int64), missing[:, :-n]], axis=1) > 0
    out[:, n - 1:][bad] = np.nan
    return out


def context_features(m: Market) -> np.ndarray:
    """[symbols, candles, len(CONTEXT_NAMES)] float32, from closed candles up to t only."""
    cache = CACHE / "context-features.npy"
    if cache.exists():
        return np.load(cache)
    c = m.close
    btc = m.symbols.index("BTCUSDT")
    r = {k: _log_return(c, k) for k in (1, 3, 12, 48, 288)}
    with np.errstate(invalid="ignore"):
        mkt = {k: np.nanmean(r[k], axis=0) for k in (1, 12, 48, 288)}
        vol48 = _rolling_std(r[1], 48)
        univ_vol = np.nanmedian(vol48, axis=0)
        feats = {
            "mkt_ret_1": np.broadcast_to(mkt[1], c.shape), "mkt_ret_12": np.broadcast_to(mkt[12], c.shape),
            "mkt_ret_48": np.broadcast_to(mkt[48], c.shape), "mkt_ret_288": np.broadcast_to(mkt[288], c.shape),
            "rel_univ_12": r[12] - mkt[12], "rel_univ_48": r[48] - mkt[48], "rel_univ_288": r[288] - mkt[288],
            "btc_ret_12": np.broadcast_to(r[12][btc], c.shape), "btc_ret_48": np.broadcast_to(r[48][btc], c.shape),
            "rel_btc_12": r[12] - r[12][btc], "rel_btc_48": r[48] - r[48][btc],
            "breadth_12": np.broadcast_to(np.nanmean(np.where(np.isfinite(r[12]), r[12] > 0, np.nan), axis=0), c.shape),
            "breadth_48": np.broadcast_to(np.nanmean(np.where(np.isfinite(r[48]), r[48] > 0, np.nan), axis=0), c.shape),
            "disp_12": np.broadcast_to(np.nanstd(r[12], axis=0), c.shape),
            "univ_vol_48": np.broadcast_to(univ_vol, c.shape), "vol_rel_univ": vol48 / univ_vol,
            "rank_mom_288": _cross_rank(r[288]), "rank_mom_48": _cross_rank(r[48]),
            "rank_rev_3": _cross_rank(r[3]), "rank_rev_1": _cross_rank(r[1]),
        }
    out = np.stack([np.asarray(feats[n], dtype=np.float32) for n in CONTEXT_NAMES], axis=2)
    np.save(cache, out)
    return out
