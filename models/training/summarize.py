"""Print a model card's out-of-sample figures next to the baselines as a Markdown table.

    .venv/bin/python models/training/summarize.py models/xgb-v1/card.json
"""

import json
import sys


def main(path: str) -> None:
    card = json.load(open(path))
    oos = card["metrics"]["outOfSample"]
    v = card["validation"]
    print(f"Model `{card['name']}` ({card['kind']}), data {card['data']['firstTime']} .. {card['data']['lastTime']}, "
          f"{card['data']['rows']} rows, {len(card['data']['symbols'])} symbols; {v['folds']} walk-forward folds, "
          f"purge {v['purgeMs'] / 3.6e6:.2f} h, embargo {v['embargoMs'] / 3.6e6:.2f} h, threshold {v['threshold']}"
          f"{' -- SHUFFLED-LABEL CONTROL' if card.get('shuffledLabels') else ''}\n")
    print("| strategy | accuracy | log loss | trades | hit rate | net return / trade | sum of net returns |")
    print("|---|---|---|---|---|---|---|")
    rows = [("model", oos["model"])] + list(oos["baselines"].items())
    for name, m in rows:
        ll = "-" if m["logLoss"] is None else f"{m['logLoss']:.4f}"
        print(f"| {name} | {m['accuracy'] * 100:.2f}% | {ll} | {m['trades']} | {m['hitRate'] * 100:.2f}% | "
              f"{m['meanNetReturn'] * 100:+.3f}% | {m['sumNetReturn']:+.2f} |")
    if "chanceAccuracy" in oos:
        print(f"\nchance accuracy (most frequent class of the test rows): {oos['chanceAccuracy'] * 100:.2f}%")
    print(f"\nbeats baselines: {card['beatsBaselines']} -> promotable: {card['promotable']}")


if __name__ == "__main__":
    main(sys.argv[1])
