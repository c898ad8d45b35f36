"""Is a proposition a well-formed statement about the user? A deterministic check with named classes of junk.

A careful reader of what small models write finds the same few kinds of junk again and again (issue 12):

    user_as_thing   the user's name made the subject of a description of an app, a site or a device
                    ("Elena is a software application that allows users to ...", "Maria is a calendar app")
    fragment        a name, a title, a copied screen line or OCR debris instead of a sentence
                    ("Sofia Lindqvist", "Dana Whitfield, RN", "Marcus Lee Resume Stripe _v3 - Google Docs")
    copied_speech   a chat turn or an assistant's answer pasted after the name: first or second person,
                    questions, "[...]" ("The user likes the idea ... Can you give me some tips?")
    screen_talk     talk about the screen or the observation, or an action the screen does not show the user
                    doing ("Tom sends a notification about ...", "Sam is on the screen between ...")
    over_length     more than one sentence or more than MAX_WORDS words: commentary, not a claim
    truncated       cut off mid-sentence

`problems()` returns every class a text falls in (empty: well-formed). It is used by `gum eval` to count
junk, and it is deliberately independent of how the engine writes propositions, so that it measures any
engine the same way. It judges form only: a well-formed sentence can still be false.
"""

from __future__ import annotations

import re

CLASSES = ("user_as_thing", "fragment", "copied_speech", "screen_talk", "over_length", "truncated")
MAX_WORDS = 25
MAX_CHARS = 180

_THING = (r"(?:software|computer|web|mobile|online|desktop|messaging|calendar|chat|music|video|email|e-mail|"
          r"sales|payment|volunteer|sign-up|project|note-taking|text|code|photo|)?\s*(?:app|application|"
          r"website|web ?site|platform|tool|service|program|software|computer|device|browser|page|"
          r"company|system|interface|window|screen|file|document|folder|dashboard|calendar|spreadsheet|"
          r"extension|plugin|bot|chatbot|assistant|feature|team|group|channel|member of)")
_USER_AS_THING = [
    re.compile(rf"^\W*{{user}}\s+(?:is|was|are)\s+(?:a|an|the)\s+(?:[\w-]+\s+){{0,3}}?{_THING}\b", re.IGNORECASE),
    re.compile(r"\bthat (?:allows|lets|enables|helps) (?:users|people|you|customers)\b", re.IGNORECASE),
    re.compile(r"^\W*{user}\s+(?:is|was)\s+(?:open|closed|available|on (?:the )?screen|displayed|shown)\b", re.IGNORECASE),
    re.compile(r"^\W*{user}\s+(?:is|was)\s+(?:a|an)\s+[\w\s-]{0,40}\b(?:that|which) (?:offers|provides|displays|"
               r"shows|contains|has|allows|lets)\b", re.IGNORECASE),
]
# Verbs and auxiliaries a sentence about the user starts with; anything else right after the name is not
# a sentence (a surname, a title, a copied line).
_AUX = (r"is|are|was|were|has|have|had|does|did|do|can|could|will|would|should|may|might|must|also|often|"
        r"usually|recently|just|still|now|regularly|never|always|plans|wants|needs|likes|loves|enjoys|prefers|"
        r"owns|uses|used|works|worked|lives|lived|bought|went|got|made|wrote|took|ran|built|sent|began|became|met|"
        r"left|saw|kept|gave|found|told|read|paid|sold|won|lost|spent|drove|flew|taught|led|goes")
_VERBISH = re.compile(rf"^(?i:{_AUX})$|^[a-z][a-z-]*(?:s|ed)$")
# A title bar or a copied line: "X - Google Docs", "Inbox | Gmail", "likes this post: We are hiring", bullets.
_TITLE = re.compile(r"\s[-–—|•*]\s|:\s+(?!\d)\S|\s[-–—|]\s(?:Google (?:Docs|Sheets|Slides)|Chrome|Chromium|Firefox|Mozilla|Safari|Edge|"
                    r"Gmail|Outlook|Slack|Visual Studio Code|Overleaf|Notion|Figma|Zoom|Teams)\b|\s\|\s|\.(?:pdf|"
                    r"docx?|xlsx?|pptx?|png|jpe?g|wav|mp3)\b.*\s[-–—]\s", re.IGNORECASE)
_OCR_DEBRIS = re.compile(r"\b[A-Z]{2}[a-z]+[A-Z][a-z]+\b|[^\w\s.,;:'\"!?()&$%/+#@-]{2,}|\b\w*\d\w*[a-z]\d\w*\b")
_SPEECH = [
    re.compile(r"\b(?:I|I'm|I've|I'd|I'll|me|my|mine|myself|we|we're|we've|our|us)\b"),
    re.compile(r"\b(?:you|your|you're|you've|yours)\b", re.IGNORECASE),
    re.compile(r"\?"),
    re.compile(r"\[\.\.\.\]|\.\.\.|…"),
    re.compile(r"\b(?:thanks|thank you|let me know|by the way|speaking of which|can you|could you|"
               r"here are|here's|of course|sounds (?:good|great|cool))\b", re.IGNORECASE),
    re.compile(r"\*\*|^\s*\d+\.\s|\s\d+\.\s\*\*"),
]
_SCREEN_TALK = [
    re.compile(r"\b(?:sends?|sent|sending) (?:a |an |the )?(?:notification|text message|welcome message|"
               r"live stream|report|list|collection|message to (?:him|her|them)self|\w+ - \w+)", re.IGNORECASE),
    re.compile(r"\bon (?:the|their|his|her) screen\b|\bthe screen\b|\bthe observation\b|</?observation>|"
               r"\bscreen shows\b|\bis (?:watching|looking at|viewing) (?:the |a )?(?:screen|window|page|tab|app)\b",
               re.IGNORECASE),
    re.compile(r"\b(?:this|which) (?:suggests|indicates|means|shows) that\b|\bit is (?:important|worth) to note\b",
               re.IGNORECASE),
    re.compile(r"\badded \w+ as a project\b|\bis (?:a )?member of {user}'s\b", re.IGNORECASE),
]
_TRUNCATED_END = re.compile(r"(?:\b(?:a|an|the|and|or|but|of|to|for|with|in|on|at|by|from|about|is|are|was|"
                            r"his|her|their|its|that|which|who|as|than|into)|[,:;(\-–—/&]|\[\.\.\.\])\s*$", re.IGNORECASE)


def _name_pattern(user: str) -> str:
    """The user's name as a pattern: the full name, the first name alone, or 'the user'."""
    names = {user.strip(), user.strip().split()[0] if user.strip() else ""} - {""}
    alts = sorted((re.escape(n) for n in names), key=len, reverse=True) + ["the user", "user"]
    return "(?:" + "|".join(alts) + ")"


def problems(text: str, user: str) -> list[str]:
    """The junk classes `text` falls in, as a statement about `user` (empty when it is well-formed)."""
    found: list[str] = []
    name = _name_pattern(user)
    t = " ".join(text.split())

    def pat(p: re.Pattern) -> re.Pattern:
        return re.compile(p.pattern.replace("{user}", name), p.flags) if "{user}" in p.pattern else p

    if any(pat(p).search(t) for p in _USER_AS_THING):
        found.append("user_as_thing")
    rest = re.sub(rf"^\W*{name}(?:'s)?\s*", "", t, count=1, flags=re.IGNORECASE)
    words = rest.split()
    first = re.sub(r"\W+$", "", words[0]) if words else ""
    if (len(words) < 2 or not _VERBISH.match(first) or _TITLE.search(t) or _OCR_DEBRIS.search(t)
            or re.match(rf"^\W*{name}\s*[:,]", t, re.IGNORECASE)):
        found.append("fragment")
    if any(p.search(rest) for p in _SPEECH):
        found.append("copied_speech")
    if any(pat(p).search(t) for p in _SCREEN_TALK):
        found.append("screen_talk")
    plain = re.sub(r"\b(Dr|Mr|Mrs|Ms|St|Jr|Sr|Prof|vs|etc|e\.g|i\.e|[A-Z])\.", r"\1", t)
    sentences = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", plain) if s]
    if len(t.split()) > MAX_WORDS or len(t) > MAX_CHARS or len(sentences) > 1:
        found.append("over_length")
    if _TRUNCATED_END.search(t) or t.count("(") > t.count(")") or t.count('"') % 2:
        found.append("truncated")
    return found


def is_well_formed(text: str, user: str) -> bool:
    """No junk class applies."""
    return not problems(text, user)
