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
from evaluate import Data, ModelSpec, Rule, evaluate, log, save  # noqa: E402
from features import CONTEXT_NAMES, base_features, context_features  # noqa: E402
from outcomes import AGENT_EXITS, Exits, outcomes  # noqa: E402

BASE = None  # filled with the 24 names of core/features.ts
INTRABAR = ("path", "pessimistic")

ATR_TIGHT = Exits("atr", 3.0, 2.0, 1.2, 1.6)
ATR_WIDE = Exits("atr", 6.0, 4.0, 2.4, 3.2)
WIDE_12H = Exits("percent", 3.0, 2.0, 1.2, 1.6, 12 * 3600)
ATR_WIDE_12H = Exits("atr", 12.0, 8.0, 4.8, 6.4, 12 * 3600)

EV_RULES = [Rule("ev>0"), Rule("ev>0.05%", margin=0.0005), Rule("ev>0.10%", margin=0.001)]
TOPK_RULES = [Rule("top1", top_k=1), Rule("top3", top_k=3), Rule("top5", top_k=5), Rule("top3,ev>0.05%", margin=0.0005, top_k=3)]
PROB_RULES = [Rule("p>=0.55", kind="prob", threshold=0.55)]


def load(exits: Exits, intrabar: str, dataset: Path) -> Data:
    m = load_market()
    base, names = base_features(m, dataset)
    ctx = context_features(m)
    o = outcomes(m, exits, intrabar)
    X = np.concatenate([base, ctx], axis=2)
    return Data(X, names + CONTEXT_NAMES, m.time, o["long"], o["short"], o["long_exit"], o["short_exit"])


def experiments(base_names: list[str]) -> dict[str, list[tuple[Exits, ModelSpec, list[Rule], bool]]]:
    full = base_names + CONTEXT_NAMES
    status_quo = ModelSpec("xgb-clf", trees=40, depth=4, eta=0.15, min_child_weight=50, max_rows=150_000, features=base_names)
    ev24 = ModelSpec("xgb-ev", features=base_names)
    ev44 = ModelSpec("xgb-ev", features=full)
    return {
        # The shipped recipe (train.py's 3-class XGBoost, 24 features) and the logistic baseline.
        "status-quo": [(AGENT_EXITS, status_quo, PROB_RULES, True), (AGENT_EXITS, ModelSpec("logistic", max_rows=100_000, features=base_names), PROB_RULES, False)],
        # Expected net return per side (regression) instead of argmax of three classes, same features.
        "ev-target": [(AGENT_EXITS, ev24, EV_RULES, True), (AGENT_EXITS, ModelSpec("ridge-ev", features=base_names), EV_RULES, False)],
        # Volatility-scaled exits and labels (multiples of ATR14), and longer holds.
        "exits": [(ex, ev24, EV_RULES, False) for ex in (ATR_TIGHT, ATR_WIDE, WIDE_12H, ATR_WIDE_12H)],
        # Market context on top of the 24 features, with and without top-k selection.
        "context": [(AGENT_EXITS, ev44, EV_RULES + TOPK_RULES, True), (AGENT_EXITS, ModelSpec("ridge-ev", features=full), EV_RULES + TOPK_RULES, False)],
        # A larger model (more rounds, deeper) on the same inputs.
        "size": [(AGENT_EXITS, ModelSpec("xgb-ev", trees=400, depth=6, eta=0.05, features=full), EV_RULES + TOPK_RULES, True)],
    }


def table(results: list[dict], intrabar: str) -> str:
    lines = [f"### intrabar: {intrabar}", "",
             "| model | exits | rule | " + " | ".join(f"{f['fold']} net/trade (trades)" for f in results[0]["folds"]) + " | pooled | random same freq. (pooled) | no-overlap net (trades, pooled) |",
             "|---|---|---|" + "---|" * (len(results[0]["folds"]) + 3)]
    for r in results:
        for rule in r["folds"][0]["rules"]:
            cells = [f"{f['rules'][rule]['net'] * 100:+.3f}% ({f['rules'][rule]['trades']})" for f in r["folds"]]
            p = r["pooled"][rule]
            no_n = sum(f["rules"][rule]["no_overlap_trades"] for f in r["folds"])
            no_s = sum(f["rules"][rule]["no_overlap_net"] * f["rules"][rule]["no_overlap_trades"] for f in r["folds"])
            lines.append(f"| {r['spec']} | {r['exits']} | {rule} | " + " | ".join(cells) +
                         f" | **{p['net'] * 100:+.3f}%** ({p['trades']}) | {p['random']['net'] * 100:+.3f}% | {(no_s / no_n if no_n else 0) * 100:+.3f}% ({no_n}) |")
    seen = set()
    for r in results:
        if r["exits"] in seen:
            continue
        seen.add(r["exits"])
        mom = [f["baselines"]["momentum"] for f in r["folds"]]
        lines.append(f"| momentum rule | {r['exits']} | z>1.5 | " + " | ".join(f"{b['net'] * 100:+.3f}% ({b['trades']})" for b in mom) +
                     f" | {r['pooled']['momentum']['net'] * 100:+.3f}% ({r['pooled']['momentum']['trades']}) | | |")
        ra = [f["baselines"]["random-all"]["net"] for f in r["folds"]]
        lines.append(f"| random side, every row | {r['exits']} | - | " + " | ".join(f"{x * 100:+.3f}%" for x in ra) + " | | | |")
    for r in results:
        for name in r["folds"][0]["baselines"]:
            if name.startswith("shuffled"):
                cells = [f"{f['baselines'][name]['net'] * 100:+.3f}% ({f['baselines'][name]['trades']})" for f in r["folds"]]
                p = r["pooled"][name]
                lines.append(f"| {name} of {r['spec']} | {r['exits']} | - | " + " | ".join(cells) + f" | {p['net'] * 100:+.3f}% ({p['trades']}) | | |")
    lines.append("| always-HOLD | - | - | " + " | ".join("0 (0)" for _ in results[0]["folds"]) + " | 0 (0) | | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("experiment")
    ap.add_argument("--dataset", type=Path, default=Path(".qt/datasets/shared.json"))
    ap.add_argument("--intrabar", choices=INTRABAR, action="append", help="default: both")
    args = ap.parse_args()
    m = load_market()
    _, names = base_features(m, args.dataset)
    plan = experiments(names)
    if args.experiment not in plan:
        raise SystemExit(f"unknown experiment {args.experiment}; known: {', '.join(plan)}")
    md = [f"## {args.experiment}", ""]
    out = {}
    for intrabar in args.intrabar or INTRABAR:
        results = []
        for exits, spec, rules, control in plan[args.experiment]:
            log(f"{args.experiment}: {spec.key} {exits.key} {intrabar}")
            results.append(evaluate(load(exits, intrabar, args.dataset), exits, spec, rules, shuffle_control=control))
        out[intrabar] = results
        md.append(table(results, intrabar))
    save(out, RESULTS / f"{args.experiment}.json")
    (RESULTS / f"{args.experiment}.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
