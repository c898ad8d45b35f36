"""Reading a chat as a chat: who said which turn, and which turns are the user's own.

In a chat transcript (an assistant conversation, a messenger, a channel) the user's own turns are the user
speaking: "I've got three bikes" says something about the user. The other side's turns, an assistant's
answers included, are what the user read: a friend's holiday is not the user's. The engine reads claims
from the user's turns only, whenever the user has turns in the chat at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# "Name: text" at the start of a line, the name one or two capitalised words or a role word.
_TURN = re.compile(r"^\s*\[?(?P<who>(?i:user|me|you|i|assistant|ai|bot|chatgpt|claude|gemini|system)|"
                   r"[A-Z][\w.'-]{0,20}(?: [A-Z][\w.'-]{0,20})?)\]?\s*:\s*(?P<text>.*)$")
_USER_ROLES = {"user", "me", "you", "i"}
# Headers and labels look like speakers but are not ("Subject: ...", "Total: ...").
_NOT_SPEAKERS = {
    "subject", "to", "from", "cc", "bcc", "date", "re", "fwd", "fw", "sent", "note", "notes", "todo", "total",
    "time", "when", "where", "location", "status", "title", "name", "email", "phone", "address", "due", "price",
    "amount", "url", "tags", "category", "priority", "owner", "assignee", "reply", "attachments", "summary",
    "description", "comments", "warning", "error", "info", "tip", "step", "q", "a", "http", "https",
}


@dataclass
class Turn:
    """One turn of a chat: who spoke, what they said, and whether the speaker is the user."""

    speaker: str
    text: str
    by_user: bool


def turns(text: str, user: str) -> list[Turn] | None:
    """The turns of `text` if it reads as a chat with at least two speakers; None otherwise.

    Lines without a speaker continue the turn before them (an answer of several paragraphs).
    """
    first = user.strip().split()[0].lower() if user.strip() else ""
    full = user.strip().lower()
    found: list[Turn] = []
    for line in text.splitlines():
        m = _TURN.match(line)
        who = m.group("who").strip() if m else ""
        if m and who.lower() not in _NOT_SPEAKERS and not re.match(r"^\d", m.group("text") or " "):
            low = who.lower()
            by_user = low in _USER_ROLES or low == first or low == full
            found.append(Turn(who, m.group("text").strip(), by_user))
        elif found and line.strip():
            found[-1].text += "\n" + line.strip()
    speakers = {t.speaker.lower() for t in found}
    if len(found) < 2 or len(speakers) < 2:
        return None
    return found


def user_turns(text: str, user: str) -> str | None:
    """What the user wrote in the chat `text`, one turn a line; None if `text` is not a chat with the user in it."""
    chat = turns(text, user)
    if chat is None or not any(t.by_user for t in chat):
        return None
    return "\n".join(t.text for t in chat if t.by_user and t.text)
