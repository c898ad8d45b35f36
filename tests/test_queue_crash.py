"""The queue survives a process killed mid-batch: nothing lost, nothing processed twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timezone

from gum.backends.scripted import ScriptedModel
from gum.engine import Engine
from gum.records import Observation
from gum.store import Store

WORKER = textwrap.dedent(
    """
    import json, sys, time, pathlib
    from gum.backends.scripted import ScriptedModel
    from gum.engine import Engine
    from gum.store import Store

    marker = pathlib.Path(sys.argv[1])
    calls = []

    def reply(call):
        calls.append(call)
        if len(calls) == 2:          # the second observation: announce, then hang until killed
            marker.write_text("in the middle of observation 2")
            time.sleep(600)
        topic = call["user"].split("\\n")[1]
        return {"facts": [{"what": topic, "relation": "works on", "who": "user"}]}

    Engine(Store(), ScriptedModel(default=reply), user_name="Priya", use_judge=False, pack_most=1).run()
    """
)


def test_a_process_killed_mid_batch_loses_nothing_and_processes_nothing_twice(store, tmp_path):
    topics = ["quantum chemistry homework", "sourdough baking schedule", "kubernetes cluster upgrade"]
    for i, topic in enumerate(topics):
        store.add_observation(
            Observation("screen", topic, ts=datetime(2026, 3, 2, 9, i, tzinfo=timezone.utc))
        )
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(marker)], env=dict(os.environ))
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, "the worker exited before reaching the second observation"
            assert time.monotonic() < deadline, "the worker never reached the second observation"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    after_crash = Store()
    # The first observation's result was committed with its removal from the queue; the rest still wait.
    assert after_crash.queue_counts() == {"pending": 2, "failed": 0}
    [first] = after_crash.propositions()
    assert "quantum chemistry" in first.text

    def reply(call):
        topic = call["user"].split("\n")[1]
        return {"facts": [{"what": topic, "relation": "works on", "who": "user"}]}

    model = ScriptedModel(default=reply)
    summary = Engine(after_crash, model, user_name="Priya", use_judge=False, pack_most=1).run()
    assert summary.observations == 2 and len(model.history) == 2
    props = after_crash.propositions(limit=None)
    assert sorted(p.text for p in props) == sorted(f"Priya is working on {t}" for t in topics)
    # Each observation is evidence of exactly one proposition: none was processed twice.
    links = after_crash.db.execute("SELECT observation_id, COUNT(*) FROM evidence GROUP BY observation_id").fetchall()
    assert sorted(n for _, n in links) == [1, 1, 1]
    assert after_crash.queue_counts() == {"pending": 0, "failed": 0}


PACK_WORKER = textwrap.dedent(
    """
    import sys, time, pathlib
    from gum.backends.scripted import ScriptedModel
    from gum.engine import Engine
    from gum.store import Store

    def reply(call):  # the call that reads the whole pack: announce, then hang until killed
        pathlib.Path(sys.argv[1]).write_text("reading the pack")
        time.sleep(600)

    Engine(Store(), ScriptedModel(default=reply), user_name="Priya", use_judge=False, pack_most=4).run()
    """
)


def test_a_process_killed_while_reading_a_pack_leaves_every_observation_of_it_queued(store, tmp_path):
    topics = ["quantum chemistry homework", "sourdough baking schedule", "kubernetes cluster upgrade"]
    for i, topic in enumerate(topics):
        store.add_observation(Observation("screen", topic, ts=datetime(2026, 3, 2, 9, i, tzinfo=timezone.utc)))
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", PACK_WORKER, str(marker)], env=dict(os.environ))
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the worker never read the pack"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)

    after_crash = Store()
    assert after_crash.queue_counts() == {"pending": 3, "failed": 0} and after_crash.propositions() == []
    pack_reply = {"observations": [{"facts": [{"what": t, "relation": "works on", "who": "user"}]} for t in topics]}
    model = ScriptedModel([pack_reply])
    summary = Engine(after_crash, model, user_name="Priya", use_judge=False, pack_most=4).run()
    assert summary.observations == 3 and len(model.history) == 1
    assert sorted(p.text for p in after_crash.propositions()) == sorted(f"Priya is working on {t}" for t in topics)
    links = after_crash.db.execute("SELECT observation_id, COUNT(*) FROM evidence GROUP BY observation_id").fetchall()
    assert sorted(n for _, n in links) == [1, 1, 1]
