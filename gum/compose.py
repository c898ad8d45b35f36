"""From the model's slots to a sentence: the model extracts, this module writes.

Small models extract well and write badly (issue 12): asked for a sentence about the user, the 0.5B model
made the user's name the subject of a description of the screen, pasted chat turns after the name, or wrote
a title. So the model only fills slots: `what` (a short span copied from the observation), `relation` (one
of a fixed set) and `who` (the user, or someone else). The sentence is composed here from a template per
relation, and a slot is refused, with the reason, unless its span really is in the evidence and is a thing
rather than a name, a line of speech or a title.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .segments import start_page, strip_title
from .similarity import terms


@dataclass(frozen=True)
class Relation:
    """One relation the model may choose: the kind of thing it links the user to, the sentence, the decay."""

    kind: str
    template: str  # "{user}" and "{what}" are filled in
    decay: int  # 1 (minutes) .. 10 (years), as the store's decay field
    article: bool = False  # "works as a nurse": put "a"/"an" before a bare noun
    # Words one of which the evidence must contain for this relation (the 0.5B model picks "applied to" for a
    # bank statement); empty: any evidence will do.
    cues: tuple[str, ...] = ()


_APPLY = ("apply", "applied", "applying", "application", "interview", "candidate", "position", "job", "role",
          "hiring", "resume", "cv", "cover letter", "admission", "enrol", "enroll")
_BOOK = ("book", "booked", "booking", "reservation", "reserved", "confirmed", "confirmation", "ticket", "tickets",
         "itinerary", "check-in", "rsvp", "appointment", "registered")
# "is learning Gumdeskovi" (a terminal's user@host, read by OCR): learning shows on screen as a course, a lesson,
# a tutorial or practice.
_LEARN = ("learn", "learning", "course", "courses", "lesson", "lessons", "tutorial", "tutorials", "class", "classes",
          "practice", "practise", "study", "studying", "beginner", "beginners", "exercise", "exercises", "module",
          "quiz", "flashcards", "vocabulary", "grammar", "lecture", "training", "how to", "guide", "introduction",
          "intro", "basics", "101", "duolingo", "workshop", "certification", "bootcamp")
_BUY = ("bought", "buy", "order", "ordered", "purchase", "purchased", "cart", "receipt", "paid", "checkout",
        "invoice", "got")


RELATIONS: dict[str, Relation] = {
    "uses": Relation("tool", "{user} uses {what}", 6),
    "works on": Relation("project", "{user} is working on {what}", 5),
    "writes": Relation("task", "{user} writes {what}", 5),
    "plans": Relation("plan", "{user} is planning {what}", 4),
    "interested in": Relation("interest", "{user} is interested in {what}", 7),
    "is learning": Relation("interest", "{user} is learning {what}", 6, cues=_LEARN),
    "likes": Relation("preference", "{user} likes {what}", 7),
    "does": Relation("interest", "{user} does {what}", 7),
    "owns": Relation("possession", "{user} owns {what}", 8),
    "bought": Relation("possession", "{user} bought {what}", 5, cues=_BUY),
    "booked": Relation("plan", "{user} booked {what}", 4, cues=_BOOK),
    "applied to": Relation("plan", "{user} applied to {what}", 5, cues=_APPLY),
    "works with": Relation("person", "{user} works with {what}", 6),
    "works as": Relation("role", "{user} works as {what}", 9, article=True),
    "works at": Relation("place", "{user} works at {what}", 8),
    "lives in": Relation("place", "{user} lives in {what}", 9),
    "goes to": Relation("place", "{user} goes to {what}", 6),
}
# Not the model's to choose: what "works on" becomes when the user only read the page (gum/engine.py passes
# `read_only`): "is working on Sliding window log" of a docs page read for a minute is "is reading about" it.
READS_ABOUT = Relation("interest", "{user} is reading about {what}", 3)
WHO = ("user", "someone else")
MAX_WORDS = 7
MAX_CHARS = 60

_DETERMINERS = {"a", "an", "the", "my", "his", "her", "their", "our", "your", "this", "that", "some"}
_PERSONAL = re.compile(r"\b(?:i|i'm|i've|i'd|i'll|me|we|we're|us|you|you're|your|yours)\b", re.IGNORECASE)
_MY = re.compile(r"\b(my|our)\b", re.IGNORECASE)
# Title bars and copied lines: "report.pdf - Google Docs", "Inbox | Gmail", "Chapter 4: ..."
_TITLE = re.compile(r"\s[-–—|·•]\s|\s[-–—|]$|^[-–—|]|[:;*<>{}\[\]=\\]|\.{2,}|…|https?://|www\.")
_FILE = re.compile(r"_|\.(?:pdf|docx?|xlsx?|pptx?|csv|jpe?g|png|gif|wav|mp3|mp4|zip|txt|parquet)$", re.IGNORECASE)
_SEPARATOR = re.compile(r"\s+[-–—|·•]\s+|\s*:\s+")
_WORD = re.compile(r"[a-z0-9$€£%+#]+(?:['.][a-z0-9]+)*")
# Words that name no particular thing: a span of only these says nothing ("the app", "this page").
_VAGUE = {"app", "application", "page", "screen", "window", "tab", "site", "website", "document", "file", "project",
          "thing", "things", "stuff", "it", "something", "work", "task", "message", "email", "post", "list", "item",
          "items", "information", "details", "data", "content", "text", "one", "new", "other", "more", "all",
          "re", "fwd", "fw", "subject", "inbox", "from", "to", "cc", "draft", "sent", "home", "settings", "search",
          "menu", "help", "view", "edit", "tools", "untitled", "dashboard", "overview",
          # a site's or an app's navigation: "is working on Feed", "their Library", "works at School"
          "feed", "jobs", "parts", "library", "schedule", "school", "explore", "profile", "account", "notifications",
          "messages", "browse", "discover", "recent", "favorites", "favourites",
          # a document's headings and a listing's counters: "is learning Summary", "total 16"
          "summary", "introduction", "conclusion", "contents", "results", "total", "step", "part",
          # a reference manager's or a media library's folders: "is working on Collection"
          "collection", "collections", "folder", "folders",
          # a chat's navigation: "is working on Channels"
          "channel", "channels", "threads", "dms", "activity", "mentions"}
# A clause, not a thing: "the Gothic Quarter in Barcelona is amazing".
_CLAUSE = re.compile(r"\b(?:is|are|was|were|am|has|have|had|will|would|can|could|should|must|does|did)\b", re.IGNORECASE)
# A time or a day: "5 pm", "10:30", "Thursday".
_TIME = re.compile(r"^(?:\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)?|(?:mon|tues|wednes|thurs|fri|satur|sun)day"
                   r"|today|tomorrow|yesterday|tonight|morning|afternoon|evening)$", re.IGNORECASE)
# A date written out, a calendar's month heading or a slot: "January 2026", "May 14", "Wednesday 7pm",
# "Thu 3:30 pm". Only words of these kinds: "May Day Parade" or "Q1 2026 taxes" are things.
_DATE_WORDS = re.compile(
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?"
    r"|nov(?:ember)?|dec(?:ember)?|(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?"
    r"|\d{1,4}(?:st|nd|rd|th)?|\d{1,2}[:.]\d{2}(?:am|pm)?|\d{1,2}(?:am|pm)|am|pm|at|of|the|,)", re.IGNORECASE)
# A menu item or button starts with what it does ("Export Audio/Video", "Edit album"). Not "new": New York.
_COMMANDS = {"export", "import", "save", "open", "edit", "add", "create", "delete", "share", "print", "download",
             "upload", "sign", "log", "send", "reply", "forward", "insert", "format", "close", "undo", "redo", "copy",
             "paste", "rename", "move", "archive", "compose", "select", "show", "hide", "sort", "filter",
             "request"}  # "Request Swap" is the form's button, not what the user works on
# A notification or status line: "Calendar event updated", "Visited in Firefox", "Recurring calendar event".
_STATUS = {"updated", "visited", "recurring", "cancelled", "canceled", "created", "deleted", "saved", "loading",
           "modified", "edited", "received", "pending", "synced", "event"}
# What a person writes: a text of some kind. Anything else the model says they "write" they work on.
_TEXTS = {"post", "posts", "blog", "article", "essay", "report", "paper", "thesis", "chapter", "letter", "email",
          "code", "story", "song", "songs", "lyrics", "book", "novel", "proposal", "talk", "review", "notes",
          "newsletter", "script", "poem", "poems", "cover", "application", "resume", "cv", "documentation", "docs",
          "tests", "test", "readme", "abstract", "slides", "speech", "column", "recipe", "plan", "summary"}
# Activities are common nouns, most of them gerunds ("kickboxing"); these are the usual others.
_ACTIVITIES = {"yoga", "pilates", "karate", "judo", "tennis", "golf", "chess", "football", "soccer", "basketball",
               "volleyball", "badminton", "squash", "rugby", "cricket", "baseball", "hockey", "crossfit", "parkour",
               "ballet", "salsa", "tango", "meditation", "photography", "pottery", "archery", "taekwondo", "boxing",
               "aikido", "origami", "calligraphy", "karaoke", "improv", "theatre", "theater", "volunteer work"}
# OCR that misread a word keeps its letters but not its case: "PTrermvay-raterimit" (fernway-ratelimit),
# "CCentsrKaumann". Two capitals and then four small letters are seldom a name ("OAuth", "GitHub" are not this).
_GARBLED = re.compile(r"(?<![A-Za-z])[A-Z]{2}[a-z]{4,}")
# A company is where one works or what one applies to, not a tool: "uses Kestrel Robotics", "uses Sweet Crumb
# Bakery LLC".
_COMPANY = {"inc", "llc", "ltd", "gmbh", "corp", "corporation", "robotics", "labs", "technologies", "bakery",
            "hospital", "university", "school", "college", "bank", "restaurant", "cafe", "logistics", "airlines",
            "airways", "clinic", "pharmacy"}
# Nor is an organization, or its paper ("uses Eastside Community Orchestra", "uses Maplewood District News"),
# and one does not work on either: one works at, plays in or reads them ("is working on Pinecrest Bank" of a
# resume's line). "Hacker News" and "American Heart Association eLearning" are things one uses.
_ORGANIZATION = _COMPANY | {"orchestra", "choir", "club", "league", "district", "association", "society", "council",
                            "committee", "foundation", "church", "community", "academy", "institute", "department",
                            "county", "ministry", "museum"}
_PAPERS = {"news", "times", "gazette", "journal", "bulletin", "newsletter", "herald", "tribune"}
# A greeting or a thanks starts a line of a message, not a thing: "is working on Thanks Tom", "uses Hi Dr.
# Okafor, thanks".
_GREETINGS = {"hi", "hello", "hey", "thanks", "thank", "dear", "cheers", "regards", "congrats", "congratulations"}
# Someone's event or thing ("Lucia's quinceanera"), an edition with its year ("Spring Fair 2026", "Receipts Q1
# 2026"), a feature or an activity ("GPS tracking"): not a tool one uses.
_POSSESSIVE_THING = re.compile(r"\w['’]s [a-z]")
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
# A person the evidence addresses or names as one: "From: Helen Park", "To: ...", "Dr. Okafor". (Not "with":
# one books with a travel agency.)
_PERSON_BEFORE = r"(?:\b(?:from|to|cc|bcc):\s*|\b(?:dr|mr|mrs|ms|prof)\.?\s+)"
# Owning a company takes words that say so ("Tomas owns Kestrel Robotics" from its job posting).
_OWNER_CUES = r"\b(?:owner|co-?owner|founder|co-?founder|proprietor|my (?:business|company|shop|bakery|store)|our (?:business|company|shop|bakery|store))\b"
# Small words inside a title or an event name ("Year 10 trip to the Science Museum", "Bouldering at Boulderwelt
# with Jonas"): a product or a tool is seldom named with them.
_PHRASE_WORDS = {"to", "with", "at", "of", "and", "a", "an", "the", "from", "in", "on"}
# A web address, not a source file ("settle.rs", "main.go" are things one works on).
_DOMAIN = re.compile(r"^[\w-]+(?:\.[\w-]+)*\.(?!(?:rs|py|js|ts|tsx|jsx|go|c|h|cpp|hpp|java|kt|rb|md|json|toml|yaml|yml|sh"
                     r"|css|html|swift|sql|ipynb|r|tex)$)[a-z]{2,}$", re.IGNORECASE)


def sentence_subject(user: str) -> str:
    """The user as a sentence starts with them: "the user" -> "The user"."""
    return user[:1].upper() + user[1:]


def _looks_named(span: str) -> bool:
    """A product or service name: a capital, a digit or a dot in it ("QuickBooks", "Q1", "lenafischer.design")."""
    return any(w[:1].isupper() or any(c.isdigit() for c in w) or "." in w.strip(".")
               for w in span.split() if w.lower() not in _DETERMINERS)  # "The campaign email" is not a name


@dataclass
class Composed:
    """A sentence composed from slots, with what it was made from."""

    text: str
    relation: str
    kind: str
    span: str
    decay: int
    line: str  # the line of the evidence the span was found in, for the reasoning


def words(text: str) -> list[str]:
    """Lowercased word tokens, as spans are matched against the evidence."""
    return _WORD.findall(text.lower())


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return n > 0 and any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


def clean_span(raw: str) -> str:
    """The span with quotes, stray punctuation and surplus spaces trimmed."""
    span = " ".join(raw.split())
    # A parenthesis at the end is a detail ("bouncy castle (15x15 ft)"), and a cut one is worse.
    span = re.sub(r"\s*\([^)]*\)?\s*$", "", span)
    return span.strip(" \"'`“”‘’.,;:!?()")


def as_said(span: str) -> str:
    """The span as a statement about the user reads it: their "my bikes" is "their bikes"."""
    return _MY.sub("their", span)


def span_line(span: str, evidence: str) -> str | None:
    """The line of `evidence` that contains `span` word for word (a leading article may differ); None if none."""
    want = words(span)
    while want and want[0] in _DETERMINERS and len(want) > 1:
        if any(_contains(words(line), want) for line in evidence.splitlines()):
            break
        want = want[1:]
    for line in evidence.splitlines():
        if _contains(words(line), want):
            return line.strip()
    return None


def refuse_reason(span: str, user: str, evidence: str) -> str | None:
    """Why `span` cannot be the object of a proposition about `user`, or None if it can."""
    if not span:
        return "empty span"
    toks = words(span)
    if not toks:
        return "no words in the span"
    if len(toks) > MAX_WORDS or len(span) > MAX_CHARS:
        return "span too long: a copied line, not a thing"
    if _TITLE.search(span):
        return "span looks like a title or a copied line"
    if _FILE.search(span):
        return "span is a file name"
    if _PERSONAL.search(span) or "?" in span:
        return "span is speech (first or second person, a question)"
    if _CLAUSE.search(span):
        return "span is a clause, not a thing"
    if _TIME.match(span) or all(_DATE_WORDS.fullmatch(w) for w in re.findall(r"[^\s,]+|,", span)):
        return "span is a time or a day"
    if toks[0] in _GREETINGS:
        return "span is speech (a greeting or thanks)"
    if toks[0] in _COMMANDS and len(toks) <= 3:
        return "span is a menu item or a button"
    if _STATUS & set(toks):
        return "span is a notification or status line"
    # A row of a menu or navigation bar, a breadcrumb, a counter, a copied listing: "Auravia Audio Computers
    # Phones Deals Help Cart", "Audio › Headphones", "Inbox (2)", "1 gumdesk gumdesk 69 Dec".
    if re.search(r"[›»]|\(\d+\)", span):
        return "span is a breadcrumb or a counter"
    if len(span.split()) != len(set(span.split())):  # exactly: "Castle Deluxe bouncy castle" is a thing
        return "span repeats a word: a copied row, not a thing"
    if len(span.split()) >= 5 and all(w[:1].isupper() for w in span.split()):
        return "span is a row of menu or navigation words"
    name = set(words(user)) - {"the", "user"}
    if name & set(toks) or "user" in toks:
        return "span names the user: a name is not a proposition"
    if not {t for t in toks if not t.isdigit()} - _DETERMINERS - _VAGUE or not terms(span):
        return "span names nothing in particular"
    if sum(c.isalpha() for c in span) < 0.5 * len(span.replace(" ", "")):
        return "span is mostly digits or symbols"
    if _GARBLED.search(span):
        return "span is OCR garbage"
    if span_line(span, evidence) is None:
        return "span is not in the evidence"
    return None


def _with_article(span: str) -> str:
    first = span.split()[0].lower()
    if first in _DETERMINERS:
        return span
    vowel = first[:1] in "aeio" or (first[:1] == "u" and not first.startswith(("uni", "use", "usu", "ux", "ui")))
    return ("an " if vowel else "a ") + span


def best_span(what: str, user: str, evidence: str) -> tuple[str, str | None]:
    """The span, or its first part when the model copied a title and that part can stand alone
    ("QuickBooks Online - Chrome" -> "QuickBooks Online"; a title names the document or app first); with the
    refusal reason if neither can."""
    span = clean_span(what)
    why = refuse_reason(span, user, evidence)
    if why and _SEPARATOR.search(span):
        part = clean_span(_SEPARATOR.split(span)[0])
        if refuse_reason(part, user, evidence) is None:
            return part, None
    return span, why


# Relations whose object must be a particular thing: a lone word from a table's header row ("Shift |
# Station | Volunteer") is a column name.
_NEEDS_NAME = {"uses", "works on", "works with", "works at", "applied to", "goes to", "lives in"}


def _an_organization(span: str) -> bool:
    """Whether `span` names a company, an organization or its paper (see _ORGANIZATION); "Year 10 trip to the
    Science Museum" is a trip."""
    ws = words(span)
    if {"to", "with", "at", "from", "for"} & set(ws):
        return False
    return ws[-1] in _ORGANIZATION or (ws[-1] in _PAPERS and len(ws) > 1 and bool(set(ws[:-1]) & _ORGANIZATION))


def _names_something(word: str, evidence: str, app: str) -> bool:
    """Whether a one-word span can be a name: the app itself, an inner capital or digit ("QuickBooks", "Q1"),
    or found on some line that is not a table row."""
    if word.lower() in words(app) or re.search(r".[A-Z0-9]", word):
        return True
    return any(_contains(words(line), words(word)) and line.count("|") < 2 for line in evidence.splitlines())


def _names_the_site(span: str, window: str, app: str) -> bool:
    """Whether `span` is the one-word site a window title names after its page ("Intro to Bouldering - YouTube -
    Chromium", "Jobs | LinkedIn"): the whole last part of the title once the browser is taken off, with a page
    before it. A document's name is seldom one word alone ("Lena Fischer - Resume (UX) - Google Docs")."""
    parts = [words(p) for p in _SEPARATOR.split(window)]
    while parts and _contains(words(app), parts[-1]):
        parts.pop()
    want = words(span)
    return len(want) == 1 and len(span.split()) == 1 and len(parts) >= 2 and parts[-1] == want


def compose(user: str, what: str, relation: str, who: str, evidence: str,
            app: str = "", window: str = "", read_only: bool = False) -> tuple[Composed | None, str]:
    """(the composed proposition, "") or (None, why the slots were refused).

    `who` is not decided here: the engine counts what the model says someone else does as only seen.
    `read_only`: the user typed, clicked and did nothing there but look, so "works on" is "is reading about".
    `app` is the application the observation came from: a span that names it is a tool the user uses,
    whatever relation the model chose ("works on Gmail" -> "uses Gmail"); so is the site its `window` title
    names after the page ("works on YouTube" -> "uses YouTube").
    """
    rel = RELATIONS.get(relation)
    if rel is None:
        return None, f"unknown relation {relation!r}"
    span, why = best_span(what, user, evidence)
    if why:
        return None, why
    if relation == "uses" and len(span.split()) > 1 and span.split()[-1].lower() in _FIRST_PAGES:
        span = span.rsplit(" ", 1)[0]  # "uses Chatter Home": the app is Chatter, Home is its first page
    # The site the user is on counts as the app they are in (a browser is seldom what the user is about),
    # though one can book or buy on a site.
    in_app = bool(app) and _contains(words(app), words(span))
    on_site = _names_the_site(span, window, app)
    is_app = in_app or on_site
    if relation != "uses" and (in_app or on_site and relation not in ("booked", "bought")):
        relation, rel = "uses", RELATIONS["uses"]
    elif relation == "does" and re.search(r"[A-Z0-9._/-]", span):
        # An activity is a common noun ("kickboxing"); "does ledger-api" or "does Payment Confirmation" is
        # the model's word for working on a named thing.
        relation, rel = "works on", RELATIONS["works on"]
    elif relation == "writes" and not (_TEXTS & set(words(span))):
        # "writes PostgreSQL", "writes Rendered Track": the model's word for working on something that is not
        # a text.
        relation, rel = "works on", RELATIONS["works on"]
    if relation == "uses" and not is_app and not _looks_named(span):
        return None, f"a common noun ({span!r}) is not a tool {user} uses"
    if relation == "uses" and not is_app and re.search(r",|\bor\b|\band\b|/", span):
        return None, f"{span!r} is a list (a job's requirements, a menu), not a tool {user} uses"
    if relation == "owns" and _COMPANY & set(words(span)) and not re.search(_OWNER_CUES, evidence, re.IGNORECASE):
        return None, f"nothing in the evidence says {user} owns {span!r}"
    if relation in ("uses", "works on") and not is_app and _an_organization(span):
        return None, f"{span!r} is a company or an organization, not a thing {user} {relation}"
    if relation == "uses" and not is_app and _PHRASE_WORDS & set(words(span)[1:]):
        return None, f"{span!r} reads as a title or an event, not a tool {user} uses"
    if relation == "uses" and not is_app:
        last = span.split()[-1]
        if _POSSESSIVE_THING.search(span) or _YEAR.search(span):
            return None, f"{span!r} is an event, an edition or someone's thing, not a tool {user} uses"
        if last.islower() and last.endswith("ing") and len(last) > 4:
            return None, f"{span!r} is an activity or a feature, not a tool {user} uses"
        if re.search(_PERSON_BEFORE + re.escape(span) + r"\b", evidence, re.IGNORECASE):
            return None, f"{span!r} is a person, not a tool {user} uses"
    if relation == "is learning" and (len(span.split()) >= 2 and all(w[:1].isupper() for w in span.split())
                                      or "from" in words(span)):
        return None, f"{span!r} is a name or a title, not a skill {user} is learning"
    if relation == "does" and not (words(span)[-1].endswith("ing") or span.lower() in _ACTIVITIES):
        return None, f"{span!r} is not an activity {user} does"
    if relation not in ("uses", "works at") and _DOMAIN.match(span):
        return None, f"a web address ({span!r}) is a site {user} visits, not a thing {user} {relation}"
    if relation in _NEEDS_NAME and len(span.split()) == 1 and not _names_something(span, evidence, app):
        return None, f"a lone common word ({span!r}) is a heading, not a thing {user} {relation}"
    if relation != "uses" and re.search(rf"(?im)^\s*{re.escape(span)}\s*:", evidence):
        return None, f"{span!r} is a field's label ({span}: ...), not a thing {user} {relation}"
    if relation == "works on" and words(span) and words(span)[-1] in _PAGE_KINDS:
        return None, f"{span!r} is a page of a site or an app (its {words(span)[-1]}), not a thing {user} works on"
    if relation == "works on" and not is_app and _MAIL_LIST.search(window):
        return None, f"{span!r} is a line in a list of mails, someone else's subject, not a thing {user} works on"
    if rel.cues and not any(re.search(rf"(?<!\w){re.escape(c)}(?!\w)", evidence, re.IGNORECASE) for c in rel.cues):
        return None, f"nothing in the evidence says {user} {relation} something"
    first, _, rest = span.partition(" ")
    if first.lower() in _DETERMINERS:  # "A bike lock" -> "a bike lock" mid-sentence
        span = f"{first.lower()} {rest}".strip()
    line = span_line(span, evidence) or ""
    if relation == "works on" and read_only:
        relation, rel = "reads about", READS_ABOUT
    # The app the user is in, named as the tool they use, is the one relation a reader always accepted
    # (issue 12); it gets its own kind so that confidence can tell it from a tool merely mentioned.
    kind = "app" if relation == "uses" and is_app else rel.kind
    # The user's own "my bikes" is, said of them, "their bikes".
    obj = as_said(span)
    if rel.article:
        obj = _with_article(obj)
    text = rel.template.format(user=sentence_subject(user), what=obj)
    return Composed(text=text, relation=relation, kind=kind, span=span, decay=rel.decay, line=line[:160]), ""


# -- the document the user typed in --------------------------------------------------------------------------
# What a person works on is, most of the time, what they type in: the window title names the document, the
# app (or the site, in a browser) the tool: "Spring Fair Flyer - Canva - Chromium" while 140 keys went in.
# The model seldom says so (it picks one thing an observation, most often the app), and the facts a reader
# expects are of this shape: a thing and the tool it is made in. So gum writes that one itself, from the title.

_TITLE_SEP = re.compile(r"\s+[-–—|·•]\s+")
_BROWSERS = {"chrome", "chromium", "firefox", "safari", "edge", "brave", "opera", "vivaldi", "browser", "esr",
             "google-chrome", "mozilla"}
# Not documents: a mail's subject line, a conversation, a shell prompt.
_MAIL_TITLE = re.compile(r"^(?:re|fwd?|aw|tr|sv)\s*:|\b(?:inbox|compose|new message|draft|drafts|sent mail)\b",
                         re.IGNORECASE)
# An app's or a site's first pages, named after it: "Chatter Home", "Square Dashboard" (not "Lincoln Middle
# School": a school is no page).
_FIRST_PAGES = {"home", "dashboard", "feed", "inbox", "overview", "explore", "discover", "start", "homepage"}
# The page a site shows after or around an action: "Payment Confirmation", "Order checkout".
_PAGE_KINDS = {"confirmation", "checkout", "receipt", "cart", "login", "signin", "signup", "preferences",
               "dashboard", "overview", "settings", "homepage", "landing"}
# A mail app's list of mails, not one mail: the subjects in it are what others sent.
_MAIL_LIST = re.compile(r"^(?:inbox|junk(?: email)?|spam|all mail|archive|updates|promotions)\b|"
                        r"[-–—|]\s*(?:inbox|junk(?: email)?|spam|all mail)\s*(?:[-–—|(]|$)|^(?:inbox|junk)$",
                        re.IGNORECASE)
_MAIL_APPS = {"gmail", "outlook", "thunderbird", "mail", "evolution", "geary", "fernmail", "protonmail", "fastmail"}
_NOT_DOCUMENT_APPS = _MAIL_APPS | {
    "whatsapp", "slack", "discord", "signal", "telegram", "teams", "messages", "messenger", "element", "zoom", "xterm",
    "terminal", "alacritty", "kitty", "konsole", "gnome-terminal", "terminator", "tilix", "wezterm", "iterm2"}
MIN_DOCUMENT_KEYS = 20  # keys typed in the window: fewer is a search box or a shortcut, not work on it
# In a browser, typing an address into a new tab lands on the page it opens: a page takes more to count.
MIN_PAGE_KEYS = 80


def _app_name(app: str) -> str:
    """The app an observation's app field names first: "Google Sheets - Firefox" -> "Google Sheets"."""
    parts = [p for p in _TITLE_SEP.split(" ".join(app.split())) if p]
    return parts[0] if parts else ""


def is_browser(name: str) -> bool:
    """Whether the app named `name` is a web browser."""
    return bool(set(words(name)) & _BROWSERS)


def document_of(window: str, app: str, user: str) -> tuple[str, str] | None:
    """(the document, the tool) a window title names, or None when it names no document.

    "Spring Fair 2026 - Volunteer Sign-up" in "Google Sheets - Firefox" -> ("Spring Fair 2026 (Volunteer
    Sign-up)", "Google Sheets"); "Spring Fair Flyer - Canva - Chromium" in "Chromium" -> ("Spring Fair Flyer",
    "Canva"); a title naming a subject line, a chat, a shell prompt or nothing but the app -> None.
    """
    if not window or start_page(window) or _MAIL_TITLE.search(window):
        return None
    tool = _app_name(app)
    if set(words(tool)) & _NOT_DOCUMENT_APPS:
        return None
    title = re.sub(r"\s*\[[^\]]*\]", "", strip_title(window))  # "Northern Lights [Northern Lights.als]"
    # An editor's path: the file is its last part ("~/notes/postmortem.md - Mousepad").
    title = re.sub(r"^(?:~|/)\S*/(?=[^/\s]+(?:\s|$))", "", title)
    parts = [p.strip() for p in _TITLE_SEP.split(title) if p.strip()]
    app_words = set(words(app)) | _BROWSERS
    while parts and words(parts[-1])[:1] and words(parts[-1])[0] in app_words:
        parts.pop()  # "... - Google Docs", "... - Webflow Designer", "... - Ableton Live 12 Suite"
    if is_browser(tool) or not tool:
        if len(parts) < 2:
            return None  # a page with no site named: which tool is unknown
        tool = parts.pop()  # the site, named last: "... - Canva"
    name = set(words(user)) - {"the", "user"}

    def the_user(part: str) -> bool:  # "Lena Fischer - Resume (UX)": the user's name, not the document
        ws = part.split()
        return bool(name & set(words(part))) and len(ws) <= 3 and all(w[:1].isupper() for w in ws)

    parts = [p for p in parts if not the_user(p)]
    if not parts or set(words(tool)) & _NOT_DOCUMENT_APPS or parts[0][:1] in "#@":
        return None  # a channel or a handle: a conversation
    if len(parts) == 1 and ": " in parts[0]:
        parts = [x.strip() for x in parts[0].split(": ", 1)]  # "Training plan: Half Marathon"
    extra = parts[1] if len(parts) > 1 and "(" not in parts[1] and ": " not in parts[1] else ""
    doc = f"{parts[0]} ({extra})" if extra else parts[0]
    toks = words(doc)
    if (not toks or len(toks) > 10 or len(doc) > 80 or re.search(r"[@~]|://|^/|:\s", doc) or toks[0] in _COMMANDS
            or not set(toks) - _DETERMINERS - _VAGUE
            or all(_DATE_WORDS.fullmatch(w) for w in re.findall(r"[^\s,]+|,", parts[0]))
            or _GARBLED.search(doc) or set(toks) <= set(words(tool)) or _STATUS & set(toks)):
        return None
    return doc, tool


def compose_document(user: str, window: str, app: str, keys: int = MIN_PAGE_KEYS) -> Composed | None:
    """`user` is working on the document `window` names in its tool, having typed `keys` keys in it; None
    if the title names no document or too few keys went in (see document_of, MIN_PAGE_KEYS)."""
    if keys < (MIN_PAGE_KEYS if is_browser(_app_name(app)) else MIN_DOCUMENT_KEYS):
        return None
    found = document_of(window, app, user)
    if found is None:
        return None
    doc, tool = found
    return Composed(text=f"{sentence_subject(user)} is working on {doc} in {tool}", relation="works on", kind="document", span=doc,
                    decay=RELATIONS["works on"].decay, line=window[:160])


# -- an event in the user's calendar -------------------------------------------------------------------------
# The calendar observer (observers/calendar.py) reads the user's own calendars: an event there is the user's.
# "Recurring calendar event: Bouldering at Boulderwelt with Jonas / When: every week on Thu, 19:00-21:00 ..."
# is "Tomás has Bouldering at Boulderwelt with Jonas every week on Thursday". The model, given the same text,
# wrote "is working on Parent-teacher conferences" or nothing; a cancelled event says nothing of the sort.

_EVENT_HEAD = re.compile(r"^(?:Recurring calendar event(?: updated)?|Calendar event(?: updated| moved or changed"
                         r" \(one occurrence of a series\))?): (?P<title>.+)$")
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} [A-Z][a-z]{2} \d{4}"
_SERIES_WHEN = re.compile(r"^When: (?P<rule>every [^;]+?), (?:all day|\d{1,2}:\d{2})")
_RANGE_WHEN = re.compile(rf"^When: (?P<first>{_DAY}) - (?P<last>{_DAY}) \(all day\)")
_DAY_WHEN = re.compile(rf"^When: (?P<day>{_DAY})")
EVENT_DECAY = 4  # as a plan: true until the day is past
# Days written out: "what does he do on Thursdays?" finds "every week on Thursday", not "on Thu".
_DAY_NAMES = {"Mon": "Monday", "Tue": "Tuesday", "Wed": "Wednesday", "Thu": "Thursday", "Fri": "Friday",
              "Sat": "Saturday", "Sun": "Sunday"}
_DAY_ABBREVIATION = re.compile(r"\b(" + "|".join(_DAY_NAMES) + r")\b")


def _event_title(raw: str) -> str:
    """The event's title as it reads inside a sentence: 'A: "B"' and 'A: B' -> 'A (B)', no quotes."""
    title = " ".join(raw.replace('"', "").replace("“", "").replace("”", "").split()).strip(" .")
    head, sep, rest = title.partition(": ")
    return f"{head} ({rest})" if sep and rest and "(" not in rest else title.replace(": ", " - ")


def compose_event(user: str, text: str) -> Composed | None:
    """`user` has the event a calendar observation describes, on its day or by its rule; None for a
    cancelled event or text that is not one."""
    lines = text.splitlines()
    head = _EVENT_HEAD.match(lines[0].strip()) if lines else None
    if head is None:
        return None
    when_line = next((line.strip() for line in lines[1:] if line.startswith("When: ")), "")
    if m := _SERIES_WHEN.match(when_line):
        when = m["rule"]
    elif m := _RANGE_WHEN.match(when_line):
        when = f"from {m['first']} to {m['last']}"
    elif m := _DAY_WHEN.match(when_line):
        when = f"on {m['day']}"
    else:
        return None
    when = _DAY_ABBREVIATION.sub(lambda m: _DAY_NAMES[m[1]], when)
    title = _event_title(head["title"])
    if not words(title) or len(title) > MAX_CHARS + 20:
        return None
    return Composed(text=f"{sentence_subject(user)} has {title} {when}", relation="has", kind="event", span=title,
                    decay=EVENT_DECAY, line=lines[0].strip()[:160])


# -- the people the user writes to ---------------------------------------------------------------------------
# Typing in a mail window is writing to someone: the person the mail is from (or to, when the user wrote it),
# or the one the draft greets. "Grace corresponds with David Liu (CPA) about Q1 numbers" is a fact a reader
# expects ("works with her accountant David Liu"), and the model, asked for one thing, names the mail app.

_HEADER = re.compile(r"^(?P<field>From|To|Subject):\s*(?P<value>.+)$", re.IGNORECASE)
_GREETING = re.compile(r"^(?:hi|hello|hey|dear)\s+(?P<name>(?:(?:Dr|Mr|Mrs|Ms|Prof)\.?\s+)?[A-Z][\w'-]+"
                       r"(?:\s+[A-Z][\w'-]+)?)\s*[,!]", re.IGNORECASE)
_REPLY = re.compile(r"^(?:(?:re|fwd?|aw|tr|sv)\s*:\s*)+", re.IGNORECASE)


def _correspondent(raw: str) -> str:
    """A From:/To: value as a person reads in a sentence: no address, "David Liu, CPA" -> "David Liu (CPA)"."""
    name = re.sub(r"\s*<[^>]*>", "", raw).strip(" \"'")
    if "@" in name or not re.search(r"[A-Za-z]", name):
        return ""  # an address alone: no one to name
    head, sep, rest = name.partition(", ")
    return f"{head} ({rest})" if sep and "(" not in name else name


def compose_correspondence(user: str, text: str, window: str, app: str, keys: int,
                           measured: bool = True) -> Composed | None:
    """`user` corresponds with someone about a mail's subject, having typed `keys` keys in its window; None
    if it is no mail, no one is named or too few keys went in. Where nothing measured the keys (`measured`
    False: a recorded transcript), a draft (a To: line and no From:) is the user writing."""
    if not (set(words(_app_name(app))) & _MAIL_APPS or _MAIL_TITLE.search(window)):
        return None
    name = set(words(user)) - {"the", "user"}
    headers: dict[str, str] = {}
    greeted = ""
    for line in text.splitlines():
        line = line.strip()
        if m := _HEADER.match(line):
            headers.setdefault(m["field"].lower(), m["value"].strip())
        elif not greeted and (m := _GREETING.match(line)):
            greeted = m["name"]
    draft = "to" in headers and "from" not in headers
    if keys < MIN_DOCUMENT_KEYS and not (draft and not measured):
        return None
    person = ""
    for field in ("from", "to"):
        who = _correspondent(headers.get(field, ""))
        if who and not (name and name & set(words(who))):
            person = who
            break
    person = person or greeted
    if not person or len(person) > MAX_CHARS or (name and name & set(words(person))):
        return None
    subject = _REPLY.sub("", headers.get("subject", "") or _TITLE_SEP.split(window)[0]).strip()
    if (not words(subject) or _MAIL_TITLE.search(subject) or set(words(subject)) <= _VAGUE
            or len(subject) > MAX_CHARS):
        subject = ""
    sentence = f"{sentence_subject(user)} corresponds with {person}" + (f" about {subject}" if subject else "")
    return Composed(text=sentence, relation="corresponds with", kind="contact", span=person, decay=6,
                    line=window[:160])


# -- the user's own signature ------------------------------------------------------------------------------
# A mail the user wrote ends with who they are: "Omar Haddad, Data Analyst, Northwind Logistics". Their role
# and their employer, in their own words, which the model (asked for one thing) leaves for the mail app.

_SIGNATURE = re.compile(r"(?:^|(?<=[.!])\s+|\s+[-–—]\s*)(?P<name>[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+){0,2}),\s+"
                        r"(?P<role>[A-Za-z][\w&/' -]{1,40}?)(?:,\s+(?P<org>[A-Z][\w&.' -]{1,50}?))?\s*$")
_SMALL = {"of", "and", "for", "the", "at", "in", "&"}


def _role_words(role: str) -> str | None:
    """ "Data Analyst" -> "data analyst", "Head of Analytics" -> "head of analytics" ("SRE" stays); None if it
    reads as no job title (a word in lower case that is not a small word: a sentence, not a title)."""
    out = []
    for w in role.split():
        if w.lower() in _SMALL:
            out.append(w.lower())
        elif w.isupper() and len(w) > 1:
            out.append(w)
        elif w[:1].isupper():
            out.append(w.lower())
        else:
            return None
    return " ".join(out)


def compose_signature(user: str, text: str) -> Composed | None:
    """"<user> works as <role> at <organization>" from the signature of a mail the user wrote (the caller knows
    it is theirs): the end of a line, after its last sentence or alone, that starts with their name; None if
    no line signs it so."""
    first = sentence_subject(user).split()[0] if user.strip() else ""
    if not first or first.lower() == "the":
        return None  # "the user": no name to sign with
    for line in reversed(text.splitlines()):
        # The sign-off ends the mail, on a line of its own or after the last sentence.
        m = _SIGNATURE.search(line.strip())
        if not m or m["name"].split()[0] != first:
            continue
        role = _role_words(m["role"])
        if not role or set(words(role)) <= _VAGUE or len(role.split()) > 5:
            continue
        # "works as a data analyst", "works as head of analytics"
        head = role.split()[0]
        vowel = head[:1] in "AEFHILMNORSX" if head.isupper() else head[:1] in "aeiou"  # "an SRE", "an analyst"
        article = "" if " of " in role else "an " if vowel else "a "
        sentence = f"{sentence_subject(user)} works as {article}{role}"
        org = (m["org"] or "").strip()
        if org and len(org.split()) <= 5:
            sentence += f" at {org}"
        return Composed(text=sentence, relation="works as", kind="signature", span=role, decay=9, line=line[:160])
    return None
