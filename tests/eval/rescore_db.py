"""Score the databases a `gum eval --keep-db DIR` run left behind, without running the model again.

For runs cut short (a shared machine), or to re-score an old run with today's checks:

    python tests/eval/rescore_db.py DIR SCENARIO... [--save FILE] [-v]

Each SCENARIO folder whose name has a DIR/<name>/gum.db is scored; the others are skipped. Needs the same
GUM_DATA_DIR (the database key) as the run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gum.evaluate import ScenarioRun, format_details, format_table, score_store
from gum.scenario import expand, load
from gum.scoring import pooled
from gum.store import Store


def main(argv: list[str]) -> None:
    verbose = "-v" in argv
    argv = [a for a in argv if a != "-v"]
    save = None
    if "--save" in argv:
        i = argv.index("--save")
        save = Path(argv[i + 1])
        del argv[i:i + 2]
    folder, paths = Path(argv[0]), argv[1:]
    runs = []
    for path in expand(paths):
        scenario = load(path)
        db = folder / scenario.name / "gum.db"
        if not db.exists():
            continue
        store = Store(path=db)
        try:
            scores, facts, claims = score_store(scenario, store, scenario.k)
            obs = store.counts()["observations"]
        finally:
            store.close()
        runs.append(ScenarioRun(scenario=scenario, scores=scores, facts=facts, claims=claims,
                                engine={"observations": obs}))
    total = pooled(r.scores for r in runs)
    totals = {"observations": sum(r.engine["observations"] for r in runs), "prompt_tokens": 0,
              "completion_tokens": 0, "seconds": 0}
    if verbose:
        for r in runs:
            print(format_details(r))
    print(format_table(runs, total, totals))
    if save:
        save.write_text(json.dumps({"scenarios": [r.as_dict() for r in runs], "overall": total.as_dict()},
                                   indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
