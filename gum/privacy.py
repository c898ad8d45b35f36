"""Privacy before storage: secrets are redacted from text and window titles before anything is stored.

Redacted: payment cards (Luhn-checked, also double-spaced, dashed or wrapped across lines) with the expiry and
CVV written after them; IBANs (checksum verified, any case, spaces or dashes); US SSNs; one-time codes; private
key blocks (also with the dashes OCR lost); user:password in URLs; Authorization headers; tokens by their
prefix (gum's own gum_..., GitHub, GitLab, Slack, Stripe, AWS, Google, npm, PyPI, SendGrid, Shopify,
DigitalOcean, Azure, age, BIP32 and more); long random-looking strings; and the value after a secret-like label
(password, passphrase, PIN, api_key, secret, token), also inside environment-style names (DB_PASSWORD=,
aws_secret_access_key =) and after a tab, a fullwidth colon or no separator ("Password hunter2").

OCR splits long random strings with spaces and misreads characters, so a secret does not end where its
pattern stops matching: `_extend` takes the pieces after it that look like more of it. The corpus test
(tests/test_redaction_corpus.py) plants 127 secrets in 43 formats, as text and on OCR'd screenshots.
More patterns can be added in config.toml (`redact_patterns`, regular expressions). Each replacement is
counted, by kind.

Excluded windows (password managers, private browser windows, the lock screen, authentication dialogs, gum's
own windows, and the user's own `exclude_windows` patterns) are never captured: `Exclusions.matches` decides.
"""

from __future__ import annotations

import fnmatch
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass, field

from .errors import ConfigError

PLACEHOLDER = "[REDACTED:{kind}]"
_PLACEHOLDER_START = "[REDACTED:"

# Boundaries: `\b` does not separate "_" from a letter, so `\bsk-` misses "OPENAI_API_KEY=sk-..." written
# "KEY_sk-"; prefixes are anchored on "not preceded by a letter or digit" instead.
_NB = r"(?<![A-Za-z0-9])"

# Digits of a card, in groups separated by up to three spaces or tabs, one dash, or a line break (a card
# number wrapped across two OCR lines). The groups are checked with Luhn in `_cards`.
_DIGIT_RUN = re.compile(r"(?<!\d)\d+(?:(?:[ \t]{1,3}|[ \t]*-[ \t]*|[ \t]*\n[ \t]*)\d+)*(?!\d)")
# After a redacted card: its expiry date, or a 3-4 digit CVV after a CVV-like label, on the same line.
_CARD_TAIL = re.compile(
    r"(?i)(?P<gap>[^\n\d]{0,30}?(?:(?:cvv2?|cvc2?|csc|cid|security\s+code)[^\n\d]{0,5}(?=\d{3,4}(?!\d))|"
    r"(?=\d{1,2}\s?/\s?\d{2,4}(?!\d))))(?P<value>\d{1,2}\s?/\s?\d{2,4}|\d{3,4})(?!\d)"
)
_CVV = re.compile(r"(?i)(?<![A-Za-z])(cvv2?|cvc2?|csc|cid|card\s+security\s+code|security\s+code)"
                  r"(\s*[:=#：]?\s*)(\d{3,4})(?!\d)")
_IBAN = re.compile(r"(?i)(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]{4}){2,7}(?:[ -]?[A-Z0-9]{1,4})?(?![A-Za-z0-9])")
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
_SSN_LABELLED = re.compile(r"(?i)(?<![A-Za-z])(ssn|social\s+security(?:\s+(?:number|no\.?))?)(\s*[:#：]?\s*)"
                           r"(\d{3}[ .]?\d{2}[ .]?\d{4})(?!\d)")
# One-time codes: a 4-8 digit number right after words that announce one ("verification code", "OTP"); after
# a bare "code" only 6-8 digits count (a zip code or an HTTP status is not a one-time code).
_OTP = re.compile(
    r"(?i)(?<![A-Za-z])((?:(?:verification|security|login|sign[- ]?in|confirmation|one[- ]time|"
    r"auth(?:entication)?|2fa|mfa|otp|sms)\s+(?:code|pin|password|passcode)|otp|passcode|2fa|mfa|"
    r"one[- ]time\s+password)(?:\s+(?:is|was))?\s*[:=#：]?\s*(?:G-)?)(\d{3}[ -]\d{3}|\d{4,8})(?!\d)"
)
_OTP_BARE = re.compile(r"(?i)(?<![A-Za-z])(code(?:\s+(?:is|was))?\s*[:=#：]?\s*(?:G-)?)(\d{3}[ -]\d{3}|\d{6,8})(?!\d)")
# Private key blocks, also when OCR lost the dashes around BEGIN/END or never saw the END line: then the
# header and the base64-looking lines after it are redacted.
_KEY_HEADER = re.compile(r"(?:-{2,}\s*)?BEGIN[ _]+(?:[A-Z0-9]+[ _]+)*PRIVATE[ _]+KEY(?:[ _]+BLOCK)?(?:\s*-{2,})?")
_KEY_FOOTER = re.compile(r"(?:-{2,}\s*)?END[ _]+(?:[A-Z0-9]+[ _]+)*PRIVATE[ _]+KEY(?:[ _]+BLOCK)?(?:\s*-{2,})?")
_KEY_LINE = re.compile(r"[ \t]*(?:[A-Za-z0-9+/=]{8,}|[A-Za-z-]+: .*|=[A-Za-z0-9+/]{2,6}|)[ \t]*")
# user:password@ in a URL (postgres://u:p@host, https://u:p@host); OCR puts spaces around ":" and "//".
_URL_CREDENTIALS = re.compile(
    r"(?i)\b([a-z][a-z0-9+.-]{1,20}:\s?/{1,2}\s?)([^\s/:,;@]{1,100}\s?[:,;]\s?[^\s/@]{1,200}?)(\s?@)"
)
_AUTHORIZATION = re.compile(
    r"(?i)(?<![A-Za-z])((?:proxy-)?authorization(?:\s*[:=：]\s*(?:(?:basic|bearer|token|digest|negotiate|ntlm)\s+)?|"
    r"\s+(?:basic|bearer|token|digest|negotiate|ntlm)\s+))"
    r"(?!(?i:basic|bearer|token|digest|negotiate|ntlm)\b)(?=[A-Za-z0-9._~+/=-]{6,})(?-i:(?=\S*[0-9A-Z=+/]))"
    r"([A-Za-z0-9._~+/=-]+)"
)
# Token formats, by their fixed prefix. The part after the prefix only has to start here: OCR splits long
# random strings with spaces and misreads characters, so the rest is taken by `_extend` (below).
_D = r"\s?-\s?"  # a dash, with the spaces OCR likes to put around it
_TOKENS = [(kind, re.compile(p)) for kind, p in [
    # gum's own API tokens (and the tray's gum_tray_...); an identifier like gum_observers is not one.
    ("api_key", _NB + r"gum_(?=[A-Za-z0-9_-]{0,12}[A-Z0-9])[A-Za-z0-9_-]{6,}"),
    ("api_key", _NB + r"gum[_ ]tray[_ ]\s?(?=[A-Za-z0-9_-]{0,12}[A-Z0-9])[A-Za-z0-9_-]{6,}"),  # "_" read as " "
    ("api_key", _NB + r"sk" + _D + r"(?:(?:proj|ant|live|test|svcacct|admin)" + _D + r")?[A-Za-z0-9_-]{12,}"),
    ("api_key", _NB + r"(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{4,}"),
    ("api_key", _NB + r"glpat" + _D + r"[A-Za-z0-9_-]{4,}"),
    ("api_key", _NB + r"(?:xox[abposre]|xapp)" + _D + r"[A-Za-z0-9-]{4,}"),
    ("api_key", r"(?i)hooks\.slack\.com/\s?(?:services|workflows|triggers)/\S+"),
    ("api_key", r"(?i)discord(?:app)?\.com/api/webhooks/\S+"),
    ("api_key", _NB + r"(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
    ("api_key", _NB + r"AIza[0-9A-Za-z_-]{20,}"),
    ("api_key", _NB + r"(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{4,}"),
    ("api_key", _NB + r"whsec_[A-Za-z0-9+/=]{4,}"),
    ("api_key", _NB + r"hf_[A-Za-z0-9]{12,}"),
    ("api_key", _NB + r"npm_[A-Za-z0-9]{6,}"),
    ("api_key", _NB + r"pypi" + _D + r"AgE[A-Za-z0-9_-]{4,}"),
    ("api_key", _NB + r"SG\.\s?[A-Za-z0-9_-]{5,}"),
    ("api_key", _NB + r"shp(?:at|ss|ca|pa)_[A-Fa-f0-9]{4,}"),
    ("api_key", _NB + r"do[por]_v1_[A-Fa-f0-9]{4,}"),
    ("api_key", _NB + r"dapi[a-f0-9]{32}"),
    ("api_key", _NB + r"(?:SK|AC)[a-f0-9]{32}(?![A-Za-z0-9])"),  # Twilio
    ("api_key", _NB + r"key-[a-f0-9]{32}(?![A-Za-z0-9])"),  # Mailgun
    ("api_key", _NB + r"sq0(?:atp|csp)-[A-Za-z0-9_-]{4,}"),
    ("api_key", _NB + r"\d{8,10}:AA[A-Za-z0-9_-]{20,}"),  # Telegram bot
    ("api_key", r"(?i)(?:Account\s?K\w{2,4}|SharedAccess\w{3,9})\s?=\s?[A-Za-z0-9+/%=]{4,}"),
    ("private_key", _NB + r"AGE" + _D + r"SECRET" + _D + r"KEY" + _D + r"1\s?[0-9A-Z]{4,}"),
    ("private_key", _NB + r"[xyzt]prv[1-9A-HJ-NP-Za-km-z]{10,}"),
    ("token", _NB + r"ya29\.\s?[A-Za-z0-9_-]{6,}"),
    ("token", _NB + r"eyJ[A-Za-z0-9_-]{6,}"),  # a JWT (OCR reads "J" as ")")
    ("token", r"(?i)(?<![A-Za-z])bearer\s+(?=\S*[0-9A-Z])[A-Za-z0-9._~+/=-]{16,}"),
]]
# What may follow a secret on the same line and still be part of it (OCR's splits and misreadings).
_RUN = re.compile(r"[^\s\"'`“”‘’<>@]+")
_CHUNK = re.compile(r"[ \t]{1,3}([^\s\"'`“”‘’<>@]+)")
# A long random-looking string (upper and lower case letters and digits, 32+ characters) is a secret whatever
# its format: Azure and other base64 keys, key material whose header OCR lost. Not inside a URL path.
_HIGH_ENTROPY = re.compile(
    r"(?<![A-Za-z0-9+/=_.%-])(?=[A-Za-z0-9+/=_-]{32,})(?=[A-Za-z0-9+/=_-]*[A-Z])(?=[A-Za-z0-9+/=_-]*[a-z])"
    r"(?=[A-Za-z0-9+/=_-]*\d)[A-Za-z0-9+/=_-]{32,}"
)


def _token_shaped(chunk: str) -> bool:
    """A piece of a random string rather than a word: digits and letters, mixed case, long, or OCR junk."""
    core = chunk.strip("()[]{}.:")
    if not core:
        return False
    if all(c in "-._=/|*" for c in core):
        return True
    has_digit, has_alpha = any(c.isdigit() for c in core), any(c.isalpha() for c in core)
    if has_digit and (has_alpha or len(core) >= 5):
        return True
    if any(c.isupper() for c in core[1:]) and any(c.islower() for c in core):
        return True
    if len(core) >= 8 and not any(c.islower() for c in core) and has_alpha:
        return True
    return len(core) >= 16


def _glued(text: str, end: int) -> int:
    """The end of the characters glued to a secret ending at `end` ("@" too, unless a host name follows)."""
    while True:
        run = _RUN.match(text, end)
        if run is not None:
            end = run.end()
        elif text.startswith("@", end):
            host = _RUN.match(text, end + 1)
            if host is None or "." in host.group(0):  # ghp_...@github.com: the host is not the secret
                return end
            end += 1
        else:
            return end


def _extend(text: str, end: int, limit: int = 12) -> int:
    """Where a secret that matched up to `end` really ends: the characters glued to it, then the chunks after
    single spaces that look like pieces of it (a short word between two such pieces counts too)."""
    end = _glued(text, end)
    for _ in range(limit):
        m = _CHUNK.match(text, end)
        if m is None:
            break
        if _token_shaped(m.group(1)):
            end = _glued(text, m.end())
            continue
        nxt = _CHUNK.match(text, m.end())
        if nxt is not None and _token_shaped(nxt.group(1)) and len(m.group(1)) <= 6:
            end = _glued(text, nxt.end())
            continue
        break
    return end


# Labels whose value is a secret. The label may sit inside a longer name (aws_secret_access_key, DB_PASSWORD,
# OPENAI_API_KEY, "Wi-Fi password"); the separator may be ":", "=", a fullwidth colon, a tab, or nothing but
# spaces (then only a value that looks like a password counts: "Password hunter2", not "password reset").
_SECRET_WORD = (r"pass(?:word|wd|phrase|code)?|pwd|secret|api[_ -]?key|apikey|access[_ -]?key|"
                r"(?:access|auth|refresh|session|api|bearer|secret|private)[_ -]?token|client[_ -]?secret|"
                r"private[_ -]?key|credentials?|pin")
_LABEL = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?<!REDACTED:)((?:[A-Za-z0-9]+[_.-])*(?:" + _SECRET_WORD + r")(?:[_.-][A-Za-z0-9]+)*)"
    r"(?P<sep>[ \t]*(?:[:=：|\[\]]|=>|->)[ \t]*|\t+[ \t]*|[ \t]+(?:is[ \t]+)?)"
    r"(?P<value>\"[^\"\n]{1,200}\"|'[^'\n]{1,200}'|“[^”\n]{1,200}”|‘[^’\n]{1,200}’|`[^`\n]{1,200}`|[^\s\"'“‘`]+)"
)
_LOOKS_LIKE_A_PASSWORD = re.compile(r"^(?=.*[0-9!@#$%^&*_+=?~])(?=.*[A-Za-z]).{6,}$|^\d{4,}$")


def _unquoted(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] in "\"'“‘`" else value


def luhn_ok(digits: str) -> bool:
    total, alt = 0, False
    for ch in reversed(digits):
        d = int(ch)
        if alt:
            d *= 2
            if d > 9:
                d -= 9
        total += d
        alt = not alt
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    s = re.sub(r"[ -]", "", candidate).upper()
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    try:
        number = int("".join(str(int(c, 36)) for c in moved))
    except ValueError:
        return False
    return number % 97 == 1


@dataclass
class Redactor:
    """Replaces secrets in text; `counts` says how many of each kind it replaced so far."""

    extra_patterns: list[str] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._extra = []
        for p in self.extra_patterns:
            try:
                self._extra.append(re.compile(p))
            except re.error as exc:
                raise ConfigError(f"redact_patterns: {p!r} is not a valid regular expression ({exc})") from exc
        self._lock = threading.Lock()

    def redact_counting(self, text: str) -> tuple[str, int]:
        """Redacted text and how many replacements this call made (safe to call from several threads)."""
        with self._lock:
            before = sum(self.counts.values())
            text = self.redact(text)
            return text, sum(self.counts.values()) - before

    def report(self) -> dict:
        """Replacements so far, by kind, and in total (for status and the tray)."""
        return {"total": sum(self.counts.values()), **dict(self.counts)}

    def redact(self, text: str) -> str:
        """`text` with every secret replaced by a [REDACTED:kind] placeholder."""
        if not text:
            return text
        text = text.replace("\r\n", "\n")
        text = self._private_keys(text)
        text = _URL_CREDENTIALS.sub(lambda m: m.group(1) + self._hit("url_credentials") + m.group(3), text)
        for kind, pattern in _TOKENS:
            text = self._sub_extended(pattern, kind, text)
        text = self._sub_extended(_AUTHORIZATION, "token", text, value=2)
        text = self._sub_extended(_LABEL, "password", text, value="value", check=self._is_password)
        text = self._sub_extended(_HIGH_ENTROPY, "secret", text)
        text = _SSN_LABELLED.sub(lambda m: m.group(1) + m.group(2) + self._hit("ssn"), text)
        text = _CVV.sub(lambda m: m.group(1) + m.group(2) + self._hit("card"), text)
        # IBANs first: their checksum is strong, and their digits could otherwise pass a card's Luhn check.
        text = _IBAN.sub(lambda m: self._hit("iban") if iban_ok(m.group(0)) else m.group(0), text)
        text = self._cards(text)
        text = _SSN.sub(lambda m: self._hit("ssn"), text)
        text = _OTP.sub(lambda m: m.group(1) + self._hit("one_time_code"), text)
        text = _OTP_BARE.sub(lambda m: m.group(1) + self._hit("one_time_code"), text)
        for pattern in self._extra:
            text = pattern.sub(lambda m: self._hit("custom"), text)
        return text

    def finds(self, text: str) -> bool:
        """True when `text` holds anything redact() would replace (counts nothing)."""
        if not text:
            return False
        probe = Redactor.__new__(Redactor)
        probe._extra, probe.counts = self._extra, Counter()
        probe.redact(text)
        return bool(probe.counts)

    def _private_keys(self, text: str) -> str:
        out, pos = [], 0
        while (m := _KEY_HEADER.search(text, pos)) is not None:
            out.append(text[pos:m.start()])
            end = _KEY_FOOTER.search(text, m.end())
            if end is not None:
                pos = end.end()
            else:  # no END line: the block is the lines after the header that look like key material
                pos = m.end()
                while pos < len(text) and text[pos] == "\n":
                    nl = text.find("\n", pos + 1)
                    line_end = len(text) if nl < 0 else nl
                    if not _KEY_LINE.fullmatch(text, pos + 1, line_end):
                        break
                    pos = line_end
            out.append(self._hit("private_key"))
        out.append(text[pos:])
        return "".join(out)

    def _sub_extended(self, pattern: re.Pattern, kind: str, text: str, *, value=0, check=None) -> str:
        """Replace each match's group `value` (0: all of it) and what `_extend` says belongs to it."""
        out, pos = [], 0
        for m in pattern.finditer(text):
            if m.start() < pos:
                continue
            start = m.start(value)
            secret = text[start:m.end()]
            if secret.startswith(_PLACEHOLDER_START) or (check is not None and not check(m)):
                continue
            out.append(text[pos:start])
            out.append(self._hit(kind))
            pos = m.end() if secret[:1] in "\"'“‘`" else _extend(text, m.end())
        out.append(text[pos:])
        return "".join(out)

    @staticmethod
    def _is_password(m: re.Match) -> bool:
        value = _unquoted(m.group("value"))
        if value.startswith(_PLACEHOLDER_START):
            return False
        sep = m.group("sep")
        # "password reset", "the secret is not kept": no separator ("is" is not one) and not password-shaped
        # is ordinary text.
        has_separator = bool(re.sub(r"(?i)\bis\b", "", sep).strip()) or "\t" in sep
        return has_separator or bool(_LOOKS_LIKE_A_PASSWORD.match(value))

    def _cards(self, text: str) -> str:
        out, pos = [], 0
        for m in _DIGIT_RUN.finditer(text):
            spans = _card_spans(m.group(0))
            if not spans:
                continue
            for a, b in spans:
                if m.start() + a < pos:  # already consumed as the expiry/CVV after the card before
                    continue
                out.append(text[pos:m.start() + a])
                out.append(self._hit("card"))
                pos = m.start() + b
                pos = self._card_tail(text, pos, out)
        out.append(text[pos:])
        return "".join(out)

    def _card_tail(self, text: str, pos: int, out: list[str]) -> int:
        """Redact an expiry date and CVV written right after a card number; returns the new position."""
        for _ in range(2):
            t = _CARD_TAIL.match(text, pos)
            if t is None:
                break
            out.append(t.group("gap"))
            out.append(self._hit("card"))
            pos = t.end()
        return pos

    def _hit(self, kind: str) -> str:
        self.counts[kind] += 1
        return PLACEHOLDER.format(kind=kind)


def _card_spans(run: str) -> list[tuple[int, int]]:
    """Spans (offsets in `run`) of whole digit groups that form a 13-19 digit number passing Luhn, longest
    first and not overlapping: a card followed by a year ("4111 1111 1111 1111 2027") is still found."""
    groups = [(g.start(), g.end()) for g in re.finditer(r"\d+", run)]
    # Cards are written in groups of 4 (Amex 4-6-5; OCR may join two): runs of short numbers are not cards.
    found: list[tuple[int, int]] = []
    i = 0
    while i < len(groups):
        best = None
        for j in range(len(groups) - 1, i - 1, -1):
            parts = [run[a:b] for a, b in groups[i:j + 1]]
            if j > i and (len(parts[0]) < 4 or min(len(p) for p in parts) < 3):
                continue
            digits = "".join(parts)
            if 13 <= len(digits) <= 19 and (j > i or len(digits) in (13, 15, 16, 19)) and luhn_ok(digits):
                best = j
                break
        if best is None:
            i += 1
            continue
        found.append((groups[i][0], groups[best][1]))
        i = best + 1
    return found


def redact(text: str) -> str:
    """Redact with the built-in patterns only."""
    return Redactor().redact(text)


# Windows never captured, matched against the window title and the app name. Password managers, private
# browsing, lock screens and authentication prompts show exactly what must never reach the database or the model.
DEFAULT_EXCLUDED_WINDOWS = [
    "1Password", "Bitwarden", "KeePass", "LastPass", "Dashlane", "Enpass", "NordPass", "Proton Pass",
    "RoboForm", "Keeper Password", "Keychain Access", "Passwords and Keys", "Seahorse", "Password Safe",
    "KWallet", "kwalletmanager", "kwalletd", "gnome-secrets", "org.gnome.World.Secrets", "QtPass",
    "pinentry", "polkit", "Authentication Required", "gcr-prompter", "ssh-askpass", "ksshaskpass",
    "Private Browsing", "InPrivate", "Incognito", "Tor Browser",
    "Lock Screen", "LockApp", "loginwindow", "screensaver", "i3lock", "swaylock", "xsecurelock",
    "light-locker", "xlock",
]


def own_pids() -> set[int]:
    """gum's own processes: this one, and the tray that started it (GUM_TRAY_PID). Their windows (Memory,
    Settings, which shows a new token) are never captured."""
    pids = {os.getpid()}
    tray = os.environ.get("GUM_TRAY_PID", "")
    if tray.isdigit():
        pids.add(int(tray))
    return pids


@dataclass
class Exclusions:
    """Window-title and app-name patterns that must never be captured (case-insensitive), and processes whose
    windows are never captured (gum's own by default).

    A pattern with `*`, `?` or `[` is a glob over the whole title or app name; any other pattern matches
    anywhere inside either ("Incognito" matches "New Tab - Google Chrome (Incognito)").
    """

    patterns: list[str] = field(default_factory=list)
    defaults: bool = True
    pids: set[int] | None = None  # None: own_pids()

    def __post_init__(self) -> None:
        every = (DEFAULT_EXCLUDED_WINDOWS if self.defaults else []) + list(self.patterns)
        self._globs = [p.lower() for p in every if any(c in p for c in "*?[")]
        self._subs = [p.lower() for p in every if p.strip() and not any(c in p for c in "*?[")]
        if self.pids is None:
            self.pids = own_pids()

    def matches(self, app: str | None, title: str | None, pid: int | None = None) -> bool:
        """True if a window with this app name or title, or owned by this process, is excluded."""
        if pid is not None and pid in self.pids:
            return True
        for value in ((app or "").lower(), (title or "").lower()):
            if not value:
                continue
            if any(s in value for s in self._subs) or any(fnmatch.fnmatchcase(value, g) for g in self._globs):
                return True
        return False

    def window(self, win) -> bool:
        """True if this WindowInfo is excluded."""
        return win is not None and self.matches(win.app, win.title, getattr(win, "pid", None))


def remote_model(spec: str) -> str | None:
    """The host a model spec sends every observation to when it is not this machine (None: local)."""
    from urllib.parse import urlsplit

    if not spec.lower().startswith(("http://", "https://")):
        return None
    host = (urlsplit(spec).hostname or "").lower()
    if host in ("localhost", "::1") or host.startswith("127."):
        return None
    return host or spec
