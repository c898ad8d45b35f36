"""The whole path on real parts: rendered screenshots -> tesseract -> the embedded model -> SQLite -> query."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest
from helpers import free_port, render_text_image

from gum.backends.embedded import embedded_model_path
from gum.backends.openai_compat import OpenAICompatModel
from gum.engine import Engine
from gum.records import Observation

pytestmark = pytest.mark.model


def gum(*args, timeout=600):
    proc = subprocess.run([sys.executable, "-m", "gum.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_gum_ingest_then_query_finds_what_the_screenshots_showed(tmp_path):
    shots = tmp_path / "shots"
    shots.mkdir()
    render_text_image(shots / "01.png", [
        "Zotero - My Library",
        "Collection: Thesis / Chapter 4",
        "Li, Han, Wu - Deeper Insights into Graph Convolutional Networks (2018)",
        "Oono, Suzuki - Graph Neural Networks Exponentially Lose Expressive Power",
        "Export to Overleaf with Better BibTeX",
    ])
    render_text_image(shots / "02.png", [
        "chapter4_gnn_scaling.tex - Overleaf",
        "Chapter 4: Scaling Message Passing in Graph Neural Networks",
        "4.1 Motivation: message passing GNNs suffer from over-smoothing as depth grows",
        "TODO: rewrite after advisor comments",
    ])
    (shots / "03.png").write_bytes(b"not an image at all")
    out = gum("ingest", "--user", "Priya", str(shots))
    assert "Stored 2 observations" in out
    assert "1 skipped" in out

    status = json.loads(gum("status", "--json"))
    assert status["observations"] == 2
    assert status["queue"]["pending"] == 0
    assert status["propositions"].get("active", 0) >= 1

    everything = json.loads(gum("recent", "--limit", "20", "--json"))
    texts = " ".join(p["text"] for p in everything).lower()
    # The model names what it saw: the app, the thesis, or its subject.
    assert any(word in texts for word in ("zotero", "thesis", "graph", "neural", "overleaf", "chapter"))
    assert all(1 <= p["confidence"] <= 10 and p["evidence_count"] >= 1 for p in everything)

    hits = json.loads(gum("query", "Zotero thesis graph neural networks Overleaf", "--json"))
    assert hits, "a query with the screenshots' own words returns nothing"
    shown = json.loads(gum("show", str(hits[0]["id"]), "--json"))
    assert shown["evidence"] and shown["history"]
    assert any("Graph" in o["text"] or "Zotero" in o["text"] or "Overleaf" in o["text"] for o in shown["evidence"])


@pytest.fixture(scope="module")
def llama_server():
    """llama-cpp-python's own OpenAI-compatible server, on loopback, serving the embedded model."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_model_path()), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--verbose", "false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(base + "/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("llama_cpp.server did not start: " + proc.stderr.read().decode()[-2000:])
        time.sleep(0.5)
    yield base
    proc.terminate()
    proc.wait(timeout=30)


def test_an_openai_compatible_server_drives_the_same_engine(llama_server, store):
    model = OpenAICompatModel(llama_server, "qwen")
    store.add_observation(Observation("screen", "Spotify - Playlist: Bouldering warm-up mix\nNow playing: Khruangbin",
                                      app="Spotify"))
    summary = Engine(store, model, user_name="Lin").run()
    assert summary.failed == 0 and summary.created >= 1
    assert summary.usage.completion_tokens > 0
    assert all(1 <= p.confidence <= 10 for p in store.propositions())


def test_a_server_that_is_not_there_is_a_clear_model_error(store):
    from gum.errors import ModelError

    model = OpenAICompatModel(f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(ModelError, match="cannot reach the model server"):
        model.complete_json("s", "u", {"type": "object"})
