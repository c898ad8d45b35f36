"""Privacy before storage: secrets are redacted from text and window titles before anything is stored.

Redacted: payment card numbers (that pass the Luhn check), API keys and tokens in common formats, private key
blocks, IBANs (checksum verified), and the value after "password:"-like labels. More patterns can be added in
config.toml (`redact_patterns`, regular expressions). Each replacement is counted, by kind.

Excluded windows (password managers, private browser windows, the lock screen, and the user's own
`exclude_windows` patterns) are never captured: `Exclusions.matches(app, title)` decides.
"""

from __future__ import annotations

import fnmatch
import re
import threading
from collections import Counter
from dataclasses import dataclass, field

from .errors import ConfigError

PLACEHOLDER = "[REDACTED:{kind}]"

_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.DOTALL
)
_TOKENS = [
    ("api_key", re.compile(r"\bsk-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_-]{16,}")),
    ("api_key", re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}")),
    ("api_key", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    ("api_key", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("api_key", re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")),
    ("api_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("api_key", re.compile(r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}")),
    ("api_key", re.compile(r"\bhf_[A-Za-z0-9]{30,}")),
    ("token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("token", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{20,}")),
]
_PASSWORD = re.compile(
    r"(?i)\b(pass(?:word|wd|phrase)?|pwd|secret|api[_ -]?key|access[_ -]?token|client[_ -]?secret|pin)"
    r"(\s*[:=]\s*)(\S+)"
)


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
    s = candidate.replace(" ", "")
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
        if not text:
            return text
        text = _PRIVATE_KEY.sub(lambda m: self._hit("private_key"), text)
        for kind, pattern in _TOKENS:
            text = pattern.sub(lambda m, k=kind: self._hit(k), text)
        text = _PASSWORD.sub(lambda m: m.group(1) + m.group(2) + self._hit("password"), text)
        text = _CARD.sub(self._card, text)
        text = _IBAN.sub(lambda m: self._hit("iban") if iban_ok(m.group(0)) else m.group(0), text)
        for pattern in self._extra:
            text = pattern.sub(lambda m: self._hit("custom"), text)
        return text

    def _card(self, m: re.Match) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            return self._hit("card")
        return m.group(0)

    def _hit(self, kind: str) -> str:
        self.counts[kind] += 1
        return PLACEHOLDER.format(kind=kind)


def redact(text: str) -> str:
    """Redact with the built-in patterns only."""
    return Redactor().redact(text)


# Windows never captured, matched against the window title and the app name. Password managers, private
# browsing, and lock screens show exactly what must never reach the database or the model.
DEFAULT_EXCLUDED_WINDOWS = [
    "1Password", "Bitwarden", "KeePass", "LastPass", "Dashlane", "Enpass", "NordPass", "Proton Pass",
    "RoboForm", "Keeper Password", "Keychain Access", "Passwords and Keys", "Seahorse", "Password Safe",
    "Private Browsing", "InPrivate", "Incognito", "Tor Browser",
    "Lock Screen", "LockApp", "loginwindow", "screensaver", "i3lock", "swaylock", "xsecurelock",
    "light-locker", "xlock",
]


@dataclass
class Exclusions:
    """Window-title and app-name patterns that must never be captured (case-insensitive).

    A pattern with `*`, `?` or `[` is a glob over the whole title or app name; any other pattern matches
    anywhere inside either ("Incognito" matches "New Tab - Google Chrome (Incognito)").
    """

    patterns: list[str] = field(default_factory=list)
    defaults: bool = True

    def __post_init__(self) -> None:
        every = (DEFAULT_EXCLUDED_WINDOWS if self.defaults else []) + list(self.patterns)
        self._globs = [p.lower() for p in every if any(c in p for c in "*?[")]
        self._subs = [p.lower() for p in every if p.strip() and not any(c in p for c in "*?[")]

    def matches(self, app: str | None, title: str | None) -> bool:
        """True if a window with this app name or title is excluded."""
        for value in ((app or "").lower(), (title or "").lower()):
            if not value:
                continue
            if any(s in value for s in self._subs) or any(fnmatch.fnmatchcase(value, g) for g in self._globs):
                return True
        return False
