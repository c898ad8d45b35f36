"""A scripted model for tests of the engine's logic: answers are queued with enqueue(), calls are recorded."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable

from ..records import Usage


class ScriptedModel:
    """Answers each call with the next queued reply (a string, a JSON-able value, or a callable)."""

    name = "scripted"

    def __init__(self, replies: list | None = None, default: Callable | None = None):
        self.replies: deque = deque(replies or [])
        self.default = default
        self.history: list[dict] = []

    def enqueue(self, *replies) -> None:
        self.replies.extend(replies)

    def complete_json(self, system, user, schema, *, max_tokens=256, temperature=0.2):
        call = {"system": system, "user": user, "schema": schema}
        self.history.append(call)
        if self.replies:
            reply = self.replies.popleft()
        elif self.default is not None:
            reply = self.default
        else:
            raise AssertionError(f"ScriptedModel: no reply queued for call {len(self.history)}")
        if callable(reply):
            reply = reply(call)
        text = reply if isinstance(reply, str) else json.dumps(reply)
        return text, Usage(prompt_tokens=len(user) // 4, completion_tokens=len(text) // 4)
