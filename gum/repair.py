"""`gum dedupe`: merge the duplicate observations that databases made before ingest knew what it had stored.

Before recorded input had an identity (gum/ingest.py), every re-run of `gum ingest` (after a crash, on a
folder that gained files) stored the whole input again, and each copy was attached as new evidence: the
evidence counts, the days seen and the confidence grew with every run. This merges each set of exact
copies into one observation (the store's rule), computes the engagement of what was around them and the
confidence of every proposition they supported again (the engine's rules), and records the identity of
what was ingested, so the next `gum ingest` of the same files recognises them. All in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import click

from .store import Store

# Live capture keeps its screenshots encrypted (gum/screenshots.py); only the user's own image files were
# ingested and can be recognised again by their content.
_INGESTED_IMAGES = (".png", ".jpg", ".jpeg")


@dataclass
class RepairReport:
    """What repair_duplicates did (or, in a dry run, would do)."""

    groups: int = 0
    removed: int = 0
    propositions: list[int] = field(default_factory=list)  # whose confidence was computed again
    changed: dict[int, tuple[int, int]] = field(default_factory=dict)  # id: (before, after)
    identities: int = 0


def repair_duplicates(store: Store, *, dry_run: bool = False) -> RepairReport:
    """Merge exact duplicate observations and recompute what they inflated; see the module docstring."""
    from .engagement import INPUT_WINDOW
    from .engine import Engine

    report = RepairReport()
    if dry_run:
        groups = store.duplicate_observations()
        report.groups, report.removed = len(groups), sum(len(g) - 1 for g in groups)
        return report
    engine = Engine(store, None)  # the engagement and confidence rules; no model call is made
    with store.transaction():
        merge = store.merge_duplicate_observations()
        report.groups, report.removed = merge.groups, merge.removed
        refresh = set(merge.propositions)
        # A copy that is gone no longer counts as input around its neighbours: their engagement (what an
        # observation weighs as evidence) is computed again for everything within reach of it.
        for start, end in _spans([store.get_observation(i).ts for i in merge.kept], INPUT_WINDOW):
            for obs in store.observations(since=start, until=end, limit=1_000_000):
                if "engagement_eval" not in obs.meta:
                    continue  # not through the model yet: it is computed when it is
                fresh = engine.engagement_of(obs, fresh=True).as_dict()
                if fresh != obs.meta["engagement_eval"]:
                    store.update_meta(obs.id, {"engagement_eval": fresh})
                    refresh.update(store.propositions_citing(obs.id))
        for pid in sorted(refresh):
            prop = store.get(pid)
            if prop.status != "active":
                continue  # history and the user's verdicts keep the confidence they had
            after = engine.refresh_confidence(pid)
            report.propositions.append(pid)
            if after != prop.confidence:
                report.changed[pid] = (prop.confidence, after)
        report.identities = _record_identities(store)
    return report


def _spans(times: list[datetime], window) -> list[tuple[datetime, datetime]]:
    """The times an observation at each of `times` reaches as a neighbour (gum/engagement.py), merged."""
    spans: list[tuple[datetime, datetime]] = []
    for t in sorted(times):
        start, end = t - 4 * window, t + window
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


def _record_identities(store: Store) -> int:
    """Give every stored observation the identity gum ingest would give it, so it is not ingested again."""
    from .ingest import Item, identity

    added = 0
    known = store.identified_observations()
    for obs in store.observations(limit=10_000_000):
        if obs.id in known:
            continue
        image = Path(obs.image_path) if obs.image_path else None
        image_bytes = None
        if image is not None and image.suffix.lower() in _INGESTED_IMAGES:
            try:
                image_bytes = image.read_bytes()
            except OSError:
                image_bytes = None  # moved or deleted since: recognised by nothing, as before
        if image is not None and image_bytes is None:
            continue
        item = Item(ts=obs.ts, order=0, observer=obs.observer, app=obs.app, window=obs.window, text=obs.text,
                    meta=obs.meta)
        added += store.claim_identity(identity(item, obs, image_bytes), obs.id)
    return added


@click.command("dedupe")
@click.option("--dry-run", is_flag=True, help="Only count the duplicates.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where the database lives (GUM_DATA_DIR).")
def dedupe_command(dry_run: bool, data_dir: str | None) -> None:
    """Merge observations stored more than once (re-run ingests in databases made before gum recognised
    them) and compute again the confidence they inflated."""
    from .cli import _apply_common

    _apply_common(data_dir, None)
    report = repair_duplicates(Store(), dry_run=dry_run)
    if dry_run:
        click.echo(f"{report.removed} duplicate observations in {report.groups} sets (nothing changed).")
        return
    click.echo(f"Merged {report.removed} duplicate observations in {report.groups} sets; "
               f"{len(report.propositions)} propositions recomputed, {len(report.changed)} changed confidence.")
    for pid, (before, after) in sorted(report.changed.items()):
        click.echo(f"  #{pid}: {before}/10 -> {after}/10")
    if report.identities:
        click.echo(f"Recorded {report.identities} observations as ingested, so ingesting them again stores nothing.")
