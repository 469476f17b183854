"""Walk-forward evaluation of a strategy next to the baselines, per development fold.

A strategy = features + a model + an entry rule. Every trade is a decision at a candle close, entered
at the next open and closed by the exits the outcomes were computed with (models/research/outcomes.py),
after both fees and slippage. Overlapping trades are allowed (every qualifying signal is a trade, as
in models/training/evaluation.py); `no_overlap` figures also show the agent's one position per
symbol (no entry before the previous trade of that symbol has exited).

Nothing here reads rows at or after common.DEV_END: the reserved fold is never touched.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEV_END, Fold, dev_folds, label_horizon_ms  # noqa: E402
from outcomes import Exits  # noqa: E402

MOMENTUM_Z = 1.5  # backtest/baselines.ts


def log(msg: str) -> None:
    print(f"[research {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@dataclass
class Outcomes:
    long: np.ndarray  # [symbols, candles] net return of a long decided at t
    short: np.ndarray
    long_exit: np.ndarray  # candle index where it exits
    short_exit: np.ndarray


@dataclass
class Data:
    X: np.ndarray  # [symbols, candles, features] float32
    names: list[str]
    time: np.ndarray  # [candles]
    by_path: dict[str, Outcomes]  # intrabar path -> outcomes


@dataclass
class Rule:
    """How scores become trades. kind 'ev': side = the larger predicted net return, traded when it
    exceeds `margin`; kind 'prob': 3-class probabilities, traded when BUY/SELL is the argmax with
    probability >= `threshold`. `top_k`: per candle, only the k best across symbols."""
    name: str
    kind: str = "ev"
    margin: float = 0.0
    threshold: float = 0.55
    top_k: int | None = None


@dataclass
class Rows:
    s: np.ndarray
    t: np.ndarray


def rows_between(d: Data, start: int, end: int) -> Rows:
    if end > DEV_END:
        raise AssertionError("the reserved fold is not evaluated during research")
    tmask = (d.time >= start) & (d.time < end)
    ok = np.isfinite(d.X[:, :, 0]) & tmask[None, :]
    for o in d.by_path.values():
        ok &= np.isfinite(o.long) & np.isfinite(o.short)
    s, t = np.nonzero(ok)
    order = np.lexsort((s, t))  # by time, then symbol
    return Rows(s[order], t[order])


def decide(rule: Rule, score: np.ndarray, rows: Rows) -> tuple[np.ndarray, np.ndarray]:
    """side (+1 long, -1 short, 0 none) and a ranking value per row."""
    if rule.kind == "ev":
        best = np.maximum(score[:, 0], score[:, 1])
        side = np.where(score[:, 0] >= score[:, 1], 1, -1)
        side = np.where(best > rule.margin, side, 0)
        value = best
    elif rule.kind == "prob":
        pred = score.argmax(axis=1)
        conf = score.max(axis=1)
        side = np.where((pred == 1) & (conf >= rule.threshold), 1, np.where((pred == 2) & (conf >= rule.threshold), -1, 0))
        value = conf
    elif rule.kind == "balanced":
        # Per candle: the k symbols with the best predicted long and the k with the best predicted
        # short (a symbol in both keeps the larger); a market-neutral book.
        side = np.zeros(len(score), dtype=np.int64)
        value = np.maximum(score[:, 0], score[:, 1])
        for col, sgn in ((0, 1), (1, -1)):
            order = np.lexsort((-score[:, col], rows.t))
            t_sorted = rows.t[order]
            first = np.r_[0, np.flatnonzero(np.diff(t_sorted)) + 1]
            rank = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
            pick = order[(rank < (rule.top_k or 1)) & (score[order, col] > rule.margin)]
            take = pick[(side[pick] == 0) | (score[pick, col] > score[pick, 1 - col])]
            side[take] = sgn
        return side, value
    elif rule.kind == "signal":
        side = score[:, 0].astype(np.int64)
        value = np.abs(score[:, 1])
    else:
        raise ValueError(rule.kind)
    if rule.top_k:
        cand = np.flatnonzero(side != 0)
        order = cand[np.lexsort((-value[cand], rows.t[cand]))]
        t_sorted = rows.t[order]
        first = np.r_[0, np.flatnonzero(np.diff(t_sorted)) + 1]
        group_start = np.repeat(first, np.diff(np.r_[first, len(order)]))
        rank = np.arange(len(order)) - group_start
        keep = np.zeros(len(side), dtype=bool)
        keep[order[rank < rule.top_k]] = True
        side = np.where(keep, side, 0)
    return side, value


def trade_figures(d: Outcomes, rows: Rows, side: np.ndarray) -> dict:
    take = side != 0
    s, t, sd = rows.s[take], rows.t[take], side[take]
    net = np.where(sd > 0, d.long[s, t], d.short[s, t])
    out = {"trades": int(take.sum()), "net": float(net.mean()) if net.size else 0.0, "hit": float((net > 0).mean()) if net.size else 0.0,
           "sum": float(net.sum())}
    # The agent holds one position per symbol: drop entries while that symbol's previous trade is open.
    busy_until = np.full(d.long.shape[0], -1, dtype=np.int64)
    kept = []
    for i in np.flatnonzero(take):
        si, ti = rows.s[i], rows.t[i]
        if ti + 1 <= busy_until[si]:
            continue
        busy_until[si] = d.long_exit[si, ti] if side[i] > 0 else d.short_exit[si, ti]
        kept.append(i)
    kept = np.array(kept, dtype=np.int64)
    if kept.size:
        n2 = np.where(side[kept] > 0, d.long[rows.s[kept], rows.t[kept]], d.short[rows.s[kept], rows.t[kept]])
        out.update(no_overlap_trades=int(kept.size), no_overlap_net=float(n2.mean()))
    else:
        out.update(no_overlap_trades=0, no_overlap_net=0.0)
    return out


def momentum_side(d: Data, rows: Rows) -> np.ndarray:
    r12 = d.X[rows.s, rows.t, d.names.index("ret_12")]
    v48 = d.X[rows.s, rows.t, d.names.index("vol_48")]
    z = r12 / (v48 * np.sqrt(12) + 1e-12)
    return np.where(z > MOMENTUM_Z, 1, np.where(z < -MOMENTUM_Z, -1, 0))


def random_side(n_rows: int, n_trades: int, rng: np.random.Generator) -> np.ndarray:
    side = np.zeros(n_rows, dtype=np.int64)
    if n_trades:
        pick = rng.choice(n_rows, min(n_trades, n_rows), replace=False)
        side[pick] = rng.choice([-1, 1], len(pick))
    return side


# ---- models ----

@dataclass
class ModelSpec:
    """`xgb-ev`: two XGBoost regressors of the long and short net return; `ridge-ev`: the same with a
    linear model; `xgb-clf`: the current 3-class classifier (HOLD/BUY/SELL label of core/labels.ts);
    `logistic`: multinomial logistic regression on the same label."""
    kind: str
    trees: int = 100
    depth: int = 4
    eta: float = 0.08
    min_child_weight: float = 200
    max_rows: int = 120_000
    features: list[str] | None = None  # None = all columns of Data
    extra: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        f = "all" if self.features is None else f"{len(self.features)}f"
        if not self.kind.startswith("xgb"):
            return f"{self.kind}-{f}"
        rel = "-relative" if self.extra.get("demean") else ""
        return f"{self.kind}{rel}-n{self.trees}-d{self.depth}-e{self.eta:g}-mcw{self.min_child_weight:g}-{f}"


def classes(long: np.ndarray, short: np.ndarray) -> np.ndarray:
    """core/labels.ts classify: 1 BUY, 2 SELL, else 0 HOLD."""
    return np.where((long > 0) & (long > short), 1, np.where((short > 0) & (short > long), 2, 0))


def fit_predict(spec: ModelSpec, Xtr, ltr, str_, Xte, seed: int) -> np.ndarray:
    """Scores for the test rows: [n, 2] expected net returns (ev kinds) or [n, 3] probabilities."""
    if spec.kind == "xgb-ev":
        import xgboost as xgb
        out = []
        for target in (ltr, str_):
            m = xgb.XGBRegressor(n_estimators=spec.trees, max_depth=spec.depth, learning_rate=spec.eta, subsample=0.8, colsample_bytree=0.8,
                                 min_child_weight=spec.min_child_weight, max_bin=128, tree_method="hist", n_jobs=2, random_state=seed)
            m.fit(Xtr, target)
            out.append(m.predict(Xte))
        return np.stack(out, axis=1)
    if spec.kind == "ridge-ev":
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        Xa, Xb = np.nan_to_num(Xtr), np.nan_to_num(Xte)
        return np.stack([make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(Xa, y).predict(Xb) for y in (ltr, str_)], axis=1)
    y = classes(ltr, str_)
    if spec.kind == "xgb-clf":
        import xgboost as xgb
        m = xgb.XGBClassifier(n_estimators=spec.trees, max_depth=spec.depth, learning_rate=spec.eta, subsample=0.8, colsample_bytree=0.8,
                              min_child_weight=spec.min_child_weight, max_bin=128, tree_method="hist", objective="multi:softprob", n_jobs=2,
                              random_state=seed, base_score=1 / 3)
        m.fit(Xtr, y)
        p = np.zeros((len(Xte), 3))
        p[:, m.classes_.astype(int)] = m.predict_proba(Xte)
        return p
    if spec.kind == "logistic":
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler
        sc = StandardScaler().fit(np.nan_to_num(Xtr))
        m = LogisticRegression(max_iter=300, C=1.0).fit(sc.transform(np.nan_to_num(Xtr)), y)
        p = np.zeros((len(Xte), 3))
        p[:, m.classes_.astype(int)] = m.predict_proba(sc.transform(np.nan_to_num(Xte)))
        return p
    raise ValueError(spec.kind)


def evaluate(d: Data, exits: Exits, spec: ModelSpec, rules: list[Rule], train_path: str = "path", seed: int = 42,
             shuffle_control: bool = True) -> dict:
    """Per development fold: the model trained on the outcomes of `train_path`, each rule on its
    scores, the baselines on the same rows and (for the first rule) the shuffled-target control, all
    figures under every intrabar path of `d`."""
    rng = np.random.default_rng(seed)
    cols = list(range(len(d.names))) if spec.features is None else [d.names.index(n) for n in spec.features]
    horizon = label_horizon_ms(exits.max_hold_s)
    result = {"spec": spec.key, "exits": exits.key, "trainedOn": train_path, "folds": []}
    target = d.by_path[train_path]
    for k, f in enumerate(dev_folds(horizon)):
        tr = rows_between(d, 0, f.train_end)
        te = rows_between(d, f.test_start, f.test_end)
        if len(tr.s) > spec.max_rows:
            pick = np.sort(rng.choice(len(tr.s), spec.max_rows, replace=False))
            tr = Rows(tr.s[pick], tr.t[pick])
        Xtr = d.X[tr.s, tr.t][:, cols]
        Xte = d.X[te.s, te.t][:, cols]
        ltr, s_tr = target.long[tr.s, tr.t], target.short[tr.s, tr.t]
        if spec.extra.get("demean"):
            # Relative targets: each row's net minus the mean over the symbols of the same candle, so
            # the model ranks symbols instead of learning the training period's market drift.
            full = rows_between(d, 0, f.train_end)
            n_t = len(d.time)
            for arr, src in ((ltr, target.long), (s_tr, target.short)):
                sums = np.bincount(full.t, weights=src[full.s, full.t], minlength=n_t)
                counts = np.bincount(full.t, minlength=n_t)
                arr -= (sums / np.maximum(counts, 1))[tr.t]
        started = time.time()
        score = fit_predict(spec, Xtr, ltr, s_tr, Xte, seed + k)
        control = None
        if shuffle_control:
            perm = rng.permutation(len(ltr))
            control = fit_predict(spec, Xtr, ltr[perm], s_tr[perm], Xte, seed + k)
        fold = {"fold": f.name, "range": _fold_range(f), "trainRows": int(len(tr.s)), "testRows": int(len(te.s)),
                "fitSeconds": round(time.time() - started, 1), "paths": {}}
        mom = momentum_side(d, te)
        sides = {rule.name: decide(rule, score, te)[0] for rule in rules}
        for path, o in d.by_path.items():
            figs = {"rules": {}, "baselines": {}}
            for rule in rules:
                side = sides[rule.name]
                figs["rules"][rule.name] = trade_figures(o, te, side)
                # random entries at this rule's frequency, on the same rows
                figs["rules"][rule.name]["random"] = trade_figures(o, te, random_side(len(te.s), int((side != 0).sum()), rng))
            figs["baselines"]["always-hold"] = {"trades": 0, "net": 0.0, "hit": 0.0, "sum": 0.0}
            figs["baselines"]["momentum"] = trade_figures(o, te, mom)
            figs["baselines"]["random-all"] = {"net": float(np.mean((o.long[te.s, te.t] + o.short[te.s, te.t]) / 2)),
                                               "note": "expected net of a random side on a random row"}
            if control is not None:
                figs["baselines"][f"shuffled-control({rules[0].name})"] = trade_figures(o, te, decide(rules[0], control, te)[0])
            fold["paths"][path] = figs
        log(f"{spec.key} {exits.key} {f.name} ({fold['fitSeconds']}s): " + "; ".join(
            f"{path}: " + ", ".join(f"{r} {v['trades']} @ {v['net'] * 100:+.3f}%" for r, v in fold["paths"][path]["rules"].items())
            for path in d.by_path))
        result["folds"].append(fold)
    result["pooled"] = {path: pool([f["paths"][path] for f in result["folds"]]) for path in d.by_path}
    return result


def _fold_range(f: Fold) -> dict:
    iso = lambda ms: np.datetime64(int(ms), "ms").astype(str)[:16]  # noqa: E731
    return {"trainEnd": iso(f.train_end), "testStart": iso(f.test_start), "testEnd": iso(f.test_end)}


def pool(folds: list[dict]) -> dict:
    def agg(items):
        n = sum(i["trades"] for i in items)
        s = sum(i["sum"] for i in items)
        return {"trades": n, "net": s / n if n else 0.0}
    out = {r: agg([f["rules"][r] for f in folds]) for r in folds[0]["rules"]}
    for r in folds[0]["rules"]:
        out[r]["random"] = agg([f["rules"][r]["random"] for f in folds])
    out["momentum"] = agg([f["baselines"]["momentum"] for f in folds])
    for name in folds[0]["baselines"]:
        if name.startswith("shuffled"):
            out[name] = agg([f["baselines"][name] for f in folds])
    return out


def save(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
