"""A scripted day at the desk on a real X desktop, and gum agents watching it (`gum start`).

The desktop: Xvfb at 1920x1080 with openbox, and real Debian apps run as an unprivileged user (root's
Mousepad shows a red "root account" banner that OCR reads as content, and root's Chromium needs
--no-sandbox, whose warning bar is read too): Chromium on the project's own pages (tests/bench/desk/,
served from a loopback HTTP server), Mousepad with a document being written, xterm running commands.

The session (`work`): mail, a docs page, writing, a terminal, a chat reply, a news article read at length,
an away gap, shopping, a job posting, glances at another window or tab, revisits of pages already read.
Input is xdotool: real key presses, clicks and wheel events through the X server, which gum's input
observer counts like a person's.

Used by tests/bench/bench_desk.py (the benchmark) and tests/test_desk_x11.py (its one-minute version).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAGES = HERE / "desk"
sys.path.insert(0, str(HERE.parent))  # tests/, for xdisplay

import xdisplay

DESK_USER = "gumdesk"
APPS = ("Xvfb", "openbox", "chromium", "mousepad", "xterm", "xdotool", "tesseract")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def missing_apps() -> list[str]:
    """The programs the desk session needs that are not installed (packaging/debian-packages.txt has them)."""
    need = list(APPS) + (["xhost"] if os.geteuid() == 0 else [])
    return [b for b in need if not shutil.which(b)]


# -- the desktop ---------------------------------------------------------------------------------------

DOCUMENT = "postmortem-checkout-rate-limit.md"
DOCUMENT_START = "# Postmortem: checkout rate limiting, 30 November\n\n"
PROJECT_FILES = {
    "limiter.py": (
        '"""Token bucket rate limiter for checkout-api, backed by Redis."""\n\n'
        "BURST = 50\nRATE_PER_S = 20\n\n\n"
        "def allow(redis, client_id, now):\n"
        "    return redis.evalsha(SCRIPT_SHA, 1, f'bucket:{client_id}', now, RATE_PER_S, BURST) == 1\n"
    ),
    "config.yaml": "checkout:\n  burst: 50\n  rate_per_s: 20\n  redis: redis://10.0.4.12:6379/2\n",
    "README.md": "# fernway-ratelimit\n\nShared rate limiting for Fernway's public APIs.\n",
    "selftest.sh": "#!/bin/sh\necho 'limiter selftest: 12 passed, 0 failed (burst 50, rate 20/s)'\n",
}


@dataclass
class Desk:
    """Xvfb + openbox + Chromium, Mousepad and xterm run as an unprivileged user; pages on loopback."""

    user: str = DESK_USER
    display: xdisplay.XDisplay | None = None
    url: str = ""
    wids: dict = field(default_factory=dict)
    procs: list = field(default_factory=list)
    _server: http.server.ThreadingHTTPServer | None = None
    _tmp: Path | None = None

    def start(self) -> Desk:
        self.display = xdisplay.XDisplay("1920x1080x24")
        self._tmp = Path(tempfile.mkdtemp(prefix="gum-desk-"))
        self.procs.append(subprocess.Popen(["openbox"], env=self.display.env, start_new_session=True,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self._serve_pages()
        account = self._account()
        home = Path(account.pw_dir)
        project = home / "fernway-ratelimit"
        shutil.rmtree(project, ignore_errors=True)
        project.mkdir(parents=True)
        for name, text in PROJECT_FILES.items():
            (project / name).write_text(text)
        (project / "selftest.sh").chmod(0o755)
        (home / DOCUMENT).write_text(DOCUMENT_START)
        config = self._tmp / "config"  # fresh app settings: no restored sessions, no first-run wizards
        chrome = self._tmp / "chromium"
        for d in (config, chrome):
            d.mkdir()
        for path in [project, *project.iterdir(), home / DOCUMENT, config, chrome]:
            os.chown(path, account.pw_uid, account.pw_gid)
        os.chown(self._tmp, account.pw_uid, account.pw_gid)
        env = {"DISPLAY": self.display.name, "HOME": str(home), "USER": account.pw_name,
               "LOGNAME": account.pw_name, "SHELL": "/bin/bash", "PATH": "/usr/local/bin:/usr/bin:/bin",
               "LANG": "C.UTF-8", "XDG_CONFIG_HOME": str(config), "XDG_CACHE_HOME": str(self._tmp / "cache"),
               "NO_AT_BRIDGE": "1"}
        sandbox = ["--no-sandbox"] if account.pw_uid == 0 else []
        self._launch(account, env, home, "chromium", [
            "chromium", *sandbox, f"--user-data-dir={chrome}", "--no-first-run", "--no-default-browser-check",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-features=Translate,MediaRouter,OptimizationHints",
            "--password-store=basic", "--disable-gpu", "--window-position=0,0", "--window-size=1920,1050",
            f"{self.url}/inbox.html"])
        self._launch(account, env, home, "mousepad", ["mousepad", str(home / DOCUMENT)])
        self._launch(account, env, home, "xterm", [
            "xterm", "-fa", "DejaVu Sans Mono", "-fs", "13", "-geometry", "120x36+140+80",
            "-title", f"{account.pw_name}@desk: ~/fernway-ratelimit", "-e", "bash", "-c",
            f"cd {project} && exec bash -i"])
        for app, pattern in (("chromium", "Chromium"), ("mousepad", "Mousepad"), ("xterm", "fernway-ratelimit")):
            self.wids[app] = self._wait_window(app, pattern)
        self.xdotool("windowsize", self.wids["mousepad"], "1500", "940")
        self.xdotool("windowmove", self.wids["mousepad"], "210", "60")
        self.focus("chromium")
        time.sleep(3)  # the first page paints
        return self

    def _wait_window(self, app: str, pattern: str, timeout: float = 90.0) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", pattern], env=self.display.env,
                                   capture_output=True, text=True, check=False).stdout.split()
            if found:
                return found[0]
            time.sleep(0.5)
        log = (self._tmp / f"{app}.log").read_text(errors="replace")[-1500:]
        raise RuntimeError(f"{app} showed no window within {timeout:.0f} s; its log ends:\n{log}")

    def _account(self) -> pwd.struct_passwd:
        """The user the apps run as: DESK_USER (created, and allowed on the display) when we are root."""
        if os.geteuid() != 0:
            return pwd.getpwuid(os.geteuid())
        try:
            account = pwd.getpwnam(self.user)
        except KeyError:
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", self.user], check=True)
            account = pwd.getpwnam(self.user)
        subprocess.run(["xhost", f"+SI:localuser:{self.user}"], env=self.display.env, check=True,
                       capture_output=True)
        return account

    def _launch(self, account, env: dict, home: Path, name: str, argv: list[str]) -> None:
        log = open(self._tmp / f"{name}.log", "wb")  # noqa: SIM115 - kept open for the app's life
        kwargs = {}
        if account.pw_uid != os.geteuid():
            kwargs = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        self.procs.append(subprocess.Popen(argv, env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, start_new_session=True, **kwargs))

    def _serve_pages(self) -> None:
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        handler = functools.partial(Quiet, directory=str(PAGES))
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, name="desk-pages", daemon=True).start()

    # -- input, as a person gives it -------------------------------------------------------------------

    def xdotool(self, *args: str) -> str:
        return subprocess.run(["xdotool", *args], env=self.display.env, check=True, capture_output=True,
                              text=True, timeout=120).stdout

    def focus(self, app: str) -> None:
        self.xdotool("windowactivate", "--sync", self.wids[app])

    def active_title(self) -> str:
        return self.xdotool("getactivewindow", "getwindowname").strip()

    def key(self, *keys: str) -> None:
        self.xdotool("key", "--clearmodifiers", *keys)

    def type(self, text: str, delay_ms: int = 75) -> None:
        """Type `text` at a typist's pace, a phrase at a time (people pause between phrases)."""
        for i, line in enumerate(text.split("\n")):
            if i:
                self.key("Return")
            if line:
                self.xdotool("type", "--delay", str(delay_ms), "--", line)

    def scroll(self, notches: int, at: tuple[int, int] = (960, 620)) -> None:
        self.xdotool("mousemove", str(at[0]), str(at[1]))
        for _ in range(abs(notches)):
            self.xdotool("click", "5" if notches > 0 else "4")
            time.sleep(0.15)

    def click(self, at: tuple[int, int]) -> None:
        self.xdotool("mousemove", str(at[0]), str(at[1]), "click", "1")

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)  # the app and its helpers (Chromium's renderers)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        self.procs = []
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self.display is not None:
            self.display.stop()
            self.display = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


# -- the session ---------------------------------------------------------------------------------------

WRITING = [
    ("## Summary\nOn 30 November between 18:05 and 18:40 checkout-api refused about 9% of requests with HTTP "
     "429. A marketing push sent four times the usual peak, and the token bucket burst of 50 was far too small."),
    ("## Timeline\n18:05 the campaign email goes out. 18:09 PagerDuty pages on p99 latency above 800 ms. "
     "18:21 Rui raises the burst to 200 by hand. 18:40 the 429 rate is back under 0.1%."),
    ("## What we change\nMove the limiter into one Lua script so the two API nodes stop racing. "
     "Size the burst from measured p99 under load, not from a guess."),
    "## Follow-ups\nInes reviews by Thursday. I present this at the ops review and in my DevOpsDays Berlin talk.",
]
COMMANDS = ["ls -l", "cat config.yaml", "grep -n BURST limiter.py", "git status 2>/dev/null || echo 'not a git repo yet'"]
CHAT_REPLY = "Draft is almost done, I will present it on Thursday. Burst goes to 200 for now."


class SessionOver(Exception):
    """The session's time is up."""


@dataclass
class Session:
    """The clock and the log of one scripted session; pauses are scaled by `scale` (1.0: 10 minutes)."""

    desk: Desk
    minutes: float = 10.0
    log: list = field(default_factory=list)
    started: float = 0.0
    away_s: float = 0.0
    short: bool = False

    @property
    def scale(self) -> float:
        return min(1.0, self.minutes / 10.0)

    def note(self, what: str) -> None:
        self.log.append((round(time.monotonic() - self.started, 1), what))

    def left(self) -> float:
        return self.started + self.minutes * 60 - time.monotonic()

    def check(self) -> None:
        if self.left() <= 0:
            raise SessionOver

    def read(self, seconds: float) -> None:
        """A still screen: the user reads (no input at all)."""
        self.check()
        time.sleep(max(0.5, min(seconds * self.scale, self.left())))

    def away(self, seconds: float) -> None:
        self.check()
        took = max(1.0, min(seconds * self.scale, self.left()))
        self.note(f"away {took:.0f} s")
        time.sleep(took)
        self.away_s += took

    def browse(self, page: str, *, new_tab: bool = False) -> None:
        self.check()
        self.desk.focus("chromium")
        if new_tab:
            self.desk.key("ctrl+t")
            time.sleep(1.0)  # the new tab page takes the focus a moment later; typed keys would go missing
        self.desk.key("ctrl+l")
        time.sleep(0.3)
        self.desk.type(f"{self.desk.url}/{page}", delay_ms=12)
        self.desk.key("Return")
        time.sleep(1.2)
        self.desk.click((1500, 700))  # into the page, as a reader does before scrolling
        self.note(f"browse {page}{' (new tab)' if new_tab else ''}")

    def tab(self, n: int) -> None:
        self.check()
        self.desk.focus("chromium")
        self.desk.key(f"ctrl+{n}")
        self.note(f"tab {n}")

    def switch(self, app: str) -> None:
        self.check()
        self.desk.focus(app)
        self.note(f"switch to {app}")

    def glance(self, app: str, seconds: float, back: str) -> None:
        """A few seconds on another window, no input, then back."""
        self.check()
        self.desk.focus(app)
        self.note(f"glance at {app}")
        time.sleep(max(1.5, seconds * max(self.scale, 0.5)))
        self.desk.focus(back)

    def write(self, text: str) -> None:
        self.check()
        if self.short:
            text = text.split(". ")[0] + "."
        self.desk.type(text + "\n\n")
        self.note(f"typed {len(text)} characters")

    def command(self, cmd: str) -> None:
        self.check()
        self.desk.type(cmd + "\n", delay_ms=60)
        self.note(f"ran {cmd!r}")


def work(s: Session) -> None:
    """The session's script: what a morning at the desk looks like, compressed (scaled by s.scale)."""
    d = s.desk
    # Mail first: the inbox, moving down the list, then one message read in full.
    s.tab(1)
    s.read(20)
    d.key("j")
    time.sleep(1)
    d.key("j")
    s.read(10)
    d.key("k", "k", "Return")
    s.note("open the Berlin registration email")
    s.read(30)
    s.browse("inbox.html?unread=2")
    s.read(8)
    # Docs in a new tab, read in steps.
    s.browse("docs-rate-limiting.html", new_tab=True)
    s.read(15)
    d.scroll(4)
    s.read(15)
    d.scroll(4)
    s.read(10)
    # Writing the postmortem, with a glance at the terminal in between.
    s.switch("mousepad")
    d.key("ctrl+End")
    s.write(WRITING[0])
    s.read(6)
    s.write(WRITING[1])
    s.glance("xterm", 3, back="mousepad")
    s.write(WRITING[2])
    d.key("ctrl+s")
    s.note("saved the document")
    # The terminal.
    s.switch("xterm")
    for cmd in COMMANDS if not s.short else COMMANDS[:2]:
        s.command(cmd)
        s.read(8)
    # The team chat: read, reply.
    s.browse("chat-platform.html", new_tab=True)
    s.read(15)
    d.click((500, 366))  # into the message box
    s.write(CHAT_REPLY)
    s.read(10)
    # A long read: a still screen.
    s.browse("news-rail-strike.html", new_tab=True)
    s.read(25)
    d.scroll(3)
    s.read(25)
    # Away from the desk.
    s.away(100)
    # Shopping, a job posting.
    s.browse("shop-headphones.html", new_tab=True)
    s.read(12)
    d.scroll(2)
    d.key("a")
    s.note("added to cart")
    s.read(10)
    s.browse("job-kestrel.html", new_tab=True)
    s.read(20)
    d.scroll(3)
    s.read(15)
    # A glance at the chat tab, then back to the docs page read earlier (a revisit).
    s.tab(3)
    s.note("glance at the chat tab")
    time.sleep(3)
    s.tab(2)
    s.read(20)
    # Back to writing; the self-test; the inbox again.
    s.switch("mousepad")
    s.write(WRITING[3])
    d.key("ctrl+s")
    s.read(8)
    s.switch("xterm")
    s.command("./selftest.sh")
    s.read(10)
    s.tab(1)
    s.read(12)


def run_session(desk: Desk, minutes: float) -> Session:
    """Run the script for `minutes` (shorter sessions scale its pauses and shorten what is typed; longer
    ones repeat it: the second round revisits the same pages and writes more). Returns its log."""
    s = Session(desk, minutes=minutes, short=minutes < 3)
    s.started = time.monotonic()
    try:
        while s.left() > 20:
            work(s)
            s.note("round done")
        if s.left() > 0:
            s.read(s.left() / s.scale)  # read on until the end
    except SessionOver:
        pass
    s.note("session over")
    return s


# -- a gum agent watching the desk ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proc_cpu(pid: int) -> float:
    """CPU seconds of a process, its reaped children (tesseract runs) and its live descendants."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += sum(int(x) for x in fields[11:15]) / CLK_TCK  # utime stime cutime cstime
    except (OSError, IndexError):
        return 0.0
    for child in _descendants(pid):
        try:
            f = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12])) / CLK_TCK
        except (OSError, IndexError):
            pass
    return total


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for c in parents.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class AgentProcess:
    """`gum start` in its own data, config and key folders, on its own API port, watching `display`."""

    name: str
    root: Path
    display: str
    env_extra: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    port: int = 0
    token: str = ""
    peak_rss: float = 0.0
    last_cpu: float = 0.0

    @property
    def env(self) -> dict:
        return {
            "GUM_DATA_DIR": str(self.root / "data"),
            "GUM_CONFIG_DIR": str(self.root / "config"),
            "GUM_KEY_STORE": "file",
            "GUM_KEY_FILE": str(self.root / "keys" / "master.key"),
            **({"GUM_API_PORT": str(self.port)} if self.port else {}),
            **{k: str(v) for k, v in self.env_extra.items()},
        }

    def start(self) -> AgentProcess:
        (self.root / "config").mkdir(parents=True, exist_ok=True)
        if self.config:
            (self.root / "config" / "config.toml").write_text(
                "".join(f"{k} = {json.dumps(v)}\n" for k, v in self.config.items()))
        self.port = free_port()
        self.token = "desk-" + secrets.token_urlsafe(24)
        # The admin token goes to the agent the way the tray's does: a 0600 file, never the environment.
        token_file = self.root / "tray.token"
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.token + "\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GUM_")}
        # No OMP_THREAD_LIMIT: gum gives tesseract one thread itself, and the model its own count (as installed).
        env.pop("OMP_THREAD_LIMIT", None)
        env.update(self.env, DISPLAY=self.display, GUM_TRAY_TOKEN_FILE=str(token_file))
        env.pop("WAYLAND_DISPLAY", None)
        gum = Path(sys.executable).with_name("gum")
        argv = [str(gum), "start"] if gum.exists() else [sys.executable, "-m", "gum.cli", "start"]
        self.log_path = self.root / "agent.log"
        self.proc = subprocess.Popen(argv, env=env, stdout=open(self.log_path, "wb"),  # noqa: SIM115
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    def wait_ready(self, timeout: float = 60.0) -> dict:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"agent {self.name} exited: {self.log_path.read_text()[-2000:]}")
            status = self.status()
            if status is not None:
                return status
            time.sleep(0.5)
        raise RuntimeError(f"agent {self.name} did not answer on port {self.port} within {timeout:.0f} s")

    def status(self) -> dict | None:
        """GET /v1/status with the agent's admin (tray) token; None while it does not answer."""
        from gum.api.client import ApiError, Client

        try:
            with Client(f"http://127.0.0.1:{self.port}", self.token, timeout=10) as c:
                return c.status()
        except ApiError:
            return None

    def sample(self) -> float:
        """CPU seconds so far (and remember the peak RSS); the last value is kept after the agent exits."""
        if self.proc is not None and self.proc.poll() is None:
            cpu = proc_cpu(self.proc.pid)
            if cpu:
                self.last_cpu = cpu
            self.peak_rss = max(self.peak_rss, peak_rss_mb(self.proc.pid))
        return self.last_cpu

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.sample()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    @contextmanager
    def store(self):
        """The agent's database, opened in this process with its key (read after it stopped)."""
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            from gum.store import Store

            store = Store()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        try:
            yield store
        finally:
            store.close()


def database_figures(agent: AgentProcess) -> dict:
    """What the agent's database says: observations by observer, window titles, OCR time per capture,
    queue rows, restarts logged. Call after the agent stopped."""
    with agent.store() as store:
        rows = store.db.execute("SELECT observer, app, window, meta, repeats FROM observations").fetchall()
        queue = store.queue_counts()
        restarts = [r[0] for r in store.db.execute(
            "SELECT at || ' ' || message FROM events WHERE kind = 'observer' AND message LIKE '%restarting%'")]
        props = store.counts()["propositions"]
    by_observer: dict[str, int] = {}
    titles: set[str] = set()
    ocr_ms, queued = [], 0
    for observer, app, window, meta, _repeats in rows:
        meta = json.loads(meta or "{}")
        by_observer[observer.split(":")[0]] = by_observer.get(observer.split(":")[0], 0) + 1
        if window:
            titles.add(window)
        if "ocr_ms" in meta:
            ocr_ms.append(meta["ocr_ms"])
        if meta.get("queue", True) is not False:
            queued += 1
    return {
        "observations": len(rows), "by_observer": by_observer, "titles": sorted(titles),
        "ocr_ms": ocr_ms, "queued_rows": queued, "queue": queue,
        "restarts_logged": len(restarts), "restart_events": restarts,
        "propositions": props,
    }
