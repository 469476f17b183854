"""How large an expected-value model fits the < 2 ms budget for a 45-symbol batch in onnxruntime-node.

Trains the pair of XGBoost regressors (long and short net return, 44 inputs) at several sizes on a
real subsample, exports each to ONNX (onnxmltools, as models/training/export.py does), checks that
onnxruntime's outputs equal XGBoost's, and times both graphs on one 45-row batch in onnxruntime-node
(models/research/latency.mjs): the figure is the time to score a whole tick, both sides.

    nice -n 15 .venv/bin/python models/research/latency.py --dataset .qt/datasets/shared.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, RESULTS, ROOT, load_market  # noqa: E402
from evaluate import DEV_END  # noqa: E402
from features import base_features, context_features  # noqa: E402
from outcomes import AGENT_EXITS, outcomes  # noqa: E402

SIZES = [(100, 4), (300, 6), (600, 6), (1000, 8)]


def main() -> None:
    import onnxruntime as ort
    import xgboost as xgb
    from onnxmltools import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path, default=Path(".qt/datasets/shared.json"))
    ap.add_argument("--rows", type=int, default=60_000)
    args = ap.parse_args()
    m = load_market()
    base, _ = base_features(m, args.dataset)
    X = np.concatenate([base, context_features(m)], axis=2)
    o = outcomes(m, AGENT_EXITS, "path")
    ok = np.isfinite(X[:, :, 0]) & np.isfinite(o["long"]) & (m.time < DEV_END)[None, :]
    s, t = np.nonzero(ok)
    rng = np.random.default_rng(7)
    pick = rng.choice(len(s), args.rows, replace=False)
    Xs, yl, ys = X[s[pick], t[pick]], o["long"][s[pick], t[pick]], o["short"][s[pick], t[pick]]
    out_dir = CACHE / "latency"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for trees, depth in SIZES:
        files = []
        for side, y in (("long", yl), ("short", ys)):
            model = xgb.XGBRegressor(n_estimators=trees, max_depth=depth, learning_rate=0.05, subsample=0.8, colsample_bytree=0.8,
                                     min_child_weight=200, max_bin=128, tree_method="hist", n_jobs=2, random_state=1)
            model.fit(Xs, y)
            model.get_booster().feature_names = None
            onx = convert_xgboost(model, initial_types=[("features", FloatTensorType([None, Xs.shape[1]]))], target_opset=15)
            path = out_dir / f"ev-{side}-n{trees}-d{depth}.onnx"
            path.write_bytes(onx.SerializeToString())
            sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            got = sess.run(None, {"features": Xs[:2000]})[0].ravel()
            diff = float(np.max(np.abs(got - model.predict(Xs[:2000]))))
            if diff > 1e-5:
                raise SystemExit(f"{path}: onnxruntime differs from XGBoost by {diff}")
            files.append(str(path))
        timing = json.loads(subprocess.run(["node", str(Path(__file__).with_name("latency.mjs")), str(Xs.shape[1]), *files],
                                           cwd=ROOT, check=True, capture_output=True, text=True).stdout)
        rows.append({"trees": trees, "depth": depth, **timing})
        print(json.dumps(rows[-1]), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latency.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
