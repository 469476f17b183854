"""Walk-forward XGBoost training with baselines, calibration and ONNX export.

Reads a dataset written by `qt dataset build` (sidecar JSON + .features.npy + .meta.npy), evaluates
out of sample on time-ordered folds across all symbols at once, then trains the shipped model and
exports it to ONNX with plain tensor outputs. Run through `qt train` or directly:

    .venv/bin/python models/training/train.py --dataset data/ds.json --out models/xgb-v2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

# BLAS threads fight XGBoost's own threads on a small shared machine: one BLAS thread is much faster.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluation import PROMOTION_RULE, baselines_for_fold, beats_baselines, fold_record, iso_time, summarize_folds, trade_metrics  # noqa: E402
from export import export_onnx  # noqa: E402

CLASSES = ["HOLD", "BUY", "SELL"]


def log(msg: str) -> None:
    print(f"[train {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load_dataset(path: Path):
    side = json.loads(path.read_text())
    if side.get("format") != "qt-dataset/1":
        raise SystemExit(f"{path}: not a qt dataset sidecar")
    X = np.load(path.parent / side["featuresFile"], mmap_mode="r")
    meta = np.load(path.parent / side["metaFile"], mmap_mode="r")
    digest = hashlib.sha256()
    for f in (side["featuresFile"], side["metaFile"]):
        with open(path.parent / f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 24), b""):
                digest.update(chunk)
    return side, np.asarray(X, dtype=np.float32), np.asarray(meta), digest.hexdigest()


def make_folds(times: np.ndarray, folds: int, purge: float, embargo: float, cal_frac: float):
    """Expanding-window folds. The time span is cut into folds + 2 equal blocks; fold k tests block k+2.
    Training ends `purge` before the calibration slice, which ends `purge + embargo` before the test:
    no training or calibration label can see into the test block."""
    t0, t1 = float(times.min()), float(times.max()) + 1
    edges = np.linspace(t0, t1, folds + 3)
    out = []
    for k in range(folds):
        test_start, test_end = edges[k + 2], edges[k + 3]
        cal_end = test_start - purge - embargo
        cal_start = cal_end - cal_frac * (cal_end - t0)
        train_end = cal_start - purge
        out.append(dict(train_end=train_end, cal_start=cal_start, cal_end=cal_end, test_start=test_start, test_end=test_end))
    return out


def subsample(idx: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return idx if len(idx) <= n else np.sort(rng.choice(idx, n, replace=False))


def fit_xgb(X, y, args, seed):
    import xgboost as xgb

    model = xgb.XGBClassifier(
        n_estimators=args.trees, max_depth=args.depth, learning_rate=args.eta, subsample=0.8, colsample_bytree=0.8,
        min_child_weight=50, max_bin=128, tree_method="hist", objective="multi:softprob", n_jobs=args.threads,
        random_state=seed, base_score=1 / 3,
    )
    model.fit(X, y)
    return model


def fit_calibration(p_raw: np.ndarray, y: np.ndarray):
    """Matrix scaling: multinomial logistic regression on log-probabilities, fitted on a held-out slice.
    The same formula (softmax(log(p) @ W.T + b)) is built into the ONNX graph, so backtest and live agree."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=10.0, max_iter=500)
    lr.fit(np.log(np.clip(p_raw, 1e-7, 1.0)), y)
    W = np.zeros((3, 3))
    b = np.zeros(3)
    # Classes absent from the calibration slice keep a very negative bias.
    b[:] = -20.0
    for row, cls in enumerate(lr.classes_):
        W[int(cls)] = lr.coef_[row] if len(lr.classes_) > 2 else (lr.coef_[0] if row == 1 else -lr.coef_[0])
        b[int(cls)] = lr.intercept_[row] if len(lr.classes_) > 2 else (lr.intercept_[0] if row == 1 else -lr.intercept_[0])
    return W.astype(np.float32), b.astype(np.float32)


def calibrate(p_raw: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    z = np.log(np.clip(p_raw, 1e-7, 1.0)).astype(np.float32) @ W.T + b
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--trees", type=int, default=40)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--eta", type=float, default=0.15)
    ap.add_argument("--max-rows", type=int, default=150_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--threshold", type=float, default=0.55)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--shuffle-labels", action="store_true", help="control: permute training labels; must fall to chance")
    args = ap.parse_args()
    # Training shares a small machine with the trading stack: run at low priority.
    if hasattr(os, "nice") and os.nice(0) < 10:
        os.nice(10 - os.nice(0))

    started = time.time()
    rng = np.random.default_rng(args.seed)
    side, X, meta, data_hash = load_dataset(Path(args.dataset))
    names = side["featureNames"]
    times, y = meta[:, 0], meta[:, 2].astype(np.int64)
    long_ret, short_ret = meta[:, 3], meta[:, 4]
    horizon = float(side["label"]["horizonMs"])
    purge, embargo = horizon, float(side["intervalMs"]) * 12
    log(f"{len(y)} rows, {X.shape[1]} features, {len(side['symbols'])} symbols, classes {np.bincount(y, minlength=3).tolist()}")
    y_train_source = rng.permutation(y) if args.shuffle_labels else y

    fold_results = []
    for k, f in enumerate(make_folds(times, args.folds, purge, embargo, 0.15)):
        tr = subsample(np.flatnonzero(times < f["train_end"]), args.max_rows, rng)
        ca = subsample(np.flatnonzero((times >= f["cal_start"]) & (times < f["cal_end"])), args.max_rows, rng)
        te = np.flatnonzero((times >= f["test_start"]) & (times < f["test_end"]))
        log(f"fold {k + 1}/{args.folds}: train {len(tr)} cal {len(ca)} test {len(te)}")
        model = fit_xgb(X[tr], y_train_source[tr], args, args.seed + k)
        W, b = fit_calibration(model.predict_proba(X[ca]), y_train_source[ca])
        p = calibrate(model.predict_proba(X[te]), W, b)
        model_metrics = trade_metrics(p, y[te], long_ret[te], short_ret[te], args.threshold)
        res = fold_record(k, f, y[te], model_metrics,
                          baselines_for_fold(X, names, y, long_ret, short_ret, tr, te, y_train_source, args, rng, model_metrics["tradeRate"]))
        m = res["model"]
        log(f"  acc {m['accuracy']:.4f} trades {m['trades']} net/trade {m['meanNetReturn']:.5f} hit {m['hitRate']:.3f}")
        fold_results.append(res)

    summary = summarize_folds(fold_results)
    beats = beats_baselines(summary)
    promotable = bool(beats["all"] and not args.shuffle_labels)

    # The shipped model: everything but the last calibration slice, which calibrates it.
    cal_start = times.max() - 0.1 * (times.max() - times.min())
    tr = subsample(np.flatnonzero(times < cal_start - purge), args.max_rows, rng)
    ca = subsample(np.flatnonzero(times >= cal_start), args.max_rows, rng)
    log(f"final model: train {len(tr)} rows, calibrate on {len(ca)}")
    model = fit_xgb(X[tr], y_train_source[tr], args, args.seed)
    W, b = fit_calibration(model.predict_proba(X[ca]), y_train_source[ca])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    parity = export_onnx(model, W, b, X[ca[: 2000]], out / "model.onnx", calibrate)
    log(f"ONNX parity: max |raw diff| {parity['maxRawDiff']:.2e}, max |calibrated diff| {parity['maxCalibratedDiff']:.2e}")
    (out / "parity-sample.json").write_text(json.dumps(parity["sample"]))

    card = {
        "name": out.name,
        "kind": "xgboost",
        "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "input": {"kind": "features", "name": "features", "shape": [None, len(names)], "dtype": "float32"},
        "outputs": {"probabilities": "calibrated class probabilities [batch, 3] in class order",
                    "raw_probabilities": "XGBoost probabilities before calibration [batch, 3]"},
        "featureNames": names,
        "classes": CLASSES,
        "label": side["label"],
        "calibration": "matrix scaling softmax(log(p) @ W.T + b), fitted on a held-out slice after the training rows; inside the ONNX graph",
        "data": {"symbols": side["symbols"], "intervalMs": side["intervalMs"], "firstTime": iso_time(times.min()), "lastTime": iso_time(times.max()),
                 "rows": int(len(y)), "classCounts": dict(zip(CLASSES, np.bincount(y, minlength=3).tolist())), "hash": f"sha256:{data_hash}",
                 "finalTrainEnd": iso_time(cal_start - purge), "finalCalibrationStart": iso_time(cal_start)},
        "validation": {"scheme": "expanding walk-forward across all symbols at once", "folds": args.folds,
                       "purgeMs": purge, "embargoMs": embargo, "threshold": args.threshold,
                       "tradeMetricsNote": "each qualifying signal counted as a trade with the agent's exits and costs (overlapping trades allowed)"},
        "metrics": {"outOfSample": summary, "folds": fold_results},
        "beatsBaselines": beats,
        "promotable": promotable,
        "promotionRule": PROMOTION_RULE,
        "shuffledLabels": bool(args.shuffle_labels),
        "parity": {"maxRawDiff": parity["maxRawDiff"], "maxCalibratedDiff": parity["maxCalibratedDiff"], "atol": 1e-5},
        "training": {k: v for k, v in vars(args).items() if k not in ("dataset", "out")},
        "libraries": _versions(),
        "trainingSeconds": round(time.time() - started, 1),
    }
    (out / "card.json").write_text(json.dumps(card, indent=2, allow_nan=False))
    log(f"wrote {out}/model.onnx and card.json (promotable={promotable}) in {time.time() - started:.0f}s")


def _versions():
    import onnx
    import onnxmltools
    import onnxruntime
    import sklearn
    import xgboost

    return {"python": platform.python_version(), "numpy": np.__version__, "xgboost": xgboost.__version__, "onnx": onnx.__version__,
            "onnxmltools": onnxmltools.__version__, "onnxruntime": onnxruntime.__version__, "scikit-learn": sklearn.__version__}


if __name__ == "__main__":
    main()
