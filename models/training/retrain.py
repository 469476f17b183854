"""One retraining of the learning loop, in resumable stages (run by the worker's trainCandidate activity).

    retrain.py --work DIR --dataset DS.json --outcomes OUT.json --out STORE/VERSION --active-dir DIR [...]

Stages, each skipped when its checkpoint exists (a worker killed mid-training resumes where it stopped):
  candidate  train.py on the dataset -> STORE/VERSION (model.onnx, parity-sample.json, card.json last)
  control    train.py --shuffle-labels on the same dataset -> WORK/control (the gate's chance level;
             a shuffled-label candidate is its own control)
  evidence   the most recent walk-forward test block scored by the ACTIVE model -> WORK/evidence.json
  meta       the agent's own trades: label check and the meta-labelling model -> WORK/meta.json
Then the card gets a `retraining` section. Progress goes to stdout as one JSON object per line.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from evaluation import trade_metrics  # noqa: E402
from train import load_dataset, make_folds  # noqa: E402

CALIBRATION_FRACTION = 0.15  # train.py's calibration slice: the folds must be cut exactly as it cuts them


def progress(stage: str, detail: str) -> None:
    print(json.dumps({"stage": stage, "detail": detail}), flush=True)


def die_with_parent() -> None:
    """Linux: the trainer dies with the worker that started it (no orphan training after a SIGKILL)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def run_train(stage: str, args: argparse.Namespace, out: Path, shuffle: bool) -> None:
    if (out / "card.json").exists():
        progress(stage, "checkpoint found, skipped")
        return
    cmd = [sys.executable, str(HERE / "train.py"), "--dataset", args.dataset, "--out", str(out), "--folds", str(args.folds),
           "--trees", str(args.trees), "--max-rows", str(args.max_rows), "--threads", str(args.threads), "--seed", str(args.seed)]
    if shuffle:
        cmd.append("--shuffle-labels")
    child = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, preexec_fn=die_with_parent)
    for line in child.stderr:  # train.py logs its folds on stderr
        progress(stage, line.strip())
    if child.wait() != 0:
        raise SystemExit(f"{stage}: train.py exited with {child.returncode}")


def control_dir(args: argparse.Namespace) -> Path:
    """A candidate trained on shuffled labels is its own control (the same training, same seed): not trained twice."""
    return Path(args.out) if args.shuffle_labels else Path(args.work) / "control"


def last_fold_rows(side: dict, times: np.ndarray, folds: int) -> np.ndarray:
    horizon = float(side["label"]["horizonMs"])
    f = make_folds(times, folds, horizon, float(side["intervalMs"]) * 12, CALIBRATION_FRACTION)[-1]
    return np.flatnonzero((times >= f["test_start"]) & (times < f["test_end"]))


def score_active(active_dir: Path, X: np.ndarray) -> np.ndarray | None:
    """The ACTIVE model's calibrated probabilities, or None when it does not take one feature row per score."""
    import onnxruntime as ort

    card = json.loads((active_dir / "card.json").read_text())
    if card.get("input", {}).get("kind", "features") != "features":
        return None
    sess = ort.InferenceSession(str(active_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    name = card["input"].get("name") or sess.get_inputs()[0].name
    outputs = [o.name for o in sess.get_outputs()]
    out = "probabilities" if "probabilities" in outputs else outputs[0]
    return np.concatenate([sess.run([out], {name: X[i:i + 50_000]})[0] for i in range(0, len(X), 50_000)])


def public(m: dict) -> dict:
    return {k: v for k, v in m.items() if not k.startswith("_")}


def evidence_stage(args, side, X, meta) -> None:
    path = Path(args.work) / "evidence.json"
    if path.exists():
        progress("evidence", "checkpoint found, skipped")
        return
    times, y = meta[:, 0], meta[:, 2].astype(np.int64)
    te = last_fold_rows(side, times, args.folds)
    card = json.loads((Path(args.out) / "card.json").read_text())
    control = json.loads((control_dir(args) / "card.json").read_text())
    fold, control_fold = card["metrics"]["folds"][-1], control["metrics"]["folds"][-1]
    active_card = json.loads((Path(args.active_dir) / "card.json").read_text())
    progress("evidence", f"scoring the ACTIVE model {active_card['name']} on {len(te)} rows of the last test block")
    p = score_active(Path(args.active_dir), X[te])
    active = None if p is None else {"version": active_card["name"], **public(trade_metrics(p, y[te], meta[te, 3], meta[te, 4], args.threshold))}
    evidence = {
        "block": fold["range"], "rows": int(len(te)),
        "candidate": public(fold["model"]),
        "active": active,
        "baselines": {k: public(v) for k, v in fold["baselines"].items()},
        "control": public(control_fold["model"]),
        "note": "the ACTIVE model may have been trained on this block (it was trained before this retraining): an advantage to it, so the comparison is conservative",
    }
    path.write_text(json.dumps(evidence, indent=2, allow_nan=False))


def meta_stage(args, side, X, meta) -> None:
    """The agent's own trades: (a) how the dataset's simulated outcome agrees with what was realized, and
    (b) a meta-labelling model (is a signal of this model worth taking?) when there are enough trades."""
    path = Path(args.work) / "meta.json"
    if path.exists():
        progress("meta", "checkpoint found, skipped")
        return
    trades = json.loads(Path(args.outcomes).read_text())
    sym_id = {s: i for i, s in enumerate(side["symbols"])}
    index = {(int(meta[i, 1]), int(meta[i, 0])): i for i in range(len(meta))}
    rows, realized, simulated, sides = [], [], [], []
    for t in trades:
        i = index.get((sym_id.get(t["symbol"], -1), int(t["candleTime"])))
        if i is None:
            continue
        rows.append(i)
        realized.append(float(t["netReturn"]))
        simulated.append(float(meta[i, 3] if t["side"] == "LONG" else meta[i, 4]))
        sides.append(1.0 if t["side"] == "LONG" else -1.0)
    out = {"ownTrades": len(trades), "matchedToDataset": len(rows)}
    if rows:
        r, s = np.array(realized), np.array(simulated)
        out["labelCheck"] = {"sameSign": float(((r > 0) == (s > 0)).mean()), "meanRealized": float(r.mean()), "meanSimulated": float(s.mean())}
    if len(rows) < args.meta_min_trades:
        out["metaModel"] = {"trained": False, "reason": f"too few own trades ({len(rows)} matched < {args.meta_min_trades}): meta-model not trained"}
    else:
        from sklearn.linear_model import LogisticRegression

        order = np.argsort(meta[rows, 0])  # time order: fit on the earlier 70 %, judge on the later 30 %
        Z = np.column_stack([X[rows], sides])[order]
        won = (np.array(realized) > 0).astype(int)[order]
        cut = int(len(Z) * 0.7)
        if len(set(won[:cut])) < 2:
            out["metaModel"] = {"trained": False, "reason": "own trades of one outcome only: meta-model not trained"}
        else:
            lr = LogisticRegression(max_iter=500, C=0.5).fit(Z[:cut], won[:cut])
            acc = float((lr.predict(Z[cut:]) == won[cut:]).mean())
            out["metaModel"] = {"trained": True, "kind": "logistic regression on the entry features and side", "trainTrades": cut,
                                "testTrades": int(len(Z) - cut), "testAccuracy": acc, "testBaseRate": float(max(won[cut:].mean(), 1 - won[cut:].mean())),
                                "used": False}
    path.write_text(json.dumps(out, indent=2, allow_nan=False))


def finish_card(args) -> None:
    card_path = Path(args.out) / "card.json"
    card = json.loads(card_path.read_text())
    work = Path(args.work)
    card["retraining"] = {
        "window": json.loads((work / "window.json").read_text()) if (work / "window.json").exists() else None,
        "evidence": json.loads((work / "evidence.json").read_text()),
        "ownOutcomes": json.loads((work / "meta.json").read_text()),
        "ownOutcomesUse": ("(a) the regular dataset already holds every candle the agent traded on, labelled by the same exits "
                           "and costs, so realized outcomes are not added as rows (that would count those candles twice); they "
                           "check the labels instead (labelCheck). (b) the meta-labelling model is trained and reported here "
                           "as evidence only: the signal path has one scorer, and a meta-model deciding entries would need a "
                           "gate of its own."),
    }
    card_path.write_text(json.dumps(card, indent=2, allow_nan=False))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--outcomes", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--active-dir", required=True)
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--trees", type=int, default=40)
    ap.add_argument("--max-rows", type=int, default=150_000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threshold", type=float, default=0.55)
    ap.add_argument("--meta-min-trades", type=int, default=50)
    ap.add_argument("--shuffle-labels", action="store_true")
    args = ap.parse_args()
    die_with_parent()
    if hasattr(os, "nice") and os.nice(0) < 15:
        os.nice(15 - os.nice(0))
    started = time.time()
    run_train("candidate", args, Path(args.out), args.shuffle_labels)
    run_train("control", args, control_dir(args), True)
    side, X, meta, _ = load_dataset(Path(args.dataset))
    evidence_stage(args, side, X, meta)
    meta_stage(args, side, X, meta)
    finish_card(args)
    progress("done", f"{time.time() - started:.0f}s")


if __name__ == "__main__":
    main()
