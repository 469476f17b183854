"""Backup signal model: a compact Temporal Fusion Transformer over windows of past feature rows.

Reads the same dataset as the XGBoost trainer (`qt dataset build`: sidecar JSON + .features.npy +
.meta.npy, features from core/features.ts), turns it into windows of the last N rows of one symbol
([batch, N, F]), evaluates on the trainer's walk-forward folds (purge + embargo) with the same trade
metrics and baselines, and ships the model of the last fold, so the out-of-sample figures in the card
are those of the exact weights that ship. PyTorch is too heavy for CI: this runs offline in its own
venv (see requirements-tft.txt) and the ONNX file is committed.

    nice -n 15 .venv-tft/bin/python models/training/tft.py --dataset .qt/datasets/shared.json --out models/tft-v1 \
        --fixture-dataset .qt/datasets/tft-fixture.json --fixture-out test/fixtures/tft-v1/expected.json

The card's `retrainCommand` has the full sequence with the dataset builds.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluation import PROMOTION_RULE, baselines_for_fold, beats_baselines, fold_record, iso_time, summarize_folds, trade_metrics  # noqa: E402
from train import load_dataset, make_folds, subsample  # noqa: E402

PARITY_ATOL = 1e-4


def log(msg: str) -> None:
    print(f"[tft {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def window_ends(meta: np.ndarray, interval_ms: float, length: int) -> np.ndarray:
    """Rows that close a window of `length` consecutive candles of one symbol. Rows are grouped by symbol
    in time order; a gap (missing candle, warm-up restart, unlabelled row) breaks the run."""
    times, sym = meta[:, 0], meta[:, 1]
    joined = np.zeros(len(meta), dtype=bool)
    joined[1:] = (sym[1:] == sym[:-1]) & (times[1:] - times[:-1] == interval_ms)
    # Length of the run of consecutive rows ending at each row.
    run_start = np.where(~joined, np.arange(len(meta)), 0)
    run_start = np.maximum.accumulate(run_start)
    run_len = np.arange(len(meta)) - run_start + 1
    return np.flatnonzero(run_len >= length)


def gather(X: np.ndarray, ends: np.ndarray, length: int) -> np.ndarray:
    return X[ends[:, None] + np.arange(-length + 1, 1)[None, :]]


def predict(model, X: np.ndarray, ends: np.ndarray, length: int, temperature: float = 1.0, batch: int = 2048) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(ends), batch):
            logits = model(torch.from_numpy(gather(X, ends[i:i + batch], length)))
            out.append(torch.softmax(logits / temperature, dim=-1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 3), dtype=np.float32)


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-7, 1.0))))


def fit_fold(X, y_src, tr, va, args, seed):
    """Train on windows ending at `tr`, keep the epoch with the best loss on the later slice `va`, then fit
    one temperature on `va` (the only calibration, so the probabilities stay a plain softmax)."""
    import torch
    from tft_model import TemporalFusionClassifier

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = TemporalFusionClassifier(X.shape[1], d=args.d_model, n_heads=args.heads, dropout=args.dropout)
    rows = np.unique(gather(X, tr[: min(len(tr), 20_000)], args.window).reshape(-1, X.shape[1]), axis=0)
    model.set_normalisation(torch.tensor(rows.mean(0)), torch.tensor(rows.std(0)))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    xb_all, yb_all = gather(X, tr, args.window), torch.from_numpy(y_src[tr])
    best = (np.inf, None, -1)
    for epoch in range(args.epochs):
        model.train()
        order = rng.permutation(len(tr))
        t0, total = time.time(), 0.0
        for i in range(0, len(order), args.batch):
            b = order[i:i + args.batch]
            loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(xb_all[b])), yb_all[b])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            total += loss.item() * len(b)
        val = log_loss(predict(model, X, va, args.window), y_src[va])
        log(f"    epoch {epoch + 1}/{args.epochs}: train loss {total / len(order):.4f}, validation {val:.4f} ({time.time() - t0:.0f}s)")
        if val < best[0]:
            best = (val, copy.deepcopy(model.state_dict()), epoch + 1)
    model.load_state_dict(best[1])
    p_va = predict(model, X, va, args.window)
    temps = np.exp(np.linspace(np.log(0.5), np.log(3.0), 41))
    losses = [log_loss(_retemper(p_va, t), y_src[va]) for t in temps]
    temperature = float(temps[int(np.argmin(losses))])
    return model, temperature, best[2]


def _retemper(p: np.ndarray, t: float) -> np.ndarray:
    z = np.log(np.clip(p, 1e-12, 1.0)) / t
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True, help="sidecar JSON written by `qt dataset build`")
    ap.add_argument("--out", required=True, help="model directory, e.g. models/tft-v1")
    ap.add_argument("--window", type=int, default=32, help="feature rows per input sequence")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--max-rows", type=int, default=30_000, help="training windows per fold (seeded subsample)")
    ap.add_argument("--max-test", type=int, default=100_000, help="test windows per fold (seeded subsample)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--d-model", type=int, default=16)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--threshold", type=float, default=0.55)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--shuffle-labels", action="store_true", help="control: permute training labels; must fall to chance")
    ap.add_argument("--fixture-dataset", help="small dataset whose windows get expected outputs for the Node test")
    ap.add_argument("--fixture-out", help="where to write those expected outputs (JSON)")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    started = time.time()
    rng = np.random.default_rng(args.seed)
    side, X, meta, data_hash = load_dataset(Path(args.dataset))
    names = side["featureNames"]
    y = meta[:, 2].astype(np.int64)
    long_ret, short_ret = meta[:, 3], meta[:, 4]
    ends = window_ends(meta, float(side["intervalMs"]), args.window)
    times = meta[ends, 0]
    horizon = float(side["label"]["horizonMs"])
    # Same purge as the primary; the embargo also covers the window, so no test window holds a training row.
    purge, embargo = horizon, float(side["intervalMs"]) * max(12, args.window)
    log(f"{len(y)} rows, {len(ends)} windows of {args.window}, {X.shape[1]} features, classes {np.bincount(y, minlength=3).tolist()}")
    y_src = rng.permutation(y) if args.shuffle_labels else y

    fold_results, shipped = [], None
    for k, f in enumerate(make_folds(times, args.folds, purge, embargo, 0.15)):
        tr = subsample(ends[times < f["train_end"]], args.max_rows, rng)
        va = subsample(ends[(times >= f["cal_start"]) & (times < f["cal_end"])], max(args.max_rows // 3, 1), rng)
        te = subsample(ends[(times >= f["test_start"]) & (times < f["test_end"])], args.max_test, rng)
        log(f"fold {k + 1}/{args.folds}: train {len(tr)} validation {len(va)} test {len(te)} windows")
        if min(len(tr), len(va), len(te)) == 0:
            raise SystemExit(f"fold {k + 1}: empty train, validation or test set: the dataset spans too little time for {args.folds} folds")
        model, temperature, epoch = fit_fold(X, y_src, tr, va, args, args.seed + k)
        p = predict(model, X, te, args.window, temperature)
        m = trade_metrics(p, y[te], long_ret[te], short_ret[te], args.threshold)
        res = fold_record(k, f, y[te], m,
                          baselines_for_fold(X, names, y, long_ret, short_ret, tr, te, y_src, args, rng, m["tradeRate"]),
                          bestEpoch=epoch, temperature=temperature)
        hold = res["baselines"]["alwaysHold"]
        log(f"  acc {m['accuracy']:.4f} (always-HOLD {hold['accuracy']:.4f}) log loss {m['logLoss']:.4f} "
            f"trades {m['trades']} net/trade {m['meanNetReturn']:.5f} hit {m['hitRate']:.3f}")
        fold_results.append(res)
        shipped = (model, temperature, f, res)

    summary = summarize_folds(fold_results)
    beats = beats_baselines(summary)
    promotable = bool(beats["all"] and not args.shuffle_labels)
    model, temperature, last_fold, last_res = shipped

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from tft_export import export_onnx, variable_importance, write_fixture

    check = subsample(ends[meta[ends, 0] >= last_fold["test_start"]], 512, rng)
    parity = export_onnx(model, temperature, gather(X, check, args.window), out / "model.onnx", PARITY_ATOL)
    log(f"ONNX parity on {len(check)} real windows: max |diff| {parity['maxDiff']:.2e}")
    if args.fixture_dataset and args.fixture_out:
        n = write_fixture(model, temperature, Path(args.fixture_dataset), Path(args.fixture_out), out / "model.onnx", args.window, PARITY_ATOL)
        log(f"wrote {n} expected outputs to {args.fixture_out}")

    card = {
        "name": out.name,
        "kind": "tft",
        "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "input": {"kind": "sequence", "length": args.window, "name": "features", "shape": [None, args.window, len(names)],
                  "dtype": "float32", "order": "oldest row first; the last row is the last closed candle",
                  "candlesNeeded": int(side["warmupCandles"]) + args.window - 1},
        "outputs": {"probabilities": "softmax class probabilities [batch, 3] in class order (temperature-scaled)"},
        "featureNames": names,
        "classes": ["HOLD", "BUY", "SELL"],
        "label": side["label"],
        "architecture": {"dModel": args.d_model, "heads": args.heads, "dropout": args.dropout, "parameters": int(sum(p.numel() for p in model.parameters())),
                         "parts": ["per-variable embeddings", "variable selection network (GRNs)", "LSTM encoder", "gated skip + layer norm",
                                   "enrichment GRN", "interpretable multi-head attention", "position-wise GRN", "linear head"],
                         "normalisation": "training mean/std inside the graph, clipped to +-6 sigma"},
        "variableImportance": variable_importance(model, X, check, args.window, names),
        "calibration": f"one temperature ({temperature:.3f}) fitted on the validation slice before the test block; inside the graph",
        "data": {"symbols": side["symbols"], "intervalMs": side["intervalMs"], "firstTime": iso_time(meta[:, 0].min()), "lastTime": iso_time(meta[:, 0].max()),
                 "rows": int(len(y)), "windows": int(len(ends)), "classCounts": dict(zip(["HOLD", "BUY", "SELL"], np.bincount(y, minlength=3).tolist())),
                 "hash": f"sha256:{data_hash}", "shippedTrainEnd": last_res["range"]["train_end"],
                 "shippedValidation": [last_res["range"]["cal_start"], last_res["range"]["cal_end"]],
                 "shippedTest": [last_res["range"]["test_start"], last_res["range"]["test_end"]]},
        "validation": {"scheme": "expanding walk-forward across all symbols at once (the primary's folds); the shipped weights are the last fold's",
                       "folds": args.folds, "purgeMs": purge, "embargoMs": embargo, "threshold": args.threshold,
                       "tradeMetricsNote": "each qualifying signal counted as a trade with the agent's exits and costs (overlapping trades allowed)"},
        "metrics": {"outOfSample": summary, "shippedModelTest": {"model": last_res["model"], "baselines": last_res["baselines"]}, "folds": fold_results},
        "beatsBaselines": beats,
        "promotable": promotable,
        "promotionRule": PROMOTION_RULE,
        "shuffledLabels": bool(args.shuffle_labels),
        "parity": {"maxDiff": parity["maxDiff"], "atol": PARITY_ATOL, "opset": parity["opset"]},
        "training": {k: v for k, v in vars(args).items() if k not in ("dataset", "out", "fixture_dataset", "fixture_out")},
        "retrainCommand": _retrain_command(args),
        "libraries": _versions(),
        "trainingSeconds": round(time.time() - started, 1),
    }
    (out / "card.json").write_text(json.dumps(card, indent=2, allow_nan=False) + "\n")
    log(f"wrote {out}/model.onnx and card.json (promotable={promotable}) in {time.time() - started:.0f}s")


def _retrain_command(args) -> str:
    """The exact commands that rebuild the shared dataset and the fixture dataset, then retrain and re-export."""
    return ("mkdir -p .qt/datasets && npm run qt -- dataset build --data ../shared/data/binance-futures-5m --out .qt/datasets/shared.json && "
            "npm run qt -- dataset build --data test/fixtures/tft-v1/klines --out .qt/datasets/tft-fixture.json && "
            f"nice -n 15 .venv-tft/bin/python models/training/tft.py --dataset .qt/datasets/shared.json --out {args.out} "
            f"--window {args.window} --folds {args.folds} --epochs {args.epochs} --max-rows {args.max_rows} --max-test {args.max_test} "
            f"--seed {args.seed} --fixture-dataset .qt/datasets/tft-fixture.json --fixture-out test/fixtures/tft-v1/expected.json")


def _versions():
    import onnx
    import onnxruntime
    import sklearn
    import torch

    return {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__, "scikit-learn": sklearn.__version__}


if __name__ == "__main__":
    main()
