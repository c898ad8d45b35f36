"""Privacy before storage: secrets are redacted from text and window titles before anything is stored.

Redacted: payment card numbers (that pass the Luhn check), API keys and tokens in common formats, private key
blocks, IBANs (checksum verified), and the value after "password:"-like labels. More patterns can be added in
config.toml (`redact_patterns`, regular expressions). Each replacement is counted, by kind.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

PLACEHOLDER = "[REDACTED:{kind}]"

_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S
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
        self._extra = [re.compile(p) for p in self.extra_patterns]

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
