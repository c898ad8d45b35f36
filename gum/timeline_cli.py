"""`gum today` and `gum timeline --day D`: the day as a compact text timeline and the time per app."""

from __future__ import annotations

import json
from datetime import date, timedelta

import click

from .timeline import Day, duration, local_day

RUN_JOIN = timedelta(minutes=2)  # blocks of one app this close in time print as one line
TITLES_PER_LINE = 2


def runs(d: Day) -> list[tuple[str, list]]:
    """The day in time order as lines: consecutive blocks of one app joined, gaps between them."""
    items: list[tuple[str, list]] = []
    for b in d.blocks():
        last = items[-1] if items else None
        if last and last[0] == "app" and last[1][-1].app == b.app and b.start - last[1][-1].end <= RUN_JOIN:
            last[1].append(b)
        else:
            items.append(("app", [b]))
    items += [("gap", [g]) for g in d.gaps]
    items.sort(key=lambda i: i[1][0].start)
    return items


def render(d: Day, *, titles: bool = True) -> str:
    """The day as text: one line per stretch of one app (or gap), then time per app, then what gum learned."""
    def hm(t) -> str:
        return t.astimezone().strftime("%H:%M")

    lines = [f"{d.day:%A %d %B %Y}: {duration(d.recorded_s)} on screen, {duration(d.active_s)} active"
             + ("" if d.active_basis == "input" else " (from the segments' input counts)")]
    if not d.lanes and not d.gaps:
        lines.append("Nothing recorded this day.")
    for kind, items in runs(d):
        first = items[0]
        span = f"{hm(first.start)}-{hm(max(i.end for i in items))}"
        if kind == "gap":
            what = {"idle": "idle or away", "paused": "not recorded (paused)",
                    "excluded": "not recorded (excluded window)"}[first.kind]
            lines.append(f"  {span}  {'':<14} {what} ({duration(first.span_s)})")
            continue
        seen = sum((b.end - b.start).total_seconds() for b in items)
        props = sorted({p for b in items for p in b.propositions})
        docs: list[str] = []
        for b in sorted(items, key=lambda b: -b.span_s):
            if b.title and b.title not in docs:
                docs.append(b.title)
        about = ""
        if titles and docs:
            about = "; ".join(t[:40] for t in docs[:TITLES_PER_LINE]) + (
                f" (+{len(docs) - TITLES_PER_LINE})" if len(docs) > TITLES_PER_LINE else "")
        inputs = sum(b.inputs for b in items)
        tail = f"  {inputs} inputs" if inputs else ""
        tail += ("  -> " + " ".join(f"#{p}" for p in props[:6])) if props else ""
        lines.append(f"  {span}  {first.label[:14]:<14} {duration(seen):>10}  {about}{tail}")
    for name, tot in (("day", d.totals), (f"7 days from {d.week_start:%d %b}", d.week)):
        lines.append("")
        lines.append(f"Time per app ({name}):{'total':>{max(1, 27 - len(name))}} {'active':>10} {'passive':>10}")
        for t in tot or []:
            lines.append(f"  {t.label[:26]:<26} {duration(t.total_s):>12} {duration(t.active_s):>10} "
                         f"{duration(t.passive_s):>10}")
        if not tot:
            lines.append("  nothing")
    if d.learned:
        lines.append("")
        lines.append("What gum learned:")
        for block, items in d.learned_by_segment():
            where = (f"{hm(block.start)} {block.label}" + (f" ({block.title[:50]})" if titles and block.title else "")
                     if block else "not from a segment of this day")
            lines.append(f"  {where}")
            for e in items:
                lines.append(f"    {e.action} #{e.proposition.id}" + (f" {e.text}" if e.text else " (rejected or revoked: not shown)"))
    return "\n".join(lines)


def _show(day: date, as_json: bool) -> None:
    from .api.models import Timeline
    from .cli import _store
    from .timeline import load

    d = load(_store(), day)
    if as_json:  # the JSON of GET /v1/timeline (as an admin sees it)
        click.echo(json.dumps(Timeline.of(d, titles=True).model_dump(mode="json"), indent=2))
    else:
        click.echo(render(d))


def _options(f):
    from .cli import _common

    f = click.option("--json", "as_json", is_flag=True, help="The JSON of GET /v1/timeline.")(f)
    return _common(f)


@click.command("today")
@_options
def today_command(as_json: bool, data_dir, model_spec) -> None:
    """Today at a glance: what you did when, time per app (active vs passive), what gum learned."""
    from .cli import _apply_common
    from .records import utcnow

    _apply_common(data_dir, model_spec)
    _show(local_day(utcnow()), as_json)


@click.command("timeline")
@click.option("--day", "day", default=None, help="The local day, YYYY-MM-DD (default: today).")
@_options
def timeline_command(day: str | None, as_json: bool, data_dir, model_spec) -> None:
    """One day as a compact timeline: activities per app, gaps, time per app, what gum learned."""
    from .cli import _apply_common
    from .errors import InputError
    from .records import utcnow

    _apply_common(data_dir, model_spec)
    try:
        when = date.fromisoformat(day) if day else local_day(utcnow())
    except ValueError:
        raise InputError(f"--day {day!r} is not a date: use YYYY-MM-DD") from None
    _show(when, as_json)
