"""Constrained output from the embedded model, with the grammar asked only about the token the model chose."""

import json

import pytest

from gum.backends.embedded import embedded_model_path
from gum.backends.llama import LlamaCppModel
from gum.engine import PROPOSE_SCHEMA


@pytest.fixture(scope="module")
def model():
    return LlamaCppModel(embedded_model_path(), n_ctx=2048, threads=1)


def test_the_answer_follows_the_schema_and_the_grammar_is_asked_once_a_token(model):
    text, used = model.complete_json(
        "You note facts about Tom from his screen. Answer with JSON only.",
        "<observation>Canva | Spring Fair Flyer (Letter)\nMAPLEWOOD ELEMENTARY SPRING FAIR</observation>",
        PROPOSE_SCHEMA, max_tokens=120)
    answer = json.loads(text)
    assert answer["facts"] and all(f["relation"] and f["who"] in ("user", "someone else") for f in answer["facts"])
    sampler = model.llm.last_sampler
    assert sampler.checked in (used.completion_tokens, used.completion_tokens + 1), "one a token, and the end"
    assert sampler.rejected < sampler.checked / 2, "most tokens the model picks already fit the schema"


def test_a_token_the_grammar_rejects_is_sampled_again_under_it(model):
    # Nothing in the prompt suggests the one value the schema allows: the model's own choices are rejected
    # and the answer is still exactly what the schema says.
    schema = {"type": "object", "properties": {"colour": {"type": "string", "enum": ["zq-vermilion-7"]}},
              "required": ["colour"]}
    text, _ = model.complete_json("Answer with JSON only.", "What colour is the sky? Say blue.", schema, max_tokens=40)
    assert json.loads(text) == {"colour": "zq-vermilion-7"}
    assert model.llm.last_sampler.rejected >= 1
