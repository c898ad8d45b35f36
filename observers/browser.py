"""Browser history: the pages the user visited in Firefox and Chromium-family browsers, since the last read.

Off by default. Every `interval_minutes` it copies each profile's history database (Firefox `places.sqlite`,
Chromium/Chrome/Brave/Edge/Vivaldi `History`, with their -wal/-journal files) into a private temporary
folder, because the running browser keeps the original locked, and reads the visits added since the last
read. Each page becomes one observation: its title and its site's domain (never the address: no path, no
query string), how many times it was visited in this read and in total, and the time on page where the
browser records it (Chromium's visit duration; Firefox's page metadata: view time, key presses, scrolling).

A visited page is cheap, strong evidence of engagement: the user chose to open it (a link, a typed address,
a bookmark) and stayed for the recorded time, so the observation carries that as meta["engagement"].

Never stored: pages of the sensitive domains below (banking, health portals, password managers, adult sites)
and of the user's `exclude_domains`; pages whose title matches the window exclusions (`exclude_windows`);
anything that is not http(s). Private windows never reach the history files at all.
"""

from __future__ import annotations

import fnmatch
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

from gum.privacy import Exclusions
from gum.records import Observation, utcnow

from .base import Observer
from .state import ObserverState, digest

# Sites whose page titles say what no one wants kept: money, health, passwords, sex. Globs match the whole
# domain; a plain entry matches the domain and its subdomains.
SENSITIVE_DOMAINS = [
    # banking, payments, brokerage
    "*bank*", "*banking*", "paypal.com", "chase.com", "wellsfargo.com", "capitalone.com", "americanexpress.com",
    "citi.com", "hsbc.*", "*.hsbc.*", "barclays.*", "santander.*", "revolut.com", "monzo.com", "n26.com",
    "wise.com", "schwab.com", "fidelity.com", "vanguard.com", "etrade.com", "robinhood.com", "coinbase.com",
    "kraken.com", "binance.com", "ing.*", "*.ing.*", "bunq.com", "klarna.com", "venmo.com", "intuit.com",
    # health portals
    "mychart.*", "*.mychart.*", "*mychart*", "*patient*", "kp.org", "kaiserpermanente.org", "doctolib.*",
    "zocdoc.com", "healthvault.com", "teladoc.com", "betterhelp.com", "talkspace.com", "goodrx.com",
    "myhealth.*", "*.nhs.uk", "23andme.com", "ancestry.com",
    # password managers and sign-in pages
    "1password.com", "bitwarden.com", "vault.bitwarden.com", "lastpass.com", "dashlane.com",
    "keepersecurity.com", "nordpass.com", "pass.proton.me", "accounts.google.com", "login.microsoftonline.com",
    "login.live.com", "appleid.apple.com",
    # adult sites
    "pornhub.com", "xvideos.com", "xnxx.com", "xhamster.com", "redtube.com", "youporn.com", "onlyfans.com",
    "chaturbate.com", "stripchat.com", "*porn*", "*xxx*",
]

_FIREFOX_SKIP = {4, 5, 6, 8}  # embed, permanent and temporary redirect sources, framed link
_FIREFOX_CHOSEN = {1, 2, 3}  # link, typed, bookmark: the user opened the page
_CHROMIUM_SUBFRAME = {3, 4}
_CHROMIUM_CHOSEN = {0, 1, 2, 7, 9}  # link, typed, bookmark, form submit, keyword (a search)
_CHROMIUM_CHAIN_END = 0x20000000  # the page a redirect chain ended on (the one the user saw)
_CHROMIUM_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)
BOUNCE_S = 10.0  # a page left within this many seconds was a glance (a mis-click, an ad), not a choice


@dataclass
class Visit:
    """One page visit as read from a history file, in gum's terms."""

    visit_id: int
    ts: datetime
    url: str
    title: str
    total_visits: int
    chosen: bool
    dwell_s: float = 0.0
    keys: int = 0
    scrolled: bool = False


@dataclass
class Profile:
    """One history database: which browser, where, and a label for the observations."""

    browser: str  # firefox | chromium
    path: Path
    label: str = ""
    app: str = field(default="")

    @property
    def key(self) -> str:
        return digest(self.browser, str(self.path))


def discover(home: Path | None = None) -> list[Profile]:
    """The history databases of the user's Firefox and Chromium-family profiles on this machine."""
    home = home or Path.home()
    found: list[Profile] = []
    ff_roots = [".mozilla/firefox", "snap/firefox/common/.mozilla/firefox", ".var/app/org.mozilla.firefox/.mozilla/firefox",
                "Library/Application Support/Firefox/Profiles"]
    for root in ff_roots:
        for db in sorted((home / root).glob("*/places.sqlite")):
            found.append(Profile("firefox", db, f"Firefox ({db.parent.name})", "Firefox"))
    chromium_roots = {
        ".config/chromium": "Chromium", "snap/chromium/common/chromium": "Chromium",
        ".config/google-chrome": "Google Chrome", ".config/google-chrome-beta": "Google Chrome",
        ".config/BraveSoftware/Brave-Browser": "Brave", ".config/microsoft-edge": "Microsoft Edge",
        ".config/vivaldi": "Vivaldi", ".var/app/org.chromium.Chromium/config/chromium": "Chromium",
        "Library/Application Support/Google/Chrome": "Google Chrome",
        "Library/Application Support/Chromium": "Chromium",
        "Library/Application Support/BraveSoftware/Brave-Browser": "Brave",
    }
    for root, app in chromium_roots.items():
        for db in sorted((home / root).glob("*/History")):
            found.append(Profile("chromium", db, f"{app} ({db.parent.name})", app))
    return found


def profile_for(path: str) -> Profile:
    """A Profile for a path the user gave: a history file, or a profile folder holding one."""
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "places.sqlite" if (p / "places.sqlite").exists() else p / "History"
    browser = "firefox" if p.name == "places.sqlite" else "chromium"
    app = "Firefox" if browser == "firefox" else "Chromium"
    return Profile(browser, p, f"{app} ({p.parent.name})", app)


def domain_of(url: str) -> str | None:
    """The host of an http(s) address, without 'www.'; None for anything else (file:, about:, extensions)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    return host.removeprefix("www.")


class DomainFilter:
    """Which domains are never stored: the sensitive defaults (unless turned off) and the user's own list."""

    def __init__(self, extra: list[str] = (), defaults: bool = True):
        entries = (SENSITIVE_DOMAINS if defaults else []) + [e.strip().lower() for e in extra if e.strip()]
        self.globs = [e for e in entries if any(c in e for c in "*?[")]
        self.plain = [e.removeprefix("www.") for e in entries if not any(c in e for c in "*?[")]

    def blocked(self, domain: str) -> bool:
        if any(domain == p or domain.endswith("." + p) for p in self.plain):
            return True
        return any(fnmatch.fnmatchcase(domain, g) for g in self.globs)


class BrowserHistory(Observer):
    """Emits one observation per page visited since the last read, from copies of the browsers' history files."""

    name = "browser"

    def __init__(self, *, profiles: list[str] | None = None, interval_minutes: float = 5.0,
                 first_read_hours: float = 24.0, exclude_domains: list[str] | None = None,
                 sensitive_defaults: bool = True, exclusions: Exclusions | None = None,
                 max_per_read: int = 100, state_path: str | None = None, home: str | None = None):
        super().__init__()
        self.interval = max(10.0, float(interval_minutes) * 60)
        self.first_read = timedelta(hours=float(first_read_hours))
        self.domains = DomainFilter(exclude_domains or [], defaults=sensitive_defaults)
        self.exclusions = exclusions or Exclusions()
        self.max_per_read = int(max_per_read)
        self._given = [str(p) for p in (profiles or [])]
        self._home = Path(home).expanduser() if home else None
        self._state_path = Path(state_path) if state_path else None
        self.profiles: list[Profile] = []
        self.state: ObserverState | None = None
        self.skipped = 0

    def start(self) -> None:
        self.state = ObserverState(self.name, self._state_path)
        self.state.data.setdefault("profiles", {})
        self.profiles = [profile_for(p) for p in self._given] if self._given else discover(self._home)
        if not self.profiles:
            self.fail("unsupported here: no browser profiles found (set [plugins.browser] profiles = [...])")
        else:
            self.ok(f"{len(self.profiles)} profile(s), waiting for the first read")

    def tick(self) -> None:
        if self.paused() or self.state is None or not self.profiles:
            return
        problems, pages = [], 0
        for profile in self.profiles:
            try:
                pages += self._read_profile(profile)
            except (OSError, sqlite3.Error) as exc:
                problems.append(f"{profile.label}: {exc.__class__.__name__}: {exc}")
        self.state.save()
        if problems:
            self.fail("; ".join(problems)[:500])
        else:
            self.ok(f"{len(self.profiles)} profile(s), {pages} page(s) this read, {self.skipped} excluded so far")

    # -- one profile --------------------------------------------------------------------------------

    def _read_profile(self, profile: Profile) -> int:
        if not profile.path.exists():
            raise FileNotFoundError(f"{profile.path} is gone")
        seen = self.state.data["profiles"].setdefault(profile.key, {})
        visits = self._visits(profile, seen)
        if not visits:
            return 0
        seen["last_id"] = max(v.visit_id for v in visits)
        pages: dict[tuple[str, str], list[Visit]] = {}
        for v in visits:
            domain = domain_of(v.url)
            if domain is None:
                continue
            if self.domains.blocked(domain) or self.exclusions.matches("", v.title):
                self.skipped += 1
                continue
            pages.setdefault((domain, v.title or domain), []).append(v)
        emitted = 0
        for (domain, title), group in sorted(pages.items(), key=lambda kv: kv[1][0].ts)[: self.max_per_read]:
            self.emit(self._observation(profile, domain, title, group))
            emitted += 1
        return emitted

    def _visits(self, profile: Profile, seen: dict) -> list[Visit]:
        """Visits after the last one read, from a private copy of the database (the browser holds a lock)."""
        with tempfile.TemporaryDirectory(prefix="gum-history-") as tmp:
            copy = Path(tmp) / profile.path.name
            shutil.copyfile(profile.path, copy)
            for suffix in ("-wal", "-journal"):  # recent visits live in the WAL until the browser checkpoints
                side = profile.path.with_name(profile.path.name + suffix)
                if side.exists():
                    shutil.copyfile(side, copy.with_name(copy.name + suffix))
            db = sqlite3.connect(copy)
            try:
                reader = _read_firefox if profile.browser == "firefox" else _read_chromium
                last_id = seen.get("last_id")
                table = "moz_historyvisits" if profile.browser == "firefox" else "visits"
                newest = db.execute(f"SELECT MAX(id) FROM {table}").fetchone()[0] or 0
                if last_id is not None and newest < last_id:
                    last_id = None  # history cleared or the profile replaced: read it as new
                since = utcnow() - self.first_read if last_id is None else None
                return reader(db, last_id or 0, since)
            finally:
                db.close()

    def _observation(self, profile: Profile, domain: str, title: str, group: list[Visit]) -> Observation:
        first, last = group[0], group[-1]
        dwell = sum(v.dwell_s for v in group)
        # Opening a page is a click unless the browser measured the user leaving it at once.
        bounced = 0 < dwell < BOUNCE_S
        chosen = 0 if bounced else sum(1 for v in group if v.chosen)
        keys = sum(v.keys for v in group)
        # Worded for a small model: "Visits: 6" came back as "viewed by 6 people".
        times = "once" if len(group) == 1 else f"{len(group)} times"
        lines = [f"Visited in {profile.app}: {title}", f"Site: {domain}",
                 f"Visited {times} since the last read ({last.total_visits} in all)"]
        if dwell >= 1:
            lines.append(f"Time on page: {_duration(dwell)}")
        meta = {
            "browser": {"domain": domain, "visits": len(group), "total_visits": last.total_visits,
                        "profile": profile.label},
            # What the browser saw the user do: opening the page counts as a click, its view time as dwell.
            "engagement": {"keys": keys, "clicks": chosen, "scrolls": int(any(v.scrolled for v in group)),
                           "dwell_s": round(dwell)},
        }
        if bounced:
            # Stored as evidence, not read by the model: a page left within seconds says nothing about
            # the user (the small model still made "visited a cruise site" a claim from one).
            meta["queue"] = False
        return Observation(observer="browser", app=profile.app, window=title, text="\n".join(lines),
                           ts=first.ts, ts_end=first.ts + timedelta(seconds=dwell) if dwell else None, meta=meta)


def _read_firefox(db: sqlite3.Connection, last_id: int, since: datetime | None) -> list[Visit]:
    # visit_date is microseconds since the Unix epoch. moz_places_metadata (Firefox 90+) records view time
    # (ms), key presses and scrolling per page load; older profiles lack it.
    where, args = ("v.id > ?", [last_id]) if since is None else ("v.visit_date >= ?", [int(since.timestamp() * 1e6)])
    rows = db.execute(
        f"SELECT v.id, v.visit_date, v.visit_type, p.url, p.title, p.visit_count, p.hidden, p.id "
        f"FROM moz_historyvisits v JOIN moz_places p ON p.id = v.place_id WHERE {where} ORDER BY v.id",
        args,
    ).fetchall()
    meta = {}
    has_meta = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'moz_places_metadata'").fetchone()
    if has_meta and rows:
        start = min(r[1] for r in rows) // 1000 - 60_000  # created_at is in milliseconds
        for place_id, view_ms, keys, scroll_ms in db.execute(
            "SELECT place_id, SUM(total_view_time), SUM(key_presses), SUM(scrolling_time) "
            "FROM moz_places_metadata WHERE created_at >= ? GROUP BY place_id", [start]
        ):
            meta[place_id] = (view_ms or 0, keys or 0, scroll_ms or 0)
    out, claimed = [], set()
    for vid, when, vtype, url, title, total, hidden, place_id in rows:
        if vtype in _FIREFOX_SKIP or hidden:
            continue
        view_ms, keys, scroll_ms = meta.get(place_id, (0, 0, 0)) if place_id not in claimed else (0, 0, 0)
        claimed.add(place_id)  # the page's metadata is counted once, on its first visit of this read
        out.append(Visit(vid, datetime.fromtimestamp(when / 1e6, timezone.utc), url, title or "", total or 0,
                         vtype in _FIREFOX_CHOSEN, view_ms / 1000, int(keys), scroll_ms > 0))
    return out


def _read_chromium(db: sqlite3.Connection, last_id: int, since: datetime | None) -> list[Visit]:
    # visit_time and visit_duration are microseconds; visit_time counts from 1601-01-01 UTC (Windows epoch).
    if since is None:
        where, args = "v.id > ?", [last_id]
    else:
        where, args = "v.visit_time >= ?", [int((since - _CHROMIUM_EPOCH).total_seconds() * 1e6)]
    rows = db.execute(
        f"SELECT v.id, v.visit_time, v.transition, v.visit_duration, u.url, u.title, u.visit_count, u.hidden "
        f"FROM visits v JOIN urls u ON u.id = v.url WHERE {where} ORDER BY v.id",
        args,
    ).fetchall()
    out = []
    for vid, when, transition, duration, url, title, total, hidden in rows:
        core = transition & 0xFF
        if core in _CHROMIUM_SUBFRAME or not transition & _CHROMIUM_CHAIN_END or hidden:
            continue  # a frame inside a page, or a page that redirected away before the user saw it
        ts = _CHROMIUM_EPOCH + timedelta(microseconds=when)
        out.append(Visit(vid, ts, url, title or "", total or 0, core in _CHROMIUM_CHOSEN, (duration or 0) / 1e6))
    return out


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"

