"""Earlier (and later) Binance USD-M 5-minute klines from a public repository, in the project's format.

Source: the public GitHub repository Harthor/marketlab, commit 6135a753162dd7dfe1c4d7fd282c1c8b65c5bede,
folder user_data/data/binance/futures/, files `<BASE>_USDT_USDT-5m-futures.feather` (Freqtrade's
futures candle files: date, open, high, low, close, volume). The repository has no licence file.

For every such file of a symbol that the shared data also has, this writes `<SYMBOL>.csv.gz` with the
header `timestamp,open,high,low,close,volume` (open time in ms, as in the shared data), refuses a
series with a gap, and checks every overlapping candle against the shared data: all six values
must be equal.

    git clone https://github.com/Harthor/marketlab /tmp/marketlab
    python3 -m venv .venv-research && .venv-research/bin/pip install -r models/research/requirements.txt
    .venv-research/bin/python models/research/history.py --repo /tmp/marketlab --out .qt/data/binance-futures-5m-history

Reading feather needs pyarrow (models/research/requirements.txt), which the project's own venv does
not carry.
"""

from __future__ import annotations

import argparse
import gzip
import io
import subprocess
from pathlib import Path

import numpy as np

COMMIT = "6135a753162dd7dfe1c4d7fd282c1c8b65c5bede"
FOLDER = "user_data/data/binance/futures"
SUFFIX = "_USDT_USDT-5m-futures.feather"
INTERVAL_MS = 300_000


def read_shared(path: Path) -> np.ndarray:
    with gzip.open(path, "rt") as fh:
        fh.readline()
        return np.loadtxt(fh, delimiter=",", dtype=np.float64, ndmin=2)


def main() -> None:
    import pyarrow as pa
    import pyarrow.feather as feather

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", type=Path, required=True, help="a clone of Harthor/marketlab")
    ap.add_argument("--commit", default=COMMIT)
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data" / "binance-futures-5m")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    listing = subprocess.run(["git", "-C", str(args.repo), "ls-tree", "--name-only", args.commit, f"{FOLDER}/"],
                             check=True, capture_output=True, text=True).stdout.split()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in sorted(listing):
        if not name.endswith(SUFFIX):
            continue
        symbol = name.rsplit("/", 1)[1].removesuffix(SUFFIX) + "USDT"
        shared_file = args.shared / f"{symbol}.csv.gz"
        if not shared_file.exists():
            continue
        shown = subprocess.run(["git", "-C", str(args.repo), "show", f"{args.commit}:{name}"], capture_output=True)
        if shown.returncode != 0:  # e.g. a large object missing from a partial clone
            print(f"{symbol}: not readable from the clone ({shown.stderr.decode().strip()[:80]}); skipped")
            continue
        table = feather.read_table(io.BytesIO(shown.stdout))
        ts = table.column("date").cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64()).to_numpy().astype(np.int64)
        values = np.stack([table.column(c).to_numpy().astype(np.float64) for c in ("open", "high", "low", "close", "volume")], axis=1)
        if np.any(np.diff(ts) != INTERVAL_MS):
            raise SystemExit(f"{symbol}: gaps in the source series")
        shared = read_shared(shared_file)
        common, ia, ib = np.intersect1d(ts, shared[:, 0].astype(np.int64), return_indices=True)
        differing = int((values[ia] != shared[ib, 1:6]).any(axis=1).sum())
        if differing:
            raise SystemExit(f"{symbol}: {differing} of {len(common)} overlapping candles differ from the shared data")
        with gzip.open(args.out / f"{symbol}.csv.gz", "wt") as fh:
            fh.write("timestamp,open,high,low,close,volume\n")
            for t, row in zip(ts, values):
                fh.write(f"{t}," + ",".join(repr(float(v)) for v in row) + "\n")
        iso = lambda ms: np.datetime64(int(ms), "ms").astype(str)[:16]  # noqa: E731
        print(f"{symbol}: {len(ts)} candles {iso(ts[0])} .. {iso(ts[-1])}; {len(common)} overlap the shared data, all equal; "
              f"{int((ts < shared[0, 0]).sum())} before it, {int((ts > shared[-1, 0]).sum())} after it")


if __name__ == "__main__":
    main()
