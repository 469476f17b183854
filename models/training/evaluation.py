"""Out-of-sample figures in trading terms, for the model and for the baselines on the same rows."""

from __future__ import annotations

import time

import numpy as np

MOMENTUM_Z = 1.5  # Same rule as strategies/momentum.ts: trade the 12-candle move when it exceeds 1.5 sigma.


def trade_metrics(p: np.ndarray, y: np.ndarray, long_ret: np.ndarray, short_ret: np.ndarray, threshold: float) -> dict:
    """Accuracy and log loss of the class probabilities, plus what trading every signal whose
    confidence clears `threshold` would have netted with the agent's exits and costs."""
    pred = p.argmax(axis=1)
    conf = p.max(axis=1)
    trade = (pred != 0) & (conf >= threshold)
    net = np.where(pred == 1, long_ret, short_ret)[trade]
    ll = -np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-7, 1.0)))
    return _figures(n=len(y), correct=int((pred == y).sum()), log_loss_sum=float(ll * len(y)), net=net)


def _figures(n: int, correct: int, log_loss_sum: float | None, net: np.ndarray) -> dict:
    """Hard-signal rules have no probabilities, hence no log loss (None, i.e. JSON null)."""
    trades = int(len(net))
    return {
        "rows": n, "accuracy": correct / max(n, 1), "logLoss": None if log_loss_sum is None else log_loss_sum / max(n, 1), "trades": trades,
        "tradeRate": trades / max(n, 1), "hitRate": float((net > 0).mean()) if trades else 0.0,
        "meanNetReturn": float(net.mean()) if trades else 0.0, "sumNetReturn": float(net.sum()),
        "_correct": correct, "_llSum": log_loss_sum, "_wins": int((net > 0).sum()),
    }


def _signal_metrics(pred: np.ndarray, y, long_ret, short_ret) -> dict:
    """Figures for a rule that only emits hard signals (always treated as clearing the threshold)."""
    trade = pred != 0
    net = np.where(pred == 1, long_ret, short_ret)[trade]
    return _figures(n=len(y), correct=int((pred == y).sum()), log_loss_sum=None, net=net)


def momentum_signals(X: np.ndarray, names: list[str]) -> np.ndarray:
    z = X[:, names.index("ret_12")] / (X[:, names.index("vol_48")] * np.sqrt(12) + 1e-12)
    return np.where(z > MOMENTUM_Z, 1, np.where(z < -MOMENTUM_Z, 2, 0))


def baselines_for_fold(X, names, y, long_ret, short_ret, tr, te, y_train, args, rng, model_rate: float) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    yt, lt, st = y[te], long_ret[te], short_ret[te]
    hold = np.zeros((len(te), 3))
    hold[:, 0] = 1
    mom = momentum_signals(X[te], names)
    # Random entries at the model's trade frequency (the momentum rule's when the model never trades).
    rate = model_rate if model_rate > 0 else float((mom != 0).mean())
    rand = np.where(rng.random(len(te)) < rate, rng.integers(1, 3, len(te)), 0)
    lr_rows = tr if len(tr) <= 100_000 else np.sort(rng.choice(tr, 100_000, replace=False))
    scaler = StandardScaler().fit(X[lr_rows])
    lr = LogisticRegression(max_iter=300, C=1.0).fit(scaler.transform(X[lr_rows]), y_train[lr_rows])
    p_lr = np.zeros((len(te), 3))
    p_lr[:, lr.classes_.astype(int)] = lr.predict_proba(scaler.transform(X[te]))
    return {
        "alwaysHold": trade_metrics(hold, yt, lt, st, args.threshold),
        "random": _signal_metrics(rand, yt, lt, st),
        "momentum": _signal_metrics(mom, yt, lt, st),
        "logistic": trade_metrics(p_lr, yt, lt, st, args.threshold),
    }


def _pool(items: list[dict]) -> dict:
    n = sum(i["rows"] for i in items)
    trades = sum(i["trades"] for i in items)
    s = sum(i["sumNetReturn"] for i in items)
    return {
        "rows": n, "accuracy": sum(i["_correct"] for i in items) / max(n, 1), "logLoss": None if any(i["_llSum"] is None for i in items) else sum(i["_llSum"] for i in items) / max(n, 1),
        "trades": trades, "tradeRate": trades / max(n, 1), "hitRate": sum(i["_wins"] for i in items) / trades if trades else 0.0,
        "meanNetReturn": s / trades if trades else 0.0, "sumNetReturn": s,
    }


def pooled(folds: list[dict]) -> dict:
    names = folds[0]["baselines"].keys()
    return {"model": _pool([f["model"] for f in folds]), "baselines": {b: _pool([f["baselines"][b] for f in folds]) for b in names}}


def iso_time(ms: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(ms) / 1000))


def fold_record(k: int, fold_range: dict, y_test: np.ndarray, model_metrics: dict, baselines: dict, **extra) -> dict:
    """One walk-forward fold as it goes into a model card (both trainers write the same shape)."""
    return {
        "fold": k + 1,
        # Chance level for accuracy: always predicting the most frequent class of the test rows.
        "chanceAccuracy": float(np.bincount(y_test, minlength=3).max() / max(len(y_test), 1)),
        "testRows": int(len(y_test)),
        "range": {key: iso_time(v) for key, v in fold_range.items()},
        **extra,
        "model": model_metrics,
        "baselines": baselines,
    }


def summarize_folds(fold_results: list[dict]) -> dict:
    """Pooled out-of-sample figures, with the test-row-weighted chance accuracy."""
    summary = pooled(fold_results)
    rows = sum(f["testRows"] for f in fold_results)
    summary["chanceAccuracy"] = sum(f["chanceAccuracy"] * f["testRows"] for f in fold_results) / max(1, rows)
    return summary


PROMOTION_RULE = "pooled out-of-sample net return per trade > 0 and above random, momentum and logistic regression, with at least 100 trades"


def beats_baselines(s: dict) -> dict:
    """Promotion test: enough trades, positive net return, and above every trading baseline."""
    m = s["model"]
    enough = m["trades"] >= 100
    res = {"enoughTrades": enough, "positive": m["meanNetReturn"] > 0}
    for name in ("random", "momentum", "logistic"):
        bl = s["baselines"][name]
        res[name] = bool(m["meanNetReturn"] > bl["meanNetReturn"]) if bl["trades"] > 0 else bool(m["meanNetReturn"] > 0)
    res["all"] = bool(enough and res["positive"] and res["random"] and res["momentum"] and res["logistic"])
    return res
