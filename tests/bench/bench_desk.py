"""Benchmark: a day at the desk, with gum watching. What the model costs per active hour, before and after.

    nice -n 5 python tests/bench/bench_desk.py [--minutes 10] [--threads N] [--drain-timeout 20]
                                               [--sample 12] [--json out.json]

A scripted work session (tests/bench/desk_session.py: Chromium on the project's own pages, Mousepad typed
into, xterm, window switches, reading pauses, an away gap, glances, revisits) runs on Xvfb 1920x1080 with
openbox, the apps as an unprivileged user, input by xdotool. Two `gum start` agents watch the same session
at once, each with its own data folder, key and API port:

  after   GUM_INTAKE=segments (the new default): processes live with the real embedded model; after the
          session it is left to drain its backlog (up to --drain-timeout minutes) and that time is measured.
  before  GUM_INTAKE=captures, GUM_PACK_OBSERVATIONS=1 (per-capture processing, one call each): its engine is held idle (batch_size 256,
          batch_wait_minutes 10^6), so it only observes and queues, costing no model time during the session.
          Its model cost is then measured on an evenly spaced sample of its queued observations (--sample),
          processed by the same engine in a separate process after the after-agent drained, and scaled to
          everything it queued. Its backlog and drain time are what the sampled speed could not have kept up
          with during the session. The report marks these figures "est.".

CPU is read from /proc for each agent process and its children (tesseract), peak RSS from VmHWM. Counters
come from each agent's GET /v1/status (status["engine"], status["intake"], status["queue"]); where an agent
does not report one yet, the figure is taken from its database or estimated, and the report says which.
Both agents observe the same screen, so their OCR runs compete for the same two cores: the session is
heavier on the machine than one agent would make it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import desk_session as ds

POLL_S = 2.0
STATUS_EVERY_S = 10.0
HELD_IDLE = {"batch_size": 256, "batch_wait_minutes": 1_000_000.0}


# -- the sample worker: today's per-capture processing on a sample of what the "before" agent queued -----


def sample_worker(limit: int) -> None:
    """Run the engine over the queue of GUM_DATA_DIR (at most `limit`), counting model calls; print JSON."""
    from gum.backends import load_model
    from gum.config import load_settings
    from gum.engine import Engine
    from gum.store import Store

    settings = load_settings()
    model = load_model(settings.model, settings)
    rss_before = _rss_mb()
    if hasattr(model, "llm"):
        _ = model.llm  # load now: loading is not per-observation work
    counted = {"calls": 0, "model_seconds": 0.0}
    complete = model.complete_json

    def counting(*args, **kwargs):
        text, used = complete(*args, **kwargs)
        counted["calls"] += 1
        counted["model_seconds"] += used.seconds
        return text, used

    model.complete_json = counting
    store = Store()
    engine = Engine.from_settings(store, model, settings)
    cpu0, wall0 = _self_cpu(), time.monotonic()
    summary = engine.run(limit=limit)
    process_cpu = _self_cpu() - cpu0
    # The same measure as the agent's status["engine"]["cpu_seconds"] (the process's CPU during model calls)
    # when the back-end reports it; else the process's CPU over the run.
    model_cpu = getattr(summary.usage, "cpu_seconds", 0.0) or process_cpu
    print(json.dumps({
        **counted, "cpu_seconds": model_cpu, "process_cpu_seconds": process_cpu,
        "wall_seconds": time.monotonic() - wall0,
        "processed": summary.observations, "failed": summary.failed,
        "prompt_tokens": summary.usage.prompt_tokens, "completion_tokens": summary.usage.completion_tokens,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rss_before_model_mb": rss_before,
        "propositions": store.counts()["propositions"],
    }))


def _self_cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_sample(before: ds.AgentProcess, work: Path, k: int) -> dict:
    """Copy the before-agent's data, keep an evenly spaced sample of k of its queued observations, process."""
    copy = ds.AgentProcess("before-sample", work / "before-sample", before.display)
    shutil.copytree(before.root / "data", copy.root / "data")
    shutil.copytree(before.root / "config", copy.root / "config")
    copy.root.joinpath("keys").mkdir(parents=True)
    shutil.copy2(before.root / "keys" / "master.key", copy.root / "keys" / "master.key")
    with copy.store() as store:
        ids = [r[0] for r in store.db.execute(
            "SELECT q.observation_id FROM queue q JOIN observations o ON o.id = q.observation_id "
            "WHERE q.state = 'pending' ORDER BY o.ts, o.id").fetchall()]
        if not ids:
            return {"processed": 0, "queued": 0}
        step = max(1, len(ids) / k)
        keep = {ids[int(i * step)] for i in range(min(k, len(ids)))}
        with store.transaction():
            drop = [i for i in ids if i not in keep]
            for n in range(0, len(drop), 500):
                chunk = drop[n:n + 500]
                store.db.execute(f"DELETE FROM queue WHERE observation_id IN ({','.join('?' * len(chunk))})", chunk)
    env = {k2: v for k2, v in os.environ.items() if not k2.startswith("GUM_")}
    # One model thread: the old way read each capture as it came, while the user was at work (active_threads).
    env.update(copy.env, **{k2: str(v) for k2, v in before.env_extra.items()}, OMP_THREAD_LIMIT="1")
    out = subprocess.run([sys.executable, __file__, "--sample-worker", str(k)], env=env, capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"the sample worker failed: {out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["queued"] = len(ids)
    return result


# -- measuring a run -----------------------------------------------------------------------------------


class Monitor(threading.Thread):
    """Samples the agents' CPU and RSS every POLL_S, and the after-agent's status every STATUS_EVERY_S."""

    def __init__(self, agents: dict[str, ds.AgentProcess], t0: float):
        super().__init__(name="bench-monitor", daemon=True)
        self.agents, self.t0 = agents, t0
        self.stop_event = threading.Event()
        self.backlog: list[tuple[float, int | None]] = []

    def run(self) -> None:
        last_status = 0.0
        while not self.stop_event.wait(POLL_S):
            for a in self.agents.values():
                a.sample()
            now = time.monotonic()
            if now - last_status >= STATUS_EVERY_S:
                last_status = now
                s = self.agents["after"].status()
                self.backlog.append((round(now - self.t0), (s or {}).get("queue", {}).get("pending")))


def cpu_at(agent: ds.AgentProcess) -> float:
    return agent.sample()


def wait_drained(agent: ds.AgentProcess, timeout_s: float) -> tuple[float | None, dict | None]:
    """Seconds until the agent's queue is empty and its engine idle (three polls in a row), or None."""
    start = time.monotonic()
    empty_since = None
    status = None
    while time.monotonic() - start < timeout_s:
        status = agent.status() or status
        q = (status or {}).get("queue", {})
        idle = q.get("pending", 1) == 0 and not (status or {}).get("busy", True)
        if idle:
            empty_since = empty_since or time.monotonic()
            if time.monotonic() - empty_since >= 10:
                return empty_since - start, status
        else:
            empty_since = None
        time.sleep(5)
    return None, status


def restarts(status: dict | None, db: dict) -> int:
    from_status = sum(int(h.get("restarts", 0)) for h in ((status or {}).get("observers") or {}).values())
    return max(from_status, db["restarts_logged"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0, help="length of the work session (default 10)")
    p.add_argument("--threads", type=int, default=None, help="GUM_THREADS for the model (default: gum chooses)")
    p.add_argument("--drain-timeout", type=float, default=20.0, help="minutes to wait for the backlog to drain")
    p.add_argument("--sample", type=int, default=12, help="queued observations of the before-agent to process")
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument("--keep", type=Path, help="keep the agents' data folders here (default: deleted)")
    p.add_argument("--sample-worker", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.sample_worker is not None:
        sample_worker(args.sample_worker)
        return 0
    missing = ds.missing_apps()
    if missing:
        print(f"missing: {', '.join(missing)} (bash packaging/install.sh installs them)", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="gum-bench-desk-"))
    threads = {"GUM_THREADS": args.threads} if args.threads else {}
    desk = ds.Desk()
    agents: dict[str, ds.AgentProcess] = {}
    try:
        print("starting the desktop (Xvfb, openbox, Chromium, Mousepad, xterm) ...", file=sys.stderr)
        desk.start()
        common = {"GUM_USER_NAME": "Tomas", **threads}
        agents["after"] = ds.AgentProcess("after", work / "after", desk.display.name,
                                          {**common, "GUM_INTAKE": "segments"})
        agents["before"] = ds.AgentProcess("before", work / "before", desk.display.name,
                                           {**common, "GUM_INTAKE": "captures", "GUM_PACK_OBSERVATIONS": "1"},
                                           config=HELD_IDLE)
        for a in agents.values():
            a.start()
        for a in agents.values():
            a.wait_ready()
        time.sleep(3)  # first captures of the desktop as it is
        cpu0 = {n: cpu_at(a) for n, a in agents.items()}
        t0 = time.monotonic()
        monitor = Monitor(agents, t0)
        monitor.start()
        print(f"session: {args.minutes:g} minutes of scripted work ...", file=sys.stderr)
        session = ds.run_session(desk, args.minutes)
        t1 = time.monotonic()
        session_s = t1 - t0
        end_status = {n: a.status() for n, a in agents.items()}
        cpu1 = {n: cpu_at(a) for n, a in agents.items()}
        agents["before"].stop()
        print(f"session over after {session_s:.0f} s; waiting for the after-agent to drain "
              f"(up to {args.drain_timeout:g} min) ...", file=sys.stderr)
        drain_s, drained_status = wait_drained(agents["after"], args.drain_timeout * 60)
        t2 = time.monotonic()
        cpu2 = cpu_at(agents["after"])
        final_status = agents["after"].status() or drained_status
        monitor.stop_event.set()
        monitor.join()
        agents["after"].stop()
        desk.stop()
        db = {n: ds.database_figures(a) for n, a in agents.items()}
        print(f"processing a sample of {args.sample} of the before-agent's queued observations ...", file=sys.stderr)
        sample = run_sample(agents["before"], work, args.sample)
        report = figures(args, session, session_s, t2 - t1, drain_s, cpu0, cpu1, cpu2, end_status,
                         final_status, db, sample, agents, monitor.backlog)
        print_report(report)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2, default=str))
        if args.keep:
            shutil.copytree(work, args.keep, dirs_exist_ok=True)
        return 0
    finally:
        for a in agents.values():
            a.stop()
        desk.stop()
        shutil.rmtree(work, ignore_errors=True)


def figures(args, session, session_s, after_drain_wait_s, drain_s, cpu0, cpu1, cpu2, end_status, final_status,
            db, sample, agents, backlog) -> dict:
    """The figures, each with where it came from (status counter, database, /proc, or estimate)."""
    active_h = max(1e-9, (session_s - session.away_s) / 3600)
    after, before = agents["after"], agents["before"]
    eng = (final_status or {}).get("engine") or {}
    intake_a = (final_status or {}).get("intake") or {}
    intake_b = (end_status.get("before") or {}).get("intake") or {}
    eng_b = (end_status.get("before") or {}).get("engine") or {}
    processed_s = max(1, sample.get("processed", 0))
    per = {k: sample.get(k, 0) / processed_s for k in ("calls", "model_seconds", "cpu_seconds", "wall_seconds")}

    def ocr(d):
        ms = d["ocr_ms"]
        return {"mean": round(statistics.mean(ms)) if ms else None,
                "median": round(statistics.median(ms)) if ms else None, "captures_read": len(ms)}

    # after: counters from the agent when it has them, else from its database and the sample.
    a_queued = intake_a.get("queued", db["after"]["queued_rows"])
    a_pending_end = ((end_status.get("after") or {}).get("queue") or {}).get("pending")
    a_processed = eng.get("processed", a_queued - db["after"]["queue"]["pending"] - db["after"]["queue"]["failed"])
    notes = []
    if "calls" in eng:
        a_calls, a_calls_src = eng["calls"], "status engine.calls"
    else:
        a_calls, a_calls_src = round(a_processed * per["calls"]), "est.: processed x calls/observation of the sample"
    observing_b = cpu1["before"] - cpu0["before"]  # the before-agent only observed: the cost of observing
    if "cpu_seconds" in eng:
        a_model_cpu, a_cpu_src = eng["cpu_seconds"], "status engine.cpu_seconds"
    else:
        a_model_cpu = max(0.0, (cpu2 - cpu0["after"]) - observing_b)
        a_cpu_src = "est.: agent CPU (session+drain) minus the before-agent's observing CPU"
    b_queued = intake_b.get("queued", db["before"]["queued_rows"])
    b_calls = b_queued * per["calls"]
    b_model_cpu = b_queued * per["cpu_seconds"]
    b_backlog = max(0.0, b_queued - session_s / per["wall_seconds"]) if per["wall_seconds"] else None
    if eng_b.get("calls") or db["before"]["queue"]["pending"] + db["before"]["queue"]["failed"] < db["before"]["queued_rows"]:
        notes.append("WARNING: the before-agent's engine was not idle during the session; its figures are off")
    if drain_s is None:
        left = ((final_status or {}).get("queue") or {}).get("pending")
        eng_end = (end_status.get("after") or {}).get("engine") or {}
        if "processed" in eng and "processed" in eng_end:
            done = eng["processed"] - eng_end["processed"]  # segments closing after the session add to the queue
        else:
            done = (a_pending_end or 0) - (left or 0)
        rate = done / after_drain_wait_s if after_drain_wait_s and done > 0 else 0
        drain_text = (f"not drained in {after_drain_wait_s / 60:.0f} min ({left} left; "
                      + (f"est. {((left or 0) / rate + after_drain_wait_s) / 60:.0f} min in all at the rate "
                         "it drained)" if rate else "none processed while waiting)"))
    else:
        drain_text = f"{drain_s / 60:.1f} min"
    rss_model = max(0.0, sample.get("peak_rss_mb", 0) - sample.get("rss_before_model_mb", 0))
    # What the model did while the user was at work (the pace's business), apart from the drain afterwards.
    eng_active = (end_status.get("after") or {}).get("engine") or {}
    report = {
        "session": {"minutes": round(session_s / 60, 1), "active_minutes": round(active_h * 60, 1),
                    "away_s": round(session.away_s), "steps": session.log,
                    "threads": args.threads or "gum chooses", "sample": args.sample},
        "after": {
            "observations": db["after"]["observations"], "by_observer": db["after"]["by_observer"],
            "segments": intake_a.get("segments"), "queued": a_queued, "processed": a_processed,
            "intake": intake_a, "engine": eng,
            "calls_per_active_hour": a_calls / active_h, "calls_source": a_calls_src,
            "model_cpu_min_per_active_hour": a_model_cpu / 60 / active_h, "model_cpu_source": a_cpu_src,
            "calls_while_active_per_active_hour": eng_active.get("calls", 0) / active_h,
            "model_cpu_min_while_active_per_active_hour": eng_active.get("cpu_seconds", 0.0) / 60 / active_h,
            "agent_cpu_share_session": (cpu1["after"] - cpu0["after"]) / session_s,
            "peak_rss_mb": after.peak_rss, "backlog_at_end": a_pending_end,
            "eta_seconds_at_end": ((end_status.get("after") or {}).get("queue") or {}).get("eta_seconds"),
            "drain": drain_text, "drain_s": drain_s, "ocr_ms": ocr(db["after"]),
            "restarts": restarts(final_status, db["after"]), "restart_events": db["after"]["restart_events"],
            "propositions": db["after"]["propositions"],
            "backlog_curve": backlog, "titles": db["after"]["titles"][:40],
        },
        "before": {
            "observations": db["before"]["observations"], "by_observer": db["before"]["by_observer"],
            "segments": intake_b.get("segments"), "queued": b_queued, "intake": intake_b,
            "calls_per_active_hour": b_calls / active_h,
            "model_cpu_min_per_active_hour": b_model_cpu / 60 / active_h,
            # The old way had no budget: all of its work came while the user worked.
            "calls_while_active_per_active_hour": b_calls / active_h,
            "model_cpu_min_while_active_per_active_hour": b_model_cpu / 60 / active_h,
            "agent_cpu_share_session": observing_b / session_s,
            "agent_cpu_share_with_model": (observing_b + b_model_cpu) / session_s,
            "peak_rss_mb": before.peak_rss + rss_model, "peak_rss_observing_mb": before.peak_rss,
            "backlog_at_end": b_backlog, "drain_s": b_backlog * per["wall_seconds"] if b_backlog is not None else None,
            "ocr_ms": ocr(db["before"]), "restarts": restarts(end_status.get("before"), db["before"]),
            "restart_events": db["before"]["restart_events"],
            "sample": sample, "per_observation": per,
        },
        "notes": notes,
    }
    return report


def _fmt(v, digits=1) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _ratio(a, b) -> str:
    if a is None or b in (None, 0):
        return "n/a"
    return f"{a / b:.2f}x"


def print_report(r: dict) -> None:
    s, a, b = r["session"], r["after"], r["before"]
    print(f"\nDesk session: {s['minutes']} min ({s['active_minutes']} active, {s['away_s']} s away), "
          f"model threads: {s['threads']}")
    rows = [
        ("observations stored", a["observations"], b["observations"]),
        ("segments", a["segments"], b["segments"]),
        ("queued for the model", a["queued"], b["queued"]),
        ("model calls while active / active h", a["calls_while_active_per_active_hour"],
         b["calls_while_active_per_active_hour"]),
        ("model CPU-min while active / active h", a["model_cpu_min_while_active_per_active_hour"],
         b["model_cpu_min_while_active_per_active_hour"]),
        ("model calls in all / active hour", a["calls_per_active_hour"], b["calls_per_active_hour"]),
        ("model CPU-min in all / active hour", a["model_cpu_min_per_active_hour"], b["model_cpu_min_per_active_hour"]),
        ("agent CPU, % of a core (session)*", 100 * a["agent_cpu_share_session"],
         100 * b["agent_cpu_share_with_model"]),
        ("peak RSS, MB", a["peak_rss_mb"], b["peak_rss_mb"]),
        ("backlog at session end", a["backlog_at_end"], b["backlog_at_end"]),
        ("time to drain, min", a["drain_s"] / 60 if a["drain_s"] is not None else None,
         b["drain_s"] / 60 if b["drain_s"] is not None else None),
        ("OCR ms / capture (mean)", a["ocr_ms"]["mean"], b["ocr_ms"]["mean"]),
        ("observer restarts", a["restarts"], b["restarts"]),
    ]
    print(f"{'':38} {'after (segments)':>17} {'before (captures)':>18} {'after/before':>13}")
    for name, x, y in rows:
        print(f"{name:38} {_fmt(x):>17} {_fmt(y):>18} {_ratio(x, y):>13}")
    print("* before: observing measured + the model work it queued (est.); over 200% = more than two cores")
    print(f"\nafter: drain {a['drain']}; calls: {a['calls_source']}; model CPU: {a['model_cpu_source']}")
    print(f"after: {a['processed']} processed, propositions {a['propositions']}, by observer {a['by_observer']}")
    if a["intake"]:
        print(f"after: intake {a['intake']}")
    if a["engine"]:
        print(f"after: engine {a['engine']}")
    print(f"after: backlog over time (s, pending): {a['backlog_curve']}")
    sm, per = b["sample"], b["per_observation"]
    print(f"before: engine held idle in the session (it only queued); est. from a sample of {sm.get('processed')} "
          f"of its {sm.get('queued')} queued observations processed afterwards: {per['calls']:.2f} calls, "
          f"{per['cpu_seconds']:.1f} CPU-s, {per['wall_seconds']:.1f} s wall per observation")
    print(f"before: agent CPU observing only {100 * b['agent_cpu_share_session']:.1f}% of a core; "
          f"peak RSS observing {b['peak_rss_observing_mb']:.0f} MB + the model's "
          f"{b['peak_rss_mb'] - b['peak_rss_observing_mb']:.0f} MB (sample worker); backlog = what the sampled "
          "speed could not have processed live during the session")
    print(f"before: by observer {b['by_observer']}")
    for who, x in (("after", a), ("before", b)):
        for e in x["restart_events"]:
            print(f"{who}: {e}")
    for n in r["notes"]:
        print(n)


if __name__ == "__main__":
    sys.exit(main())
