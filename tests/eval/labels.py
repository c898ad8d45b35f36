"""Summarise a file of hand labels (A/W/J) of one eval run: shares per scenario and overall, and the Brier
score of the propositions' confidence against the reader's verdict (A = true, W and J = not). Given a saved
`gum eval --save` file instead, re-score it with today's well-formedness check (junk share, Brier over every
kept proposition), so that runs saved before the check existed can be compared.

    python tests/eval/labels.py tests/eval/results/labels-6dd555b.json
    python tests/eval/labels.py tests/eval/results/after-6dd555b.json
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def summary(path: str) -> str:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    lines, total, pairs = [], Counter(), []
    for name, items in data["labels"].items():
        c = Counter(i["label"] for i in items)
        total += c
        pairs += [(i["confidence"], i["label"] == "A") for i in items]
        n = len(items) or 1
        lines.append(f"{name:<28} n={len(items):<3} A {c['A'] / n:4.0%}  W {c['W'] / n:4.0%}  J {c['J'] / n:4.0%}")
    n = sum(total.values()) or 1
    brier = sum((conf / 10 - t) ** 2 for conf, t in pairs) / len(pairs) if pairs else float("nan")
    lines.append(f"{'overall':<28} n={n:<3} A {total['A'] / n:4.0%}  W {total['W'] / n:4.0%}  "
                 f"J {total['J'] / n:4.0%}  Brier (A = true) {brier:.3f}")
    by_conf: dict[int, list[bool]] = {}
    for conf, t in pairs:
        by_conf.setdefault(conf, []).append(t)
    for conf in sorted(by_conf):
        v = by_conf[conf]
        lines.append(f"  confidence {conf:>2}: n={len(v):<3} A share {sum(v) / len(v):.2f}")
    return "\n".join(lines)


def rescore(path: str) -> str:
    from gum.scenario import load
    from gum.wellformed import problems

    data = json.loads(Path(path).read_text(encoding="utf-8"))
    junk, n, pairs, classes = 0, 0, [], Counter()
    for run in data["scenarios"]:
        folder = Path(run["path"].replace("../shared/", "/work/shared/"))
        scenario = load(folder)
        false = {f.id for f in scenario.facts if not f.true}
        for p in run["propositions"]:
            found = problems(p["text"], scenario.user_name)
            classes.update(found)
            junk += bool(found)
            n += 1
            pairs.append((p["confidence"], not found and not (set(p["matches"]) & false)))
    brier = sum((c / 10 - t) ** 2 for c, t in pairs) / len(pairs)
    return (f"{n} propositions, junk {junk} ({junk / n:.0%}): {dict(classes.most_common())}\n"
            f"Brier over every kept proposition (true = well-formed, no false fact): {brier:.3f}")


if __name__ == "__main__":
    first = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    print(rescore(sys.argv[1]) if "scenarios" in first else summary(sys.argv[1]))
