"""What the user says about themselves in a chat, said of them: "I've got three bikes" -> "<user> has got
three bikes".

In a chat with an assistant the user's own turns are full of facts about them, told in passing while they
ask for something ("I just helped out at an Easter Egg Hunt event last week and I'm interested in ...").
The small model, given one relation and a short span per fact, turns almost none of them into a
proposition. These sentences need no model: a declarative sentence whose subject is the user ("I ...",
"My ...") is a statement about them, and turning it into the third person is grammar, done here.

Not a statement about the user: a question, a request or a thanks to the other side (anything in the second
person), what the user only thinks, hopes, might do or plans to try on the assistant's advice ("I think I'll
...", "I'll try those tips", "I might consider ..."), moods and reactions to the answer ("I love these
ideas", "I'm feeling accomplished"), what points back at the conversation ("that technique", "her"), and
sentences too short to say anything or too long to read as one fact.
"""

from __future__ import annotations

import re

MAX_STATEMENTS = 8  # from one chat observation: the first that pass (4 cut a long chat's last facts off)
MIN_WORDS, MAX_WORDS = 4, 22

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+|\s+-\s+|\s+—\s+")
# Discourse markers in front of the statement: dropped.
_LEAD = re.compile(r"^(?:(?:by the way|speaking of which|speaking of \w+|oh|and|also|so|well|anyway|actually|"
                   r"plus|btw|honestly|in fact)\s*,?\s*)+", re.IGNORECASE)
# Addressed to the other side, or about its answer.
_ADDRESSED = re.compile(
    r"\b(?:you|your|yours|you're|you've|you'd|please|thanks|thank|tips|ideas|suggestions|suggestion|"
    r"recommendations|recommendation|advice|help (?:me|us)|need help|any help|some help|for help|remind|wondering|"
    r"ask|question|questions)\b", re.IGNORECASE)
# What the user only thinks, hopes, feels or means to try: not (yet) a fact about them.
_NOT_A_FACT = re.compile(
    r"^i(?:'ll| will| think| guess| hope| feel| believe| suppose| wonder| was wondering| bet)\b|"
    r"^i(?:'m| am) (?:not sure|glad|sure|excited|happy|so|still not|feeling|getting a bit|a bit|worried|nervous|"
    r"stressed|very|pretty|really excited)\b|^i love (?:these|this|that|those|it)\b|"
    r"^i like (?:the|these|this|that|those|it)\b|^i(?:'ve| have) heard\b|^i remember\b|^i(?:'ve| have) got it\b|"
    r"^i agree\b|^i see\b|^i understand\b|^i know\b|^i mean\b|^i (?:might|may|could|should)\b|"
    r"^i (?:want|need) to make sure\b|^i(?:'m| am) having trouble\b",
    re.IGNORECASE)
# The user as the subject. ("My grandma's birthday ..." is about the grandma: left to the model.)
_FIRST = re.compile(r"^(?:i|i'm|i've|i'd)\b", re.IGNORECASE)
# Someone or something named before this sentence: "I've been thinking about her", "I tried it out".
_UNRESOLVED = re.compile(r"\b(?:she|he|her|him|his|hers|they|them|their|those|these|its|something|anything|"
                         r"everything|similar|some details)\b", re.IGNORECASE)
# "with that technique", "in that collection": a demonstrative pointing back at the conversation.
_POINTING_BACK = re.compile(r"\b(?:with|in|of|from|on|at|about|to|for|by) that\b", re.IGNORECASE)
_IT_EARLY = re.compile(r"^(?:\S+\s+){0,5}(?:it|that one|this one)\b", re.IGNORECASE)
# "I think I'll go with the Abus SmartX lock", "I've decided to ...": a decision is a plan, said of them as one.
_DECIDED = re.compile(r"^I(?: think I'll| think I will|'ve decided to| have decided to| decided to)\s+", re.IGNORECASE)
# "I'm glad I got to attend the Maundy Thursday service": what the user is glad of is what they did.
_GLAD = re.compile(r"^I(?:'m| am) (?:so |really |very )?(?:glad|happy|thrilled|proud) (?:that )?(?=I\b)", re.IGNORECASE)
_NEXT_I = re.compile(r",?\s+(?:and|but)\s+(?=I\b)")
# Where a sentence's first clause ends: the rest adds a thought, a reason or a second verb for the same "I".
_CLAUSE_END = re.compile(r",?\s+and\s+(?=I\b|I'|want|need|think|hope|would|am|was|have|feel|plan)|,\s+(?:and|but|so|"
                         r"which|who|especially|since|because|though|after all)\b|\s+(?:but|so that)\s+|"
                         r";\s+|,\s+(?=I\b)|,\s+(?=it (?:was|is|has been)\b)")

_MODALS = {"can", "could", "will", "would", "should", "may", "might", "must", "can't", "couldn't", "won't",
           "wouldn't", "shouldn't", "didn't", "wasn't", "haven't", "hadn't"}
_PAST = {"made", "got", "had", "went", "did", "took", "bought", "saw", "found", "came", "gave", "knew", "left", "met",
         "paid", "put", "ran", "said", "sent", "sold", "spent", "told", "thought", "felt", "heard", "kept", "lost",
         "won", "wrote", "read", "began", "became", "brought", "built", "caught", "chose", "drew", "drove", "ate",
         "fell", "flew", "forgot", "grew", "held", "hung", "led", "lent", "let", "meant", "rode", "rang", "rose", "sat",
         "set", "shot", "shut", "sang", "slept", "spoke", "stood", "stole", "swam", "taught", "threw", "understood",
         "woke", "wore", "hit", "cut", "quit", "was", "used"}
_EED = {"need", "feed", "proceed", "succeed", "exceed", "bleed", "breed", "heed", "speed", "seed", "weed"}
_ADVERBS = {"just", "also", "recently", "really", "still", "even", "already", "usually", "often", "always", "never",
            "sometimes", "finally", "currently", "definitely", "mostly", "only", "now", "once", "actually"}
_LATER = [  # the user again, later in the sentence: "they" takes the verb as it is
    (r"\bI'm\b", "they're"), (r"\bI am\b", "they are"), (r"\bI was\b", "they were"), (r"\bI've\b", "they've"),
    (r"\bI'd\b", "they'd"), (r"\bI'll\b", "they'll"), (r"\bI\b", "they"), (r"\bmyself\b", "themselves"),
    (r"\bmine\b", "theirs"), (r"\bmy\b", "their"), (r"\bme\b", "them"),
]


def _third_person(verb: str) -> str:
    low = verb.lower()
    if low in _MODALS or low in _PAST or (low.endswith("ed") and low not in _EED):
        return verb
    special = {"have": "has", "do": "does", "go": "goes", "am": "is", "don't": "doesn't", "haven't": "hasn't"}
    if low in special:
        return special[low]
    if re.search(r"(?:s|sh|ch|x|z|o)$", low):
        return verb + "es"
    if re.search(r"[^aeiou]y$", low):
        return verb[:-1] + "ies"
    return verb + "s"


def said_of(sentence: str, user: str) -> str | None:
    """`sentence`, a statement of the user's own in the first person, in the third person about `user`; None
    if it does not start with the user as its subject."""
    subject = user[:1].upper() + user[1:]
    s = sentence.strip()
    m = re.match(r"^(I'm|I am|I've|I have|I'd|I was|I)\b\s*(.*)$", s)
    if not m:
        return None
    head, rest = m.group(1), m.group(2)
    if head in ("I'm", "I am"):
        start = f"{subject} is"
    elif head in ("I've", "I have"):
        start = f"{subject} has"
        rest = re.sub(r"^got\s+", "", rest)  # "I've got three bikes": has
    elif head == "I'd":
        start = f"{subject} would"
    elif head == "I was":
        start = f"{subject} was"
    else:  # "I" + adverbs + a verb
        words = rest.split()
        i = 0
        while i < len(words) and words[i].lower() in _ADVERBS:
            i += 1
        if i >= len(words):
            return None
        words[i] = _third_person(words[i])
        start, rest = subject, " ".join(words)
    for pattern, repl in _LATER:
        rest = re.sub(pattern, repl, rest)
    text = f"{start} {rest}".strip()
    text = re.sub(r"\s*[!.]+$", "", text)
    return text


def statements(user_text: str, user: str, most: int = MAX_STATEMENTS) -> list[str]:
    """The statements about the user in their own chat turns (`user_text`, gum.chat.user_turns), in the third
    person, at most `most`."""
    out: list[str] = []
    # "I'm doing kickboxing, and I've got three bikes now": two statements.
    clauses = [c for raw in _SENTENCE.split(user_text or "") for c in _NEXT_I.split(raw)]
    for raw in clauses:
        s = _LEAD.sub("", " ".join(raw.split())).strip()
        s = s[:1].upper() + s[1:] if s else s
        s = _GLAD.sub("", s)
        if rest := _decided_on_something_named(s):
            s = "I plan to " + rest
        if not s or s.endswith("?") or "?" in s or not _FIRST.match(s) or _NOT_A_FACT.match(s) or _ADDRESSED.search(s):
            continue
        s = re.sub(r"\bactually\s+", "", s)
        # The first clause, when it says something alone: "I'm planning a long ride this weekend and want to
        # make sure ..." -> "I'm planning a long ride this weekend".
        for end in _CLAUSE_END.finditer(s):
            first = s[:end.start()].strip(" ,")
            if len(first.split()) >= MIN_WORDS:
                s = first
                break
        n = len(s.split())
        if not MIN_WORDS <= n <= MAX_WORDS or _UNRESOLVED.search(s) or _IT_EARLY.search(s) or _POINTING_BACK.search(s):
            continue
        made = said_of(s, user)
        if made and made not in out:
            out.append(made)
        if len(out) >= most:
            break
    return out


def _decided_on_something_named(sentence: str) -> str:
    """What the user decided to do, when they decided it of something named ("I think I'll go with the Abus
    SmartX lock" -> "go with the Abus SmartX lock"); "" otherwise ("I think I'll make the purchase" points back
    at the conversation)."""
    m = _DECIDED.match(sentence)
    rest = sentence[m.end():] if m else ""
    return rest if re.search(r"\b[A-Z][a-z]", rest) else ""


def hedged(sentence: str) -> bool:
    """Whether a sentence of the user's says nothing as a fact: a question, something addressed to the other
    side, or what they only think, have heard, might do or will try ("I'll consider NGC as well")."""
    s = _LEAD.sub("", " ".join(sentence.split())).strip()
    s = s[:1].upper() + s[1:]
    if _decided_on_something_named(s):
        return False  # a plan (see statements)
    return "?" in s or bool(_NOT_A_FACT.match(s)) or bool(_ADDRESSED.search(s))


def said_as_fact(span: str, user_text: str) -> bool:
    """Whether `span` is in a sentence of the user's own turns (`user_text`) that is not hedged: a thing the
    user only asked about, heard of or will try ("I've heard that PCGS is more popular") is nothing they use."""
    low = span.lower()
    return any(low in c.lower() and not hedged(c) for raw in _SENTENCE.split(user_text or "")
               for c in _NEXT_I.split(raw))
