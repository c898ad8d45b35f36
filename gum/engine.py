"""The engine: observations in, revisable propositions out.

As in the paper: propose propositions from observations, retrieve related existing ones, judge each pair
identical / similar / unrelated, then attach evidence (identical), write a new version (similar) or insert
(unrelated). Unlike the reference, nothing is deleted: an old version is marked superseded. What the user
revoked or rejected is checked first and never comes back.

Small local models do better with one small call per observation than with one call over a whole batch
(FINDINGS.md), so the batch is a unit of scheduling and the observation the unit of work. Each
observation's results commit in one transaction together with its removal from the queue: a crash loses at
most the observation in flight, and nothing is processed twice.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import prompts
from .backends.base import Model
from .chat import user_turns
from .compose import (
    MIN_PAGE_KEYS,
    RELATIONS,
    WHO,
    as_said,
    compose,
    compose_correspondence,
    compose_document,
    compose_event,
    compose_signature,
    is_browser,
    span_line,
)
from .confidence import Evidence, confidence
from .disclosure import said_as_fact, statements
from .engagement import (
    INPUT_WINDOW,
    Engagement,
    acting_cue,
    engagement,
    is_input,
    split_injection,
    strip_ads,
    user_voice,
)
from .errors import ModelError, ModelOutputError
from .records import Observation, Proposition, Usage, iso
from .segments import start_page
from .similarity import similarity, terms
from .store import BLOCKED, Store
from .wellformed import problems

log = logging.getLogger("gum.engine")

IDENTICAL = 0.75  # similarity at or above: the same claim, no model call needed
UNRELATED = 0.2  # below: a different subject, no model call needed
SIMILAR_WITHOUT_JUDGE = 0.45  # in between, when the model is not asked
BLOCKED_NEAR = 0.45  # this close to a revoked or rejected proposition: refused
MAX_OBSERVATION_CHARS = 1500
MAX_CHUNKS = 3
# Short observations can be read several to a call (issue 11: a desk session's ~30 activities in 10 minutes cost
# a call each). A pack holds at most `pack_observations` observations and PACK_CHARS characters of their text,
# so the prompt stays as small as one long observation's.
PACK_CHARS = MAX_OBSERVATION_CHARS
PACK_MOST = 1  # the setting pack_observations; see gum/config.py for why one is the default
NO_CLAIM_WEIGHT = 0.2  # observations weighing less never yield a claim on their own
SAID_DECAY = 6  # what the user says of themselves: their plans and projects, months rather than years
MIN_GROUNDING = 0.25  # share of a claim's content words that must appear in its observation
SEEN_CAP = 0.5  # what an observation counts for a claim it only displays (or shows someone else doing)
# Words any claim may use without the observation saying them.
GENERIC_TERMS = frozenset(
    ["use", "work", "interest", "app", "application", "project", "document", "topic", "person", "place", "company", "current", "regular", "often", "like", "prefer", "manag", "involv", "engag", "focus", "look", "view", "read", "check", "spend", "time", "seem", "appear", "relat", "specific", "activ", "task", "plan", "screen", "computer", "open", "visit", "browse"]
)

@dataclass
class Proposal:
    """One proposition composed from the model's slots (gum/compose.py), before it is decided on."""

    text: str
    reasoning: str = ""
    decay: int = 5
    confidence: int | None = None  # what the model said; the slots carry no confidence
    kind: str = ""
    relation: str = ""
    span: str = ""
    seen_only: bool = False  # the model says someone else acts: the observation counts only as seen


@dataclass
class Reading:
    """What the model is given from one queued observation, and what is stored with its results."""

    obs: Observation
    eng: Engagement
    text: str  # "" when the observation yields no claim on its own
    chat: bool
    meta: dict


class Slot(BaseModel):
    """One fact as the model extracts it: a span of the observation, how the user relates to it, who acts."""

    model_config = ConfigDict(extra="ignore")

    what: str = Field(min_length=1, max_length=120)
    relation: Literal[tuple(RELATIONS)]  # type: ignore[valid-type]
    who: Literal[WHO]  # type: ignore[valid-type]


class Slots(BaseModel):
    """The model's answer to the propose prompt."""

    model_config = ConfigDict(extra="ignore")

    facts: list[Slot] = Field(min_length=1, max_length=3)


class PackSlots(BaseModel):
    """The model's answer for a pack: the slots of each observation, in order."""

    model_config = ConfigDict(extra="ignore")

    observations: list[Slots] = Field(min_length=1, max_length=8)


class Verdict(BaseModel):
    model_config = ConfigDict(extra="ignore")

    quote: str = ""
    who: Literal["user", "other", "displayed", "none"]


class Judgement(BaseModel):
    model_config = ConfigDict(extra="ignore")

    relation: Literal["identical", "similar", "unrelated"]


# The model fills slots, never a sentence: a short span (no quote, backslash or newline, so the grammar cannot
# break the JSON string), a relation from a fixed set and who acts. The code writes the sentence (compose.py).
PROPOSE_SCHEMA = {
    "type": "object",
    "properties": {
        "facts": {
            "type": "array",
            "minItems": 1,
            "maxItems": 2,
            "items": {
                "type": "object",
                "properties": {
                    "what": {"type": "string", "pattern": '^[^"\\\\\\n]{1,60}$'},
                    "relation": {"enum": list(RELATIONS)},
                    "who": {"enum": list(WHO)},
                },
                "required": ["what", "relation", "who"],
            },
        }
    },
    "required": ["facts"],
}
VERIFY_SCHEMA = {
    "type": "object",
    "properties": {
        "quote": {"type": "string", "maxLength": 160},
        "who": {"enum": ["user", "other", "displayed", "none"]},
    },
    "required": ["quote", "who"],
}
JUDGE_SCHEMA = {
    "type": "object",
    "properties": {"relation": {"enum": ["identical", "similar", "unrelated"]}},
    "required": ["relation"],
}


def propose_schema(observations: int) -> dict:
    """The propose schema for a call that reads `observations` observations. For a pack, one entry of facts
    per observation, in order: the grammar makes a small model answer for each one, and says which
    observation each fact came from."""
    if observations == 1:
        return PROPOSE_SCHEMA
    each = {"type": "object", "properties": {"facts": PROPOSE_SCHEMA["properties"]["facts"]}, "required": ["facts"]}
    return {"type": "object",
            "properties": {"observations": {"type": "array", "minItems": observations, "maxItems": observations,
                                            "items": each}},
            "required": ["observations"]}


# What gum writes itself from the evidence (a typed-in document, the user's own words, a calendar event, a
# mail the user wrote): a statement of one of these kinds is revised only by another of its kind.
OWN_KINDS = {"document", "said", "event", "contact", "signature"}


def _other_kind(existing: Proposition, proposal: Proposal) -> bool:
    """Whether one of the two is of a kind gum writes itself and the other of another kind. Among the model's
    kinds a revision may change the relation ("is reading about X", then "is working on X")."""
    kind = (existing.confidence_detail or {}).get("kind", "")
    return bool(kind and proposal.kind and kind != proposal.kind and OWN_KINDS & {kind, proposal.kind})


def _named(text: str, ignore: frozenset[str]) -> set[str]:
    """The named things of a statement: its words with a capital (past the first) or a digit, lowercased, but
    the user's name."""
    out = set()
    for i, w in enumerate(re.findall(r"[\w][\w.'-]*", text)):
        w = w.strip(".'")
        if (i and w[:1].isupper() or any(c.isdigit() for c in w)) and w.lower() not in ignore:
            out.add(w.lower())
    return out


def _typed_on_screen(reading: Reading) -> bool:
    """Whether `reading` is a screen or window the user may have typed in, not a chat, with text, and not
    disowned: where a document or a mail of the user's is read from (their keys decide the rest)."""
    return (reading.obs.observer in ("screen", "window") and not reading.chat and bool(reading.text.strip())
            and reading.eng.weight >= NO_CLAIM_WEIGHT)


def _used_app(obs: Observation) -> str:
    """The app the user was in when `obs` was made: none for a calendar or a notification, whose "app" is
    where gum read it ("Tomás uses calendar" from a calendar event)."""
    return "" if obs.observer in ("calendar", "notifications") else obs.app


def _only_read(r: Reading) -> bool:
    """The user looked at this screen and did nothing else there. In a browser, following links and typing an
    address is reading too, and so is a page nothing measured (a recorded transcript) unless it shows the user
    acting; elsewhere an unmeasured screen may be work."""
    e = r.eng
    if r.obs.observer != "screen" or r.chat:
        return False
    if is_browser(r.obs.app):
        # Unmeasured (a recorded transcript): a web page is read unless it shows the user acting on it.
        return (e.keys < MIN_PAGE_KEYS or not e.known) and not acting_cue(r.obs)
    if not e.known:
        return False
    return not (e.keys or e.clicks or e.acted)


def _no_claim_source(obs: Observation) -> bool:
    """Input activity and empty observations: done without a model call."""
    return is_input(obs) or not obs.text.strip()


def packs(readings: Iterable[Reading], chars: int = PACK_CHARS, most: int = PACK_MOST) -> Iterator[list[Reading]]:
    """The readings grouped into model calls, each group as soon as it is complete. A chat (read turn by turn),
    a long reading or one with nothing to read goes alone, at once; short screen readings gather into a pack
    until it holds `most` or their text together would pass `chars`."""
    current: list[Reading] = []
    size = 0
    for r in readings:
        if r.chat or not r.text.strip() or len(r.text) > chars // 2:
            yield [r]
            continue
        if current and size + len(r.text) > chars:
            yield current
            current, size = [], 0
        current.append(r)
        size += len(r.text)
        if len(current) >= most:
            yield current
            current, size = [], 0
    if current:
        yield current


def parse_json(text: str, schema_type: type[BaseModel]) -> BaseModel:
    """Validate a model's answer, repairing what weak models commonly get wrong first.

    Repairs: code fences around the JSON, prose before or after it, a truncated end (unclosed strings,
    arrays and objects are closed), numbers sent as strings. Raises ModelOutputError if still invalid.
    """
    raw = text.strip()
    raw = re.sub(r"^```(?:json)?\s*|\s*```$", "", raw)
    start = min([i for i in (raw.find("{"), raw.find("[")) if i >= 0], default=-1)
    if start > 0:
        raw = raw[start:]
    for candidate in (raw, _close_truncated(raw)):
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(data, list) and "facts" in schema_type.model_fields:
            data = {"facts": data}
        if isinstance(data, list) and "observations" in schema_type.model_fields:
            data = {"observations": data}
        try:
            return schema_type.model_validate(data)
        except ValidationError as exc:
            if isinstance(data, dict) and schema_type is Slots:
                # Keep the valid items of a partly valid answer (a truncated last item, say).
                items = [p for p in data.get("facts", []) if _valid(Slot, p)]
                if items:
                    return Slots(facts=[Slot.model_validate(p) for p in items[:3]])
            if isinstance(data, dict) and schema_type is PackSlots:
                # A cut-off answer for a pack: the observations answered in full before the cut are kept.
                good = []
                for each in data.get("observations", []):
                    if not _valid(Slots, each):
                        break
                    good.append(Slots.model_validate(each))
                if good:
                    return PackSlots(observations=good)
            raise ModelOutputError(f"model output does not fit the schema: {exc.errors()[0]['msg']}") from exc
    # No excerpt: the model's output repeats the observation, and this message reaches logs and status.
    raise ModelOutputError(f"model output is not JSON ({len(text)} characters)")


def chunks(text: str, size: int, limit: int) -> list[str]:
    """Up to `limit` pieces of at most `size` characters, cut at line ends where possible."""
    pieces, current = [], ""
    for line in text.splitlines():
        while len(line) > size:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:size])
            line = line[size:]
        if current and len(current) + 1 + len(line) > size:
            pieces.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        pieces.append(current)
    return pieces[:limit]


def _valid(model: type[BaseModel], data) -> bool:
    try:
        model.model_validate(data)
        return True
    except ValidationError:
        return False


def _close_truncated(text: str) -> str:
    """Close what a cut-off JSON text left open, dropping a dangling key or comma."""
    stack, in_str, esc = [], False, False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
    out = text + ('"' if in_str else "")
    out = re.sub(r',\s*"[^"]*"\s*:?\s*"?$', "", out) if not in_str else out
    out = re.sub(r"[,:]\s*$", "", out)
    return out + "".join(reversed(stack))


@dataclass
class Summary:
    """What one run of the engine did."""

    observations: int = 0
    created: int = 0
    revised: int = 0
    attached: int = 0
    refused: int = 0
    slots_refused: int = 0  # slots the composer would not write (not in the evidence, a name, a title ...)
    failed: int = 0
    injections: int = 0
    unverified: int = 0
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "observations": self.observations,
            "created": self.created,
            "revised": self.revised,
            "attached": self.attached,
            "refused": self.refused,
            "slots_refused": self.slots_refused,
            "failed": self.failed,
            "injections": self.injections,
            "unverified": self.unverified,
            "prompt_tokens": self.usage.prompt_tokens,
            "completion_tokens": self.usage.completion_tokens,
            "model_seconds": round(self.usage.seconds, 2),
            "model_calls": self.usage.calls,
            "model_cpu_seconds": round(self.usage.cpu_seconds, 2),
            "seconds": round(self.seconds, 2),
        }


@dataclass
class Action:
    kind: Literal["create", "revise", "attach", "refuse"]
    proposal: Proposal
    target: int | None = None
    reason: str = ""
    cap: float | None = None


class Engine:
    """Turns queued observations into propositions with `model`, writing through `store`."""

    def __init__(
        self,
        store: Store,
        model: Model,
        *,
        user_name: str = "",
        batch_size: int = 8,
        max_attempts: int = 3,
        retries: int = 2,
        use_judge: bool = False,
        model_verify: bool = False,
        pack_most: int = PACK_MOST,
    ):
        self.store = store
        if not store.user_name:  # what the store embeds leaves the user's name out (vectors.dense_text)
            store.user_name = user_name.strip()
        self.model = model
        self.user = user_name.strip() or "the user"
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.retries = retries
        self.use_judge = use_judge
        self.model_verify = model_verify
        self.pack_most = pack_most
        self._name_terms = frozenset(terms(self.user))
        # Comparing composed sentences, the template's own words ("is working on") say nothing: two
        # propositions are the same claim when their objects are.
        self._sim_ignore = self._name_terms | frozenset(
            terms(" ".join(r.template.format(user="", what="") for r in RELATIONS.values())))

    @classmethod
    def from_settings(cls, store: Store, model: Model, settings, *, user_name: str | None = None) -> Engine:
        """An engine configured by the settings (user name, batch size, attempts, verification)."""
        return cls(store, model, user_name=settings.user_name if user_name is None else user_name,
                   batch_size=settings.batch_size, max_attempts=settings.max_attempts,
                   model_verify=settings.verify_with_model, pack_most=settings.pack_observations)

    # -- model calls -------------------------------------------------------------------------------

    def _ask(self, system: str, user: str, schema: dict, kind: type[BaseModel], usage: Usage, max_tokens: int):
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            # A retry samples a little hotter, so it does not repeat the same broken answer.
            text, used = self.model.complete_json(
                system, user, schema, max_tokens=max_tokens, temperature=0.2 + 0.3 * attempt
            )
            usage.add(used)
            usage.calls += 1
            try:
                return parse_json(text, kind)
            except ModelOutputError as exc:
                last = exc
                log.info("malformed model output (attempt %d): %s", attempt + 1, exc)
        raise ModelOutputError(f"{last} (after {self.retries + 1} attempts)")

    def propose_pack(self, readings: list[Reading], usage: Usage, summary: Summary | None = None) -> list[list[Proposal]]:
        """One model call over one or more readings; each slot is composed against the evidence of the
        reading it was found in (the first whose text grounds it), so claims go back to their own observation."""
        system = prompts.render("propose", user=self.user)
        fenced, evidence = [], []
        for r in readings:
            text = r.text if len(r.text) <= MAX_OBSERVATION_CHARS else r.text[:MAX_OBSERVATION_CHARS] + " [...]"
            attrs = {"source": r.obs.observer, "app": r.obs.app, "window": r.obs.window, "time": iso(r.obs.ts)}
            if r.chat:
                attrs["source"] = f"the messages {self.user} wrote in a chat"
            if len(readings) > 1:
                attrs = {"n": str(len(fenced) + 1), **attrs}
            fenced.append(prompts.fence("observation", text, **attrs))
            # A chat's evidence is the user's own turns: the other side's words cannot ground a claim about them.
            evidence.append(text if r.chat else f"{text}\n{r.obs.window}\n{r.obs.app}")
        if len(readings) == 1:
            answer = self._ask(system, fenced[0], PROPOSE_SCHEMA, Slots, usage, max_tokens=120)
            found = [(0, slot) for slot in answer.facts]
        else:
            answer = self._ask(system, "\n".join(fenced), propose_schema(len(readings)), PackSlots, usage,
                               max_tokens=110 * len(readings))
            found = [(i, slot) for i, each in enumerate(answer.observations[:len(readings)]) for slot in each.facts]
        out: list[list[Proposal]] = [[] for _ in readings]
        for i, slot in found:
            # The observation the model answered for first; a fact it put under the wrong one goes to the one
            # whose text grounds it.
            made, why, where = None, "", i
            for j in [i, *(j for j in range(len(readings)) if j != i)]:
                made, why1 = compose(self.user, slot.what, slot.relation, slot.who, evidence[j],
                                     app=_used_app(readings[j].obs), window=readings[j].obs.window,
                                     read_only=_only_read(readings[j]))
                why = why or why1
                if made is not None:
                    where = j
                    break
            if made is None:
                log.info("slot refused (%s): %r %s", why, slot.what, slot.relation)
                if summary is not None:
                    summary.slots_refused += 1
                continue
            source = readings[where].obs.app or readings[where].obs.observer
            out[where].append(Proposal(text=made.text, reasoning=f'{made.kind}, from {source}: "{made.line}"',
                                       decay=made.decay, kind=made.kind, relation=made.relation, span=made.span,
                                       seen_only=slot.who != "user"))
        return out

    def judge(self, existing: str, new: str, usage: Usage) -> str:
        system = prompts.render("judge", user=self.user)
        user = prompts.fence("existing", existing) + "\n" + prompts.fence("new", new)
        return self._ask(system, user, JUDGE_SCHEMA, Judgement, usage, max_tokens=16).relation

    # -- verification: is the claim in the evidence, and does it show the user doing it? ------------

    def grounding(self, claim: str, evidence_text: str) -> float:
        """Share of the claim's content words found in the evidence (invented roles and places score low)."""
        wanted = terms(claim, self._sim_ignore) - GENERIC_TERMS
        if not wanted:
            return 0.0
        return len(wanted & terms(evidence_text)) / len(wanted)

    def verify(self, p: Proposal, obs: Observation, text: str, usage: Usage) -> tuple[bool, float | None, str]:
        """(keep, cap on this observation's weight for the claim, why) for a new or changed claim.

        First a free check that the claim's words are in the observation at all; then, if enabled, a small
        model call that must quote the observation (a copy task small models can do; the quote is checked
        here, not trusted) and say whether it shows the user acting or only something displayed.
        """
        evidence_text = f"{obs.app}\n{obs.window}\n{text}"
        g = self.grounding(p.text, evidence_text)
        if g < MIN_GROUNDING:
            return False, None, f"not in the evidence (grounding {g:.2f})"
        if not self.model_verify:
            return True, None, ""
        system = prompts.render("verify", user=self.user)
        user = prompts.fence("observation", text[:MAX_OBSERVATION_CHARS], app=obs.app, window=obs.window) + "\n" + \
            prompts.fence("claim", p.text)
        try:
            verdict = self._ask(system, user, VERIFY_SCHEMA, Verdict, usage, max_tokens=80)
        except ModelOutputError:
            return True, None, "verification unreadable"
        quote = " ".join(verdict.quote.split()).lower()
        if quote and quote not in " ".join(evidence_text.split()).lower():
            return True, SEEN_CAP, "quote not found in the observation"
        if verdict.who == "none":
            return False, None, "the model found nothing in the observation that shows it"
        if verdict.who in ("other", "displayed"):
            return True, SEEN_CAP, f"shows {verdict.who}, not the user acting"
        return True, None, "shows the user acting"

    # -- deciding what a proposal does -------------------------------------------------------------

    def sim(self, a: str, b: str) -> float:
        return similarity(a, b, self._sim_ignore)

    def decide(self, proposal: Proposal, usage: Usage, earlier: list[Action] = ()) -> Action:
        """Identical, similar or unrelated to what gum holds; refused if close to something revoked."""
        for prop, _ in self.store.search(proposal.text, statuses=BLOCKED, limit=10):
            if self.sim(prop.text, proposal.text) >= BLOCKED_NEAR:
                return Action("refuse", proposal, prop.id, f"close to {prop.status} #{prop.id}")
        for act in earlier:  # two proposals from one observation saying the same thing
            if self.sim(act.proposal.text, proposal.text) >= IDENTICAL:
                return Action("refuse", proposal, None, "repeats another proposal from this observation")
        candidates = self.store.search(proposal.text, limit=5)
        best, best_sim = None, 0.0
        for prop, _ in candidates:
            s = self.sim(prop.text, proposal.text)
            if s > best_sim:
                best, best_sim = prop, s
        if best is None or best_sim < UNRELATED:
            return Action("create", proposal)
        if best_sim >= IDENTICAL:
            relation = "identical"
        elif self.use_judge:
            try:
                relation = self.judge(best.text, proposal.text, usage)
            except ModelOutputError:
                relation = "similar" if best_sim >= SIMILAR_WITHOUT_JUDGE else "unrelated"
        else:
            relation = "similar" if best_sim >= SIMILAR_WITHOUT_JUDGE else "unrelated"
        if relation == "similar" and _other_kind(best, proposal):
            # Words in common, things of different kinds: "is reading about 7th Grade Science" (a page) is no
            # new version of "has Parent-teacher conferences (7th grade science) on Thu 12 Mar" (an event),
            # and replacing it lost the event in the eval.
            relation = "unrelated"
        if relation == "unrelated":
            return Action("create", proposal)
        if relation == "identical" or best.edited or best.feedback == "confirmed":
            # The user's own words are not overwritten by the engine: new evidence attaches instead.
            return Action("attach", proposal, best.id, relation)
        if terms(proposal.text, self._sim_ignore) <= terms(best.text, self._sim_ignore):
            # Saying less is no refinement: "has tried using neem oil" after "has tried using neem oil to get
            # rid of aphids on their pepper plants" is evidence for it, not a new version that drops the aphids.
            return Action("attach", proposal, best.id, relation)
        old_names, new_names = _named(best.text, self._sim_ignore), _named(proposal.text, self._sim_ignore)
        if old_names - new_names and not new_names - old_names:
            # A version that leaves out a named thing of the old one and names nothing in its place (the Leica
            # IIIa and the Nikon F of "has a few more cameras to add ...") says something else: both are kept.
            # One that names another ("finished their 5th project" after "completed 4 projects") updates it.
            return Action("create", proposal)
        return Action("revise", proposal, best.id, relation)

    # -- writing -----------------------------------------------------------------------------------

    def _apply(self, obs: Observation, actions: list[Action], summary: Summary, meta: dict | None = None) -> None:
        with self.store.transaction():
            # Taking the observation off the queue is the claim: when another process (a second ingest, the
            # agent) already stored its results, these are dropped, so nothing is processed twice.
            if not self.store.dequeue([obs.id]):
                return
            if meta:
                self.store.update_meta(obs.id, meta)
                obs.meta.update(meta)
            for act in actions:
                p = act.proposal
                if act.kind == "refuse":
                    summary.refused += 1
                    continue
                if act.kind == "create":
                    pid = self.store.insert_proposition(
                        Proposition(text=p.text, reasoning=p.reasoning, model_confidence=p.confidence,
                                    decay=p.decay, updated_at=obs.ts_end or obs.ts),
                        [obs.id], {obs.id: act.cap} if act.cap is not None else None,
                    )
                    summary.created += 1
                elif act.kind == "attach":
                    pid = act.target
                    self.store.add_evidence(pid, [obs.id], {obs.id: act.cap} if act.cap is not None else None)
                    old = self.store.get(pid)
                    if (obs.ts_end or obs.ts) > old.updated_at:
                        self.store.touch(pid, updated_at=obs.ts_end or obs.ts)
                    summary.attached += 1
                else:
                    old = self.store.get(act.target)
                    pid = self.store.revise(
                        old.id,
                        Proposition(
                            text=p.text,
                            reasoning=p.reasoning,
                            confidence=old.confidence,
                            model_confidence=max(p.confidence or 0, old.model_confidence or 0) or None,
                            # The longer-lasting reading wins: a refinement does not make a durable fact fleeting.
                            decay=max(p.decay, old.decay),
                            updated_at=max(obs.ts_end or obs.ts, old.updated_at),
                        ),
                        [obs.id], {obs.id: act.cap} if act.cap is not None else None,
                    )
                    summary.revised += 1
                self.refresh_confidence(pid, kind=p.kind)
            # Later segments that only repeated this one are evidence for whatever it yielded.
            for pid in self.store.attach_repeats(obs.id):
                self.refresh_confidence(pid)

    def refresh_confidence(self, proposition_id: int, kind: str = "") -> int:
        """Recompute a proposition's confidence from its evidence (unless the user set it); `kind` is the
        proposition's kind (gum/compose.py), kept in the confidence detail for later refreshes."""
        prop = self.store.get(proposition_id)
        if prop.confidence_detail.get("user_set"):
            return prop.confidence
        evidence = self.store.evidence(proposition_id)
        caps = self.store.evidence_caps(proposition_id)
        ev = Evidence(
            weights=[min(self.engagement_of(o).weight, caps.get(o.id, 10.0)) for o in evidence],
            apps=len({o.app for o in evidence if o.app}),
            days=len({o.ts.date() for o in evidence}),
            model_confidence=prop.model_confidence,
            kind=kind or prop.confidence_detail.get("kind", ""),
        )
        value, detail = confidence(ev)
        self.store.touch(proposition_id, confidence=value, confidence_detail=detail)
        return value

    def engagement_of(self, obs: Observation, *, fresh: bool = False) -> Engagement:
        """The observation's engagement: as recorded when it was processed, or computed now."""
        saved = obs.meta.get("engagement_eval")
        if saved and not fresh:
            return Engagement.from_dict(saved)
        neighbours = self.store.observations(since=obs.ts - INPUT_WINDOW, until=obs.ts + 4 * INPUT_WINDOW, limit=200)
        return engagement(obs, neighbours)

    def consolidate(self, since=None) -> int:
        """Look again at recent evidence: what the user did later (moved a message to junk, deleted it) can
        lower what an earlier observation supports. Returns how many propositions changed confidence."""
        changed = 0
        since = since or (max((o.ts for o in self.store.observations(limit=1)), default=None))
        if since is None:
            return 0
        window_start = since - INPUT_WINDOW * 48
        for obs in self.store.observations(since=window_start, limit=2000):
            if is_input(obs) or "engagement_eval" not in obs.meta:
                continue
            e = self.engagement_of(obs, fresh=True)
            if e.as_dict() != obs.meta["engagement_eval"]:
                self.store.update_meta(obs.id, {"engagement_eval": e.as_dict()})
                for pid in self.store.propositions_citing(obs.id):
                    before = self.store.get(pid).confidence
                    if self.refresh_confidence(pid) != before:
                        changed += 1
        return changed

    # -- the loop ----------------------------------------------------------------------------------

    def read(self, obs: Observation) -> Reading:
        """What of `obs` the model may read: the user's own turns of a chat, the screen text without injected
        instructions, advertisements and others' voices; nothing at all when it weighs too little."""
        eng = self.engagement_of(obs, fresh=True)
        # In a chat the user takes part in, only the user's own turns can say something about the user. The
        # chat is read first: an "Assistant:" turn would otherwise be taken for text addressing an AI, and
        # with the other side gone the chat would no longer look like one.
        own = user_turns(obs.text, self.user)
        chat = own is not None
        clean, injected = split_injection(own if chat else obs.text)
        meta = {"engagement_eval": eng.as_dict()}
        if injected:
            # Text that addresses an AI is flagged and never reaches the model: it cannot become a claim.
            meta["injection"] = len(injected)  # a count: the lines themselves are not kept
        clean, ads = strip_ads(clean)
        if ads:
            meta["ads_removed"] = ads
        text = clean if chat else user_voice(clean)
        if eng.weight < NO_CLAIM_WEIGHT or start_page(obs.window):
            # A notification, junk mail, a lock screen, something the user disowned: nothing to claim from it
            # on its own, so no model call either. It can still corroborate what the user does elsewhere. So
            # is a browser's new-tab page: its tiles are the browser's suggestions.
            text = ""
        return Reading(obs, eng, text, chat, meta)

    def conclude(self, reading: Reading, proposals: list[Proposal], summary: Summary) -> None:
        """Decide on each proposal (create, revise, attach, refuse), verify new claims, store them with the
        observation's removal from the queue."""
        obs, text = reading.obs, reading.text
        usage = summary.usage
        actions: list[Action] = []
        typed = self.document_typed_in(reading)
        said = self.said_by_the_user(reading)
        event = self.event_in_calendar(reading)
        mail = self.mail_written(reading)
        # A thing the model found in a sentence the user said of themselves, an event of theirs or a mail they
        # wrote is in that statement, said better.
        own = [*said, *([event] if event else []), *mail]
        # So is one in the document the user typed in ("Training plan" in "is working on Training plan (Half
        # Marathon) in Strava"), but for the app they typed it in, the tool they use.
        proposals = [p for p in proposals if not (p.span and (
            any(span_line(as_said(p.span), s.text) for s in own)
            or typed is not None and p.kind != "app" and span_line(p.span, typed.text)))]
        if reading.chat:
            # In a chat, only what the user says as a fact: not what they ask, have heard of or will try.
            proposals = [p for p in proposals if not p.span or said_as_fact(p.span, text)]
        for p in [*proposals, *([typed] if typed else []), *own]:
            act = self.decide(p, usage, actions)
            if act.kind in ("create", "revise", "attach"):
                # Only new or changed claims pay for the model check; evidence for a known claim gets the
                # free one.
                keep, cap, why = self.verify(p, obs, text, usage) if act.kind != "attach" else (
                    self.grounding(p.text, f"{obs.app}\n{obs.window}\n{text}") >= MIN_GROUNDING, None, "")
                if not keep:
                    act = Action("refuse", p, act.target, why or "not in the evidence")
                    summary.unverified += 1
                if p.seen_only:
                    # Someone else's doing, as the model reads it: evidence that the user saw it, no more.
                    cap = min(cap if cap is not None else SEEN_CAP, SEEN_CAP)
                act.cap = cap
            actions.append(act)
        self._apply(obs, actions, summary, reading.meta)
        summary.observations += 1
        if reading.meta.get("injection"):
            summary.injections += 1

    def document_typed_in(self, reading: Reading) -> Proposal | None:
        """"<user> is working on <document> in <tool>" when the user typed in a window whose title names a
        document (gum/compose.py compose_document): written here, not by the model, which seldom says it."""
        obs, eng = reading.obs, reading.eng
        if not _typed_on_screen(reading):
            return None
        made = compose_document(self.user, obs.window, obs.app, eng.keys)
        if made is None:
            return None
        return Proposal(text=made.text, reasoning=f'document, {eng.keys} keys typed in "{made.line}"',
                        decay=made.decay, kind=made.kind, relation=made.relation, span=made.span)

    def mail_written(self, reading: Reading) -> list[Proposal]:
        """"<user> corresponds with <person> about <subject>" when the user typed in a mail's window
        (gum/compose.py compose_correspondence), and what the mail's signature says the user works as."""
        obs, eng = reading.obs, reading.eng
        if not _typed_on_screen(reading):
            return []
        made = compose_correspondence(self.user, reading.text, obs.window, obs.app, eng.keys, measured=eng.known)
        if made is None or problems(made.text, self.user):
            return []
        out = [Proposal(text=made.text, reasoning=f'contact, {eng.keys} keys typed in "{made.line}"',
                        decay=made.decay, kind=made.kind, relation=made.relation, span=made.span)]
        signed = compose_signature(self.user, reading.text)
        if signed is not None and not problems(signed.text, self.user):
            out.append(Proposal(text=signed.text, reasoning=f'signature of a mail the user wrote: "{signed.line}"',
                                decay=signed.decay, kind=signed.kind, relation=signed.relation, span=signed.span))
        return out

    def event_in_calendar(self, reading: Reading) -> Proposal | None:
        """"<user> has <event> on <day>" (or by its rule) for an event of the user's own calendar
        (gum/compose.py compose_event); a cancelled one is nothing the user will do."""
        obs = reading.obs
        if obs.observer != "calendar" or ((obs.meta or {}).get("calendar") or {}).get("change") == "cancelled":
            return None
        made = compose_event(self.user, obs.text)
        if made is None or problems(made.text, self.user):
            return None
        return Proposal(text=made.text, reasoning=f'event, from the calendar "{obs.window}": "{made.line}"',
                        decay=made.decay, kind=made.kind, relation=made.relation, span=made.span)

    def said_by_the_user(self, reading: Reading) -> list[Proposal]:
        """What the user says about themselves in their own chat turns, in the third person
        (gum/disclosure.py), each kept only if it reads as a well-formed statement about them."""
        if not reading.chat or not reading.text.strip() or reading.eng.weight < NO_CLAIM_WEIGHT:
            return []
        return [Proposal(text=t, reasoning=f'said, from {reading.obs.app or reading.obs.observer}: the user\'s own words',
                         decay=SAID_DECAY, kind="said", relation="says")
                for t in statements(reading.text, self.user) if not problems(t, self.user)]

    def process_observation(self, obs: Observation, summary: Summary) -> None:
        """Read and conclude `obs` on its own."""
        if _no_claim_source(obs):
            # Input activity is engagement evidence for the observations around it, not a claim source.
            with self.store.transaction():
                self.store.dequeue([obs.id])
            summary.observations += 1
            return
        self.process_pack([self.read(obs)], summary)

    def process_pack(self, readings: list[Reading], summary: Summary) -> None:
        """One call for readings that fit together (see `packs`), each concluded on its own; a reading alone
        is read in pieces when it is long."""
        if len(readings) > 1:
            for r, proposals in zip(readings, self.propose_pack(readings, summary.usage, summary), strict=True):
                self.conclude(r, proposals, summary)
            return
        r = readings[0]
        # A long observation (a chat, a long page) is read in pieces: one small call each, as small models
        # need, instead of cutting off what comes after the first piece.
        proposals = []
        for piece in chunks(r.text, MAX_OBSERVATION_CHARS, MAX_CHUNKS) if r.text.strip() else []:
            proposals += self.propose_pack([replace(r, text=piece)], summary.usage, summary)[0]
        self.conclude(r, proposals, summary)

    def _failed(self, obs: Observation, exc: Exception, summary: Summary, skipped: set[int]) -> None:
        if not isinstance(exc, ModelError):
            log.exception("unexpected error on observation #%s", obs.id)
        set_aside = self.store.record_failure(obs.id, str(exc), self.max_attempts)
        skipped.add(obs.id)
        summary.failed += 1
        summary.errors.append(f"observation #{obs.id}: {exc}")
        message = f"observation #{obs.id}: {exc}" + (" (set aside)" if set_aside else " (will retry)")
        self.store.log_event("batch", message)
        log.warning(message)

    def run(
        self,
        *,
        limit: int | None = None,
        progress: Callable[[int, int, Observation, Summary], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Summary:
        """Work through the queue (at most `limit` observations); errors set an observation aside, never crash."""
        summary = Summary()
        start = time.perf_counter()
        total = self.store.queue_counts()["pending"]
        if limit is not None:
            total = min(total, limit)
        done = 0
        skipped: set[int] = set()
        while limit is None or done < limit:
            if should_stop and should_stop():
                break
            batch = [o for o in self.store.pending(self.batch_size + len(skipped), self.max_attempts)
                     if o.id not in skipped][: self.batch_size]
            if not batch:
                break
            if limit is not None:
                batch = batch[: limit - done]
            # Input activity and empty observations are done without a call; the rest is read as it is
            # reached (at most one ahead, to see whether it still fits in a pack).
            for obs in [o for o in batch if _no_claim_source(o)]:
                self.process_observation(obs, summary)
                done += 1
                if progress:
                    progress(done, total, obs, summary)
            readings = (self.read(o) for o in batch if not _no_claim_source(o))
            for pack in packs(readings, most=self.pack_most):
                if should_stop and should_stop():
                    break
                try:
                    self.process_pack(pack, summary)
                except Exception as exc:  # noqa: BLE001 - a model error, malformed output, a locked database: logged in _failed
                    if len(pack) == 1:
                        self._failed(pack[0].obs, exc, summary, skipped)
                    else:
                        # One bad answer for a pack: each of its observations gets its own call instead.
                        log.info("pack of %d failed (%s): reading each alone", len(pack), exc)
                        for r in pack:
                            if self.store.is_queued(r.obs.id):
                                try:
                                    self.process_pack([r], summary)
                                except Exception as exc1:  # noqa: BLE001 - logged in _failed
                                    self._failed(r.obs, exc1, summary, skipped)
                for r in pack:
                    done += 1
                    if progress:
                        progress(done, total, r.obs, summary)
            else:
                continue
            break
        summary.seconds = time.perf_counter() - start
        return summary

