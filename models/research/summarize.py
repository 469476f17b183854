"""One table over every experiment in results/*.json, with the verdict of the protocol's rule.

    .venv/bin/python models/research/summarize.py > models/research/results/summary.md
    .venv/bin/python models/research/summarize.py --key EXPERIMENT/SPEC/EXITS/RULE ...   # selected rows
    .venv/bin/python models/research/summarize.py --best   # each experiment's best row, folds under both paths

(--key: each part is a prefix of the experiment name, model spec, exits key and rule name.)

A row passes only if, under the pessimistic path: pooled net per trade > 0, at least 100 trades,
above random entries at the same frequency, above the momentum rule, above the logistic regression
(status-quo experiment) and above the ridge regression with the same rule when the experiment has
one, and no fold below its own random baseline.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS  # noqa: E402

ORDER = ["status-quo", "ev-target", "context", "exits", "size", "pessimistic-labels", "cross-section"]
P = "pessimistic"


def pct(x: float) -> str:
    return f"{x * 100:+.3f}%"


def key_rows(results: dict, keys: list[str]) -> None:
    for key in keys:
        exp, spec, exits, rule = key.split("/")
        for r in results[exp]:
            if not (r["spec"].startswith(spec) and r["exits"].startswith(exits)):
                continue
            for name in r["pooled"][P]:
                if name != rule:
                    continue
                folds = [f["paths"][P]["rules"][name] if name in f["paths"][P]["rules"] else f["paths"][P]["baselines"][name] for f in r["folds"]]
                pooled = r["pooled"][P][name]
                rnd = pct(pooled["random"]["net"]) if "random" in pooled else ""
                label = f"{exp}: momentum rule" if name == "momentum" else f"{exp}: {r['spec']}"
                print(f"| {label}, {r['exits']} | {name} | " + " | ".join(pct(f["net"]) for f in folds) +
                      f" | {pct(r['pooled']['path'][name]['net'])} | **{pct(pooled['net'])}** ({pooled['trades']}) | {rnd} | {pct(r['pooled'][P]['momentum']['net'])} |")


def best_rows(results: dict) -> None:
    """Per experiment, the configuration with the best pooled pessimistic net per trade: its folds under both paths."""
    print("| experiment | best configuration (model, exits, rule) | F1 | F2 | F3 | F4 | pooled | trades (pess.) | random, same freq. | momentum |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, res in results.items():
        candidates = [(r, rule) for r in res for rule in r["pooled"][P] if rule != "momentum" and not rule.startswith("shuffled")]
        r, rule = max(candidates, key=lambda c: c[0]["pooled"][P][c[1]]["net"])
        for path in (P, "path"):
            folds = [f["paths"][path]["rules"][rule] for f in r["folds"]]
            pooled = r["pooled"][path][rule]
            what = f"{r['spec']}, {r['exits']}, {rule}" if path == P else "(same, `path`)"
            print(f"| {name if path == P else ''} | {what} | " + " | ".join(pct(f["net"]) for f in folds) +
                  f" | {'**' + pct(pooled['net']) + '**' if path == P else pct(pooled['net'])} | {pooled['trades'] if path == P else ''} | {pct(pooled['random']['net'])} | {pct(r['pooled'][path]['momentum']['net'])} |")


def main() -> None:
    results = {name: json.loads((RESULTS / f"{name}.json").read_text()) for name in ORDER if (RESULTS / f"{name}.json").exists()}
    results = {k: v for k, v in results.items() if isinstance(v, list)}  # older layouts are rerun, not read
    if len(sys.argv) > 1 and sys.argv[1] == "--best":
        best_rows(results)
        return
    if len(sys.argv) > 2 and sys.argv[1] == "--key":
        key_rows(results, sys.argv[2:])
        return
    logistic = None
    for r in results.get("status-quo", []):
        if r["spec"].startswith("logistic"):
            logistic = r["pooled"][P]["p>=0.55"]["net"]
    rows = []
    tried = 0
    for name, res in results.items():
        for r in res:
            ridge = next((x for x in res if x["spec"].startswith("ridge") and x["exits"] == r["exits"]), None)
            for rule, pooled in r["pooled"][P].items():
                if rule in ("momentum",) or rule.startswith("shuffled"):
                    continue
                tried += 1
                folds = [f["paths"][P]["rules"][rule] for f in r["folds"]]
                mom = r["pooled"][P]["momentum"]["net"]
                fails = []
                if pooled["trades"] < 100:
                    fails.append("< 100 trades")
                if pooled["net"] <= 0:
                    fails.append("net <= 0")
                if pooled["net"] <= pooled["random"]["net"]:
                    fails.append("<= random")
                if pooled["net"] <= mom:
                    fails.append("<= momentum")
                if logistic is not None and not r["spec"].startswith("logistic") and pooled["net"] <= logistic:
                    fails.append("<= logistic")
                if ridge is not None and ridge is not r and pooled["net"] <= ridge["pooled"][P][rule]["net"]:
                    fails.append("<= ridge")
                if any(f["net"] < f["random"]["net"] for f in folds):
                    fails.append("a fold below random")
                rows.append(f"| {name} | {r['spec']} ({r['trainedOn']}) | {r['exits']} | {rule} | " +
                            " | ".join(f"{pct(f['net'])} ({f['trades']})" for f in folds) +
                            f" | {pct(r['pooled']['path'][rule]['net'])} | **{pct(pooled['net'])}** ({pooled['trades']}) | {pct(pooled['random']['net'])} | {pct(mom)} | "
                            + ("passes" if not fails else "fails: " + ", ".join(fails)) + " |")
    print(f"{tried} configurations (model x exits x entry rule) evaluated on the development folds.\n")
    print("| experiment | model (trained on) | exits | rule | F1 | F2 | F3 | F4 (pessimistic net/trade, trades) | pooled, path | pooled, pessimistic | random same freq. (pess.) | momentum (pess.) | verdict |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
