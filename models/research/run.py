"""One command per experiment (see models/research/README.md for the protocol and the results).

    nice -n 15 .venv/bin/python models/research/run.py EXPERIMENT [--dataset .qt/datasets/shared.json]

Each experiment writes models/research/results/EXPERIMENT.json (every fold, every rule, every
baseline) and EXPERIMENT.md (the table). Development folds only: the reserved fold is never read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, load_market  # noqa: E402
from evaluate import Data, ModelSpec, Outcomes, Rule, evaluate, log, save  # noqa: E402
from features import CONTEXT_NAMES, base_features, context_features  # noqa: E402
from outcomes import AGENT_EXITS, Exits, outcomes  # noqa: E402

BASE = None  # filled with the 24 names of core/features.ts
INTRABAR = ("path", "pessimistic")

ATR_TIGHT = Exits("atr", 3.0, 2.0, 1.2, 1.6)
ATR_WIDE = Exits("atr", 6.0, 4.0, 2.4, 3.2)
WIDE_12H = Exits("percent", 3.0, 2.0, 1.2, 1.6, 12 * 3600)
ATR_WIDE_12H = Exits("atr", 12.0, 8.0, 4.8, 6.4, 12 * 3600)
# Direction over a fixed 12 h: exits so far away that only the time limit closes the trade.
TIME_12H = Exits("percent", 50.0, 50.0, 50.0, 50.0, 12 * 3600)

EV_RULES = [Rule("ev>0"), Rule("ev>0.05%", margin=0.0005), Rule("ev>0.10%", margin=0.001)]
TOPK_RULES = [Rule("top1", top_k=1), Rule("top3", top_k=3), Rule("top5", top_k=5), Rule("top3,ev>0.05%", margin=0.0005, top_k=3)]
BALANCED_RULES = [Rule("balanced1", kind="balanced", top_k=1), Rule("balanced3", kind="balanced", top_k=3)]
PROB_RULES = [Rule("p>=0.55", kind="prob", threshold=0.55)]


def load(exits: Exits, dataset: Path) -> Data:
    m = load_market()
    base, names = base_features(m, dataset)
    X = np.concatenate([base, context_features(m)], axis=2)
    by_path = {}
    for path in INTRABAR:
        o = outcomes(m, exits, path)
        by_path[path] = Outcomes(o["long"], o["short"], o["long_exit"], o["short_exit"])
    return Data(X, names + CONTEXT_NAMES, m.time, by_path)


def experiments(base_names: list[str]) -> dict[str, list[tuple[Exits, ModelSpec, list[Rule], bool]]]:
    full = base_names + CONTEXT_NAMES
    status_quo = ModelSpec("xgb-clf", trees=40, depth=4, eta=0.15, min_child_weight=50, max_rows=150_000, features=base_names)
    ev24 = ModelSpec("xgb-ev", features=base_names)
    ev44 = ModelSpec("xgb-ev", features=full)
    return {
        # The shipped recipe (train.py's 3-class XGBoost, 24 features) and the logistic baseline.
        "status-quo": [(AGENT_EXITS, status_quo, PROB_RULES, True, "path"),
                       (AGENT_EXITS, ModelSpec("logistic", max_rows=60_000, features=base_names), PROB_RULES, False, "path")],
        # Expected net return per side (regression) instead of argmax of three classes, same features.
        "ev-target": [(AGENT_EXITS, ev24, EV_RULES, True, "path"), (AGENT_EXITS, ModelSpec("ridge-ev", features=base_names), EV_RULES, False, "path")],
        # Market context on top of the 24 features, with and without top-k selection.
        "context": [(AGENT_EXITS, ev44, EV_RULES + TOPK_RULES, True, "path"),
                    (AGENT_EXITS, ModelSpec("ridge-ev", features=full), EV_RULES + TOPK_RULES, False, "path")],
        # Volatility-scaled exits and labels (multiples of ATR14), and longer holds; same model as `context`.
        "exits": [(ex, ev44, EV_RULES + TOPK_RULES[:2], False, "path") for ex in (ATR_TIGHT, ATR_WIDE, WIDE_12H, ATR_WIDE_12H, TIME_12H)],
        # A larger model (more rounds, deeper) on the same inputs.
        "size": [(AGENT_EXITS, ModelSpec("xgb-ev", trees=300, depth=6, eta=0.05, features=full), EV_RULES + TOPK_RULES, False, "path")],
        # Relative targets (net minus the candle's mean over symbols) and a balanced book: the k best
        # longs and the k best shorts of every candle.
        "cross-section": [(AGENT_EXITS, ModelSpec("xgb-ev", features=full, extra={"demean": True}), BALANCED_RULES, True, "path"),
                          (ATR_WIDE, ModelSpec("xgb-ev", features=full, extra={"demean": True}), BALANCED_RULES, False, "path")],
        # The same model trained on the pessimistic path's outcomes.
        "pessimistic-labels": [(AGENT_EXITS, ev44, EV_RULES + TOPK_RULES, False, "pessimistic")],
    }


def table(results: list[dict], path: str) -> str:
    folds = [f["fold"] for f in results[0]["folds"]]
    lines = [f"### figures under the `{path}` intrabar path", "",
             "| model (trained on) | exits | rule | " + " | ".join(f"{f} net/trade (trades)" for f in folds) +
             " | pooled | random, same freq. | no-overlap pooled (trades) |",
             "|---|---|---|" + "---|" * (len(folds) + 3)]

    def cell(x):
        return f"{x['net'] * 100:+.3f}% ({x['trades']})"

    for r in results:
        for rule in r["folds"][0]["paths"][path]["rules"]:
            per = [f["paths"][path]["rules"][rule] for f in r["folds"]]
            p = r["pooled"][path][rule]
            no_n = sum(x["no_overlap_trades"] for x in per)
            no_s = sum(x["no_overlap_net"] * x["no_overlap_trades"] for x in per)
            lines.append(f"| {r['spec']} ({r['trainedOn']}) | {r['exits']} | {rule} | " + " | ".join(cell(x) for x in per) +
                         f" | **{p['net'] * 100:+.3f}%** ({p['trades']}) | {p['random']['net'] * 100:+.3f}% | {(no_s / no_n if no_n else 0) * 100:+.3f}% ({no_n}) |")
    seen = set()
    for r in results:
        if r["exits"] in seen:
            continue
        seen.add(r["exits"])
        lines.append(f"| momentum rule | {r['exits']} | z>1.5 | " + " | ".join(cell(f["paths"][path]["baselines"]["momentum"]) for f in r["folds"]) +
                     f" | {cell(r['pooled'][path]['momentum'])} | | |")
        lines.append(f"| random side, every row | {r['exits']} | - | " +
                     " | ".join(f"{f['paths'][path]['baselines']['random-all']['net'] * 100:+.3f}%" for f in r["folds"]) + " | | | |")
    for r in results:
        for name in r["folds"][0]["paths"][path]["baselines"]:
            if name.startswith("shuffled"):
                lines.append(f"| {name} of {r['spec']} | {r['exits']} | - | " + " | ".join(cell(f["paths"][path]["baselines"][name]) for f in r["folds"]) +
                             f" | {cell(r['pooled'][path][name])} | | |")
    lines.append("| always-HOLD | - | - | " + " | ".join("0 (0)" for _ in folds) + " | 0 (0) | | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("experiment")
    ap.add_argument("--dataset", type=Path, default=Path(".qt/datasets/shared.json"))
    args = ap.parse_args()
    m = load_market()
    _, names = base_features(m, args.dataset)
    plan = experiments(names)
    if args.experiment not in plan:
        raise SystemExit(f"unknown experiment {args.experiment}; known: {', '.join(plan)}")
    md = [f"## {args.experiment}", ""]
    results = []
    for exits, spec, rules, control, train_path in plan[args.experiment]:
        log(f"{args.experiment}: {spec.key} {exits.key}, trained on {train_path}")
        results.append(evaluate(load(exits, args.dataset), exits, spec, rules, train_path=train_path, shuffle_control=control))
    for path in INTRABAR:
        md.append(table(results, path))
    out = results
    save(out, RESULTS / f"{args.experiment}.json")
    (RESULTS / f"{args.experiment}.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
