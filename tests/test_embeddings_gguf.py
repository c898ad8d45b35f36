"""The sentence-embedding model run by llama.cpp: the GGUF written from the verified files, and vectors that
are the numpy forward pass's (tests/minilm_numpy.py, what gum ran before), so stored vectors stay valid."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from minilm_numpy import NumpyEncoder, sample_texts

from gum import embeddings, vectors
from gum.bert_gguf import convert
from gum.errors import ModelError
from gum.records import Proposition, utcnow
from gum.search import QueryTrace, query


@pytest.fixture(scope="module")
def reference():
    return NumpyEncoder(embeddings.model_dir())


@pytest.fixture(scope="module")
def texts():
    return sample_texts()


def test_the_gguf_is_written_once_beside_the_verified_files_and_the_same_every_time(tmp_path, monkeypatch):
    monkeypatch.setenv("GUM_CACHE_DIR", str(tmp_path / "cache"))
    path = embeddings.gguf_path()
    assert path.parent == embeddings.model_dir() and path.name == embeddings.MINILM.gguf
    written = path.stat().st_mtime_ns
    assert embeddings.gguf_path() == path and path.stat().st_mtime_ns == written  # the marker saves a rewrite
    again = convert(path.parent, tmp_path / "again.gguf", weights=embeddings.MINILM.weights)
    assert again.read_bytes() == path.read_bytes()  # deterministic: no time or path in the file


def test_a_damaged_gguf_is_written_again_when_verified(tmp_path, monkeypatch):
    monkeypatch.setenv("GUM_CACHE_DIR", str(tmp_path / "cache"))
    path = embeddings.gguf_path()
    good = embeddings._sha256(path)
    with open(path, "r+b") as f:
        f.seek(1 << 20)
        f.write(b"\xff" * 64)
    assert embeddings._sha256(embeddings.gguf_path(verify=True)) == good


def test_the_desktop_build_ships_only_the_gguf_and_its_marker_and_a_damaged_one_is_refused(tmp_path, monkeypatch):
    import shutil

    written = embeddings.gguf_path()
    bundle = tmp_path / "bundle" / written.parent.name
    bundle.mkdir(parents=True)
    for f in (written, written.with_name(written.name + ".verified")):  # what packaging/build.sh copies
        shutil.copy2(f, bundle / f.name)
    monkeypatch.setenv("GUM_BUNDLED_MODELS", str(bundle.parent))
    monkeypatch.setenv("GUM_CACHE_DIR", str(tmp_path / "empty-cache"))  # no source files anywhere but the package
    assert embeddings.gguf_path(verify=True) == bundle / written.name
    assert not (tmp_path / "empty-cache").exists()  # nothing extracted or written: the bundle is enough
    with open(bundle / written.name, "r+b") as f:
        f.seek(1 << 20)
        f.write(b"\xff" * 64)
    with pytest.raises(ModelError, match="reinstall gum"):
        embeddings.gguf_path(verify=True)


def test_a_missing_or_unreadable_gguf_is_a_model_error_that_says_what_to_do(tmp_path):
    with pytest.raises(ModelError, match="gum model install"):
        embeddings.Encoder(tmp_path / "absent.gguf")
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\0" * 4096)
    with pytest.raises(ModelError, match="gum model install --verify"):
        embeddings.Encoder(junk)


def test_a_closed_encoder_refuses_to_embed_instead_of_touching_freed_memory():
    enc = embeddings.Encoder(embeddings.gguf_path())
    assert enc.encode(["one"]).shape == (1, embeddings.MINILM.dim)
    enc.close()
    enc.close()  # twice is harmless
    with pytest.raises(ModelError, match="closed"):
        enc.encode(["two"])


def test_llama_cpp_cuts_texts_into_the_word_pieces_of_the_hugging_face_tokenizer(reference, texts):
    enc = embeddings.encoder()
    assert [t for t in texts if enc.token_ids(t) != reference.token_ids(t)] == []
    long = texts[-1]
    assert len(enc.token_ids(long)) == embeddings.MINILM.max_tokens and enc.token_ids(long)[-1] == 102  # [SEP]


def test_llama_cpp_gives_the_numpy_vectors_on_a_few_hundred_propositions_and_questions(reference, texts):
    got = embeddings.encoder().encode(texts)
    cos = (got * reference.encode(texts)).sum(1)
    assert len(texts) >= 400
    assert cos.mean() >= 0.999 and cos.min() >= 0.995  # what "the same vectors" must mean
    assert cos.min() > 0.9999  # what F16 weights give (a Q8_0 file gives ~0.9994 at worst)
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)


def test_vectors_stored_by_the_numpy_encoder_are_found_by_a_llama_cpp_question(store, reference):
    # A database written before gum ran llama.cpp: its int8 vectors came from numpy, under the same model key.
    store.user_name = "Grace"
    texts = ["Grace does her bookkeeping in QuickBooks", "Grace enjoys sea swimming on weekends",
             "Grace listens to jazz while working", "Grace is learning Italian with Duolingo"]
    ids = []
    for text in texts:
        ids.append(store.insert_proposition(Proposition(text=text, confidence=6, decay=6, created_at=utcnow(),
                                                        updated_at=utcnow())))
    old = reference.encode([vectors.dense_text(t, "Grace") for t in texts])
    vectors.write(store.db, ids, old)
    store.db.conn.commit()
    assert {r[0] for r in store.db.execute("SELECT DISTINCT model FROM proposition_vectors")} == {vectors.MODEL_KEY}
    trace = QueryTrace()
    got = query(store, "Which accounting software does she use?", limit=2, trace=trace)
    assert got[0].id == ids[0] and trace.explain[ids[0]].bm25_rank is None  # found by meaning alone
    was = float(old[0] @ reference.encode([trace.question.dense])[0])
    assert trace.explain[ids[0]].dense == pytest.approx(was, abs=0.01)  # the cosine numpy would have given


def test_threads_embedding_at_once_each_get_their_own_vectors(texts):
    # One llama.cpp context serves every thread (the API's queries, the engine's writes): one at a time.
    enc = embeddings.encoder()
    parts = [texts[i:i + 10] for i in range(0, 40, 10)]
    want = [enc.encode(p) for p in parts]
    got: dict[int, list] = {i: [] for i in range(len(parts))}

    def work(i: int) -> None:
        for _ in range(5):
            got[i].append(enc.encode(parts[i]))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(parts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(v, want[i]) for i, vs in got.items() for v in vs)


def test_a_text_is_embedded_the_same_on_one_thread_or_two(reference):
    enc = embeddings.encoder()
    text = "Which accounting software does Grace use?"
    one = enc.encode([text], threads=1)[0]
    two = enc.encode([text], threads=2)[0]
    assert float(one @ two) > 0.99999  # the same vector however many threads compute it
    assert float(two @ reference.encode([text])[0]) > 0.9999



def test_a_question_embedded_beside_the_lexical_search_is_the_vector_encode_query_gives():
    enc = embeddings.encoder()
    enc.forget_queries()
    text = "What does the user do for fun during the week?"
    pending = enc.encode_query_soon(text)
    vec = pending.result(timeout=30)
    assert np.array_equal(vec, enc.encode([text])[0])
    again = enc.encode_query_soon(text)
    assert again.done() and again.result() is vec  # remembered: no second embedding
