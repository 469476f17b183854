"""Shared pieces of the research scripts: the candles, the protocol's folds, the project's costs.

Everything here mirrors a TypeScript definition so a result found in Python means the same thing in
the agent: costs from core/costs.ts, the 15 s loop of core/labels.ts, the label horizon of
core/labels.ts (one candle + the time limit).
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

# Two cores shared with other jobs: never more than two threads anywhere.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("QT_RESEARCH_DATA", ROOT.parent / "shared" / "data" / "binance-futures-5m"))
CACHE = ROOT / ".qt" / "research"
RESULTS = Path(__file__).resolve().parent / "results"

# core/costs.ts
TAKER_FEE_RATE = 0.0005
SLIPPAGE_BPS = 2.0
# core/labels.ts DEFAULT_TRADE_COSTS.stepMs and the kline interval of the shared data.
STEP_MS = 15_000
INTERVAL_MS = 300_000
TICKS = INTERVAL_MS // STEP_MS

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def utc_ms(text: str) -> int:
    return int(np.datetime64(text, "ms").astype(np.int64))


# ---- the protocol (models/research/README.md) ----
# The reserved fold: never evaluated during research, no choice is made with it.
RESERVED_START = utc_ms("2025-10-24T00:00")
# Development test rows end one day before the reserved fold, so no label of horizon <= 23 h can
# look into it.
DEV_END = RESERVED_START - DAY_MS
DEV_TEST_START = utc_ms("2025-08-15T00:00")
DEV_FOLDS = 4
EMBARGO_MS = HOUR_MS


@dataclass(frozen=True)
class Fold:
    name: str
    train_end: int  # training rows: open time < train_end
    test_start: int
    test_end: int


def dev_folds(horizon_ms: int) -> list[Fold]:
    """Expanding walk-forward folds over the development period. Training rows end a purge of one
    label horizon plus an embargo before the test block, so no training label sees a test candle."""
    edges = np.linspace(DEV_TEST_START, DEV_END, DEV_FOLDS + 1).astype(np.int64)
    return [Fold(f"F{k + 1}", int(edges[k] - horizon_ms - EMBARGO_MS), int(edges[k]), int(edges[k + 1])) for k in range(DEV_FOLDS)]


def label_horizon_ms(max_hold_s: int) -> int:
    return INTERVAL_MS + max_hold_s * 1000


@dataclass
class Market:
    """All symbols on one shared timeline (the shared data has no gaps): arrays [symbols, candles]."""
    symbols: list[str]
    time: np.ndarray  # open time ms, [candles]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


def load_market(data_dir: Path = DATA_DIR) -> Market:
    # Caches are per data directory (the outcomes and context caches follow the same data).
    cache = CACHE / "market.npz"
    stamp = CACHE / "market.source"
    if cache.exists() and (not stamp.exists() or stamp.read_text() != str(data_dir.resolve())):
        raise SystemExit(f"{CACHE} holds caches of another data directory; remove it to start over")
    if cache.exists():
        z = np.load(cache, allow_pickle=False)
        return Market(list(z["symbols"]), z["time"], z["open"], z["high"], z["low"], z["close"], z["volume"])
    files = sorted(data_dir.glob("*.csv.gz"))
    if not files:
        raise SystemExit(f"no *.csv.gz klines in {data_dir} (set QT_RESEARCH_DATA)")
    series = []
    for f in files:
        with gzip.open(f, "rt") as fh:
            header = fh.readline().strip()
            if header != "timestamp,open,high,low,close,volume":
                raise SystemExit(f"{f}: unexpected header {header!r}")
            a = np.loadtxt(fh, delimiter=",", dtype=np.float64)
        if np.any(np.diff(a[:, 0]) != INTERVAL_MS):
            raise SystemExit(f"{f}: gaps or a different interval; the research scripts expect gap-free 5 m series")
        series.append(a)
    # Symbols start a few candles apart: one timeline from the earliest to the latest candle, NaN
    # where a symbol has no candle yet.
    start = min(int(a[0, 0]) for a in series)
    end = max(int(a[-1, 0]) for a in series)
    times = np.arange(start, end + 1, INTERVAL_MS, dtype=np.int64)
    stack = np.full((len(series), len(times), 5), np.nan)
    for i, a in enumerate(series):
        at = (a[:, 0].astype(np.int64) - start) // INTERVAL_MS
        stack[i, at] = a[:, 1:6]
    m = Market([f.name.removesuffix(".csv.gz") for f in files], times, *(np.ascontiguousarray(stack[:, :, i]) for i in range(5)))
    CACHE.mkdir(parents=True, exist_ok=True)
    stamp.write_text(str(data_dir.resolve()))
    np.savez(cache, symbols=np.array(m.symbols), time=m.time, open=m.open, high=m.high, low=m.low, close=m.close, volume=m.volume)
    return m
