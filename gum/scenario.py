"""Evaluation scenarios (the folder format of tests/eval/FORMAT.md): read, validated, with clear errors.

A scenario is a folder with scenario.json (the facts a person who knows the user wrote down) and the
activity to replay: observations.jsonl and/or screens/ (screenshots, with screens/index.jsonl). The activity
itself is read by gum.ingest exactly as `gum ingest` reads it; this module only reads and checks the facts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import InputError

SCENARIO_FILE = "scenario.json"
DEFAULT_K = 5


class FactSpec(BaseModel):
    """One fact as written in scenario.json (validated: it comes from outside)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = ""
    text: str = Field(min_length=1)
    is_true: bool = Field(alias="true")
    match: list[list[str]] = Field(min_length=1)
    # How an assistant would ask for this fact ("which accounting software does she use?"): scored as
    # question-recall@k. Optional, so scenarios written before it still run.
    question: str = ""

    @field_validator("match")
    @classmethod
    def _groups_not_empty(cls, groups: list[list[str]]) -> list[list[str]]:
        cleaned = [[alt.strip() for alt in group if alt.strip()] for group in groups]
        if any(not group for group in cleaned):
            raise ValueError("every keyword group needs at least one non-empty alternative")
        return cleaned


class ScenarioSpec(BaseModel):
    """scenario.json; fields the format does not define are ignored, so newer files still run."""

    model_config = ConfigDict(extra="ignore")

    name: str = ""
    user_name: str = ""
    description: str = ""
    k: int = Field(DEFAULT_K, ge=1, le=100)
    facts: list[FactSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Fact:
    """A statement about the user, true or false, and the keyword groups that recognise it in a proposition."""

    id: str
    text: str
    true: bool
    groups: tuple[tuple[str, ...], ...]
    question: str = ""


@dataclass
class Scenario:
    """A scenario folder, read and checked."""

    path: Path
    name: str
    user_name: str
    k: int
    facts: list[Fact]

    @property
    def true_facts(self) -> list[Fact]:
        return [f for f in self.facts if f.true]

    @property
    def false_facts(self) -> list[Fact]:
        return [f for f in self.facts if not f.true]


def is_scenario(path: Path) -> bool:
    """Whether `path` is a scenario folder."""
    return (Path(path) / SCENARIO_FILE).is_file()


def expand(paths: list[Path]) -> list[Path]:
    """Scenario folders from `paths`: each one a scenario, or a folder whose sub-folders are scenarios."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.name == SCENARIO_FILE and path.is_file():
            path = path.parent
        if is_scenario(path):
            found.append(path)
        elif path.is_dir() and any(is_scenario(p) for p in path.iterdir() if p.is_dir()):
            found += sorted(p for p in path.iterdir() if p.is_dir() and is_scenario(p))
        elif not path.exists():
            raise InputError(f"{path}: no such folder")
        else:
            raise InputError(f"{path}: not a scenario (no {SCENARIO_FILE} in it or in its sub-folders)")
    return found


def load(path: Path) -> Scenario:
    """Read and check the scenario folder at `path`; InputError says what is wrong and where."""
    path = Path(path)
    file = path / SCENARIO_FILE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{file}: cannot read ({exc.strerror or exc})") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{file}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise InputError(f"{file}: {where}: {first['msg']}") from exc
    if not (path / "observations.jsonl").is_file() and not (path / "screens").is_dir():
        raise InputError(f"{path}: has neither observations.jsonl nor screens/")
    facts = [
        Fact(id=f.id or f"fact{n}", text=f.text, true=f.is_true, groups=tuple(tuple(g) for g in f.match),
             question=f.question.strip())
        for n, f in enumerate(spec.facts, 1)
    ]
    ids = [f.id for f in facts]
    if len(set(ids)) != len(ids):
        raise InputError(f"{file}: fact ids are not unique")
    return Scenario(path=path, name=spec.name or path.name, user_name=spec.user_name, k=spec.k, facts=facts)
