"""`gum doctor`: what this machine must offer gum, checked one at a time, each problem with its fix.

A check returns ok, warn (gum runs, with less: no tray icon, a key file instead of the keyring, a model
still to assemble), fail (gum cannot do its job until it is fixed) or skip (it depends on a check that
failed, or does not apply on this platform). The command exits non-zero when any check failed.
Nothing here writes anything: no config, no key, no model assembly.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import click

from . import paths

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
# Room for the database, its WAL and a backup beside the screenshot budget (the database stays small:
# text and propositions; tens of MB after months).
DB_ROOM_MB = 200
X11_ONLY = "X11 is the only desktop gum can observe on Linux"


@dataclass
class Check:
    """One result; `fix` says what to do about a warn or fail."""

    name: str
    status: str
    detail: str
    fix: str = ""


# -- the display and what it allows ----------------------------------------------------------------------


def _wayland() -> bool:
    return bool(os.environ.get("WAYLAND_DISPLAY")) or os.environ.get("XDG_SESSION_TYPE") == "wayland"


def _open_x():
    """An Xlib connection to $DISPLAY, or raise with the reason."""
    import time

    from Xlib import display as xdisplay
    from Xlib.error import ConnectionClosedError

    for attempt in range(3):
        try:
            return xdisplay.Display()
        except ConnectionClosedError:
            # An X server resets when its last client leaves and refuses connections meanwhile: on a
            # bare server the previous check's connection was that last client.
            if attempt == 2:
                raise
            time.sleep(0.3)


def _x11_usable() -> bool:
    if sys.platform != "linux" or _wayland() or not os.environ.get("DISPLAY"):
        return False
    try:
        _open_x().close()
        return True
    except Exception:  # noqa: BLE001 - any failure to connect means no usable display
        return False


def check_display(settings) -> Check:
    """X11, not Wayland: Wayland lets no ordinary app read the screen, other windows or global input."""
    if sys.platform == "darwin":
        return Check("display", SKIP, "macOS: not checked here (untested platform)",
                     "grant gum Screen Recording in System Settings > Privacy & Security")
    if sys.platform == "win32":
        return Check("display", SKIP, "Windows: not checked here (untested platform)")
    if _wayland():
        return Check(
            "display", FAIL,
            "a Wayland session: Wayland lets no ordinary app read the screen, the active window or global "
            "input, so gum would see nothing",
            "log out and choose an Xorg session at the login screen (GNOME: the gear icon, 'GNOME on Xorg'; "
            "or set WaylandEnable=false in /etc/gdm3/daemon.conf)",
        )
    name = os.environ.get("DISPLAY")
    if not name:
        return Check("display", FAIL, "no X display: DISPLAY is not set",
                     "run gum inside your desktop session (over ssh: DISPLAY=:0 and your XAUTHORITY)")
    try:
        d = _open_x()
    except Exception as exc:  # noqa: BLE001
        return Check("display", FAIL, f"cannot open the X display {name} ({exc})",
                     "check DISPLAY and XAUTHORITY: run gum as the user logged in to the desktop")
    try:
        screen = d.screen()
        return Check("display", OK, f"X11 display {name}, {screen.width_in_pixels}x{screen.height_in_pixels}")
    finally:
        d.close()


def check_screen_capture(settings) -> Check:
    """The screen observer can grab pixels."""
    if not _x11_usable():
        return Check("screen capture", SKIP, f"needs a usable X11 display ({X11_ONLY})")
    try:
        import mss

        grab = getattr(mss, "MSS", None) or mss.mss  # the class's name changed between mss versions
        with grab() as grabber:
            shot = grabber.grab({"left": 0, "top": 0, "width": 8, "height": 8})
        return Check("screen capture", OK, f"read {shot.width}x{shot.height} pixels of the screen")
    except Exception as exc:  # noqa: BLE001
        return Check("screen capture", FAIL, f"the screen cannot be read ({exc})",
                     "the X server refuses screen capture: run gum in your own X session")


def check_input(settings) -> Check:
    """Input activity is counted through the X RECORD extension (pynput)."""
    if not _x11_usable():
        return Check("input access", SKIP, f"needs a usable X11 display ({X11_ONLY})")
    d = _open_x()
    try:
        has_record = d.has_extension("RECORD")
    finally:
        d.close()
    if not has_record:
        return Check("input access", FAIL,
                     "the X server has no RECORD extension, which gum needs to count key presses and clicks",
                     'enable it in the X server (Xorg: remove any `Option "RECORD" "false"`; Xvfb: '
                     "+extension RECORD), or run without the input observer (observers setting)")
    return Check("input access", OK, "X RECORD is there: input activity can be counted (never which keys)")


def _status_notifier_watcher() -> bool:
    """A StatusNotifier tray on the session bus (KDE, GNOME's AppIndicator extension): Qt tries it first."""
    try:
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection
    except ImportError:
        return False
    bus = DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus")
    try:
        conn = open_dbus_connection(bus="SESSION")
    except Exception:  # noqa: BLE001 - no session bus
        return False
    try:
        reply = conn.send_and_get_reply(new_method_call(bus, "NameHasOwner", "s", ("org.kde.StatusNotifierWatcher",)),
                                        timeout=2)
        return bool(reply.body[0])
    except Exception:  # noqa: BLE001
        return False
    finally:
        conn.close()


def check_tray(settings) -> Check:
    """A system tray for the icon (XEmbed or StatusNotifier); without one the tray app shows its window instead."""
    if not _x11_usable():
        return Check("system tray", SKIP, f"needs a usable X11 display ({X11_ONLY})")
    d = _open_x()
    try:
        atom = d.intern_atom(f"_NET_SYSTEM_TRAY_S{d.get_default_screen()}")
        owner = d.get_selection_owner(atom)
    finally:
        d.close()
    if owner == 0 and _status_notifier_watcher():
        return Check("system tray", OK, "a StatusNotifier tray is there (D-Bus)")
    if owner == 0:  # X.NONE
        return Check("system tray", WARN,
                     "no system tray on this desktop: `gum ui` will show its Memory window instead of an icon",
                     "GNOME: install gnome-shell-extension-appindicator and enable it; other desktops: add "
                     "a notification-area (systray) applet to the panel")
    return Check("system tray", OK, "a system tray is there (XEmbed)")


# -- OCR, keys, the model --------------------------------------------------------------------------------


def check_tesseract(settings) -> Check:
    """tesseract on PATH, with English language data."""
    exe = shutil.which("tesseract")
    if exe is None:
        return Check("tesseract", FAIL, "tesseract is not on PATH: gum cannot read text on the screen",
                     "sudo apt install tesseract-ocr tesseract-ocr-eng (macOS: brew install tesseract)")
    try:
        version = subprocess.run([exe, "--version"], check=False, capture_output=True, text=True, timeout=20)
        langs = subprocess.run([exe, "--list-langs"], check=False, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as exc:
        return Check("tesseract", FAIL, f"{exe} does not run ({exc})", "reinstall tesseract-ocr")
    first = (version.stdout or version.stderr).strip().splitlines()[:1]
    available = {line.strip() for line in langs.stdout.splitlines()[1:]}
    if "eng" not in available:
        return Check("tesseract", FAIL, f"{exe} has no English language data (has: {', '.join(sorted(available)) or 'none'})",
                     "sudo apt install tesseract-ocr-eng")
    return Check("tesseract", OK, f"{first[0] if first else exe} with {len(available)} language(s), eng among them")


def check_keyring(settings) -> Check:
    """Where the encryption key lives: the OS keyring, or the fallback and why."""
    from . import keys
    from .db import db_path

    try:
        store = keys.configured_store()
    except Exception as exc:  # noqa: BLE001 - a bad key_store setting
        return Check("keyring", FAIL, str(exc), "set key_store to auto, keyring, file or passphrase")
    if db_path().exists():
        protected = keys.protection()
        if protected.store == "missing":
            return Check("keyring", FAIL, f"the database exists but its key is not available: {protected.note}",
                         "unlock your keyring (log in to the desktop), or restore the key file you backed up")
    if store == "passphrase":
        return Check("keyring", OK, "passphrase mode: the key is derived from your passphrase, stored nowhere")
    if store == "file":
        return Check("keyring", OK, f"the key is kept in the file {keys.key_file_path()} (mode 0600), as set")
    backend, problem = keys.usable_keyring()
    if backend is not None:
        return Check("keyring", OK, f"OS keyring: {type(backend).__module__}.{type(backend).__name__}")
    fix = "install and unlock a Secret Service keyring: sudo apt install gnome-keyring (KDE: KWallet)"
    if store == "keyring":
        return Check("keyring", FAIL, f"key_store is 'keyring' but {problem}", fix + ', or set key_store = "auto"')
    return Check("keyring", WARN, f"{problem}: the key goes to the file {keys.key_file_path()} (mode 0600) instead",
                 fix)


def check_model(settings) -> Check:
    """The model file exists and its sha256 is the one gum was built for."""
    import importlib.util

    spec = (settings.model or "embedded").strip()
    if spec.startswith(("http://", "https://")):
        return Check("model", SKIP, f"a model server at {spec}: not checked (gum asks it at run time)")
    if importlib.util.find_spec("llama_cpp") is None:
        return Check("model", FAIL, "llama-cpp-python is not installed: gum cannot run a local model",
                     "install gum's desktop package, or run packaging/install.sh (it builds a portable one)")
    if spec.lower().endswith(".gguf"):
        path = Path(spec).expanduser()
        if not path.is_file():
            return Check("model", FAIL, f"the model file {path} does not exist", "fix the model setting")
        return Check("model", OK, f"{path} ({path.stat().st_size // 2**20} MiB; a file of yours, no known sha256)")
    if not (spec == "embedded" or spec.startswith("embedded:")):
        return Check("model", SKIP, f"model {spec!r} comes from a plugin: not checked")
    from .backends import embedded as emb

    variant = spec.partition(":")[2] or emb.DEFAULT
    model = emb.MODELS.get(variant)
    if model is None:
        return Check("model", FAIL, f"no embedded model {variant!r}", f"choose one of {', '.join(emb.MODELS)}")
    bundled = emb.bundled_model_path(model)
    path = bundled or paths.cache_dir() / "models" / model.filename
    if not path.is_file():
        try:
            emb._part_files(model)
        except Exception as exc:  # noqa: BLE001 - ModelError says which package is missing
            return Check("model", FAIL, f"the embedded model is not assembled and cannot be: {exc}",
                         "reinstall gum (the desktop package carries the model)")
        return Check("model", WARN, f"the embedded model is not assembled yet ({path})",
                     "run `gum model install` now (else the agent assembles it on first start, ~500 MB)")
    digest = emb.sha256_file(path)
    if digest != model.sha256:
        where = "reinstall gum" if bundled else "run `gum model install --verify` to assemble it again"
        return Check("model", FAIL, f"{path} is damaged: sha256 {digest[:16]}…, expected {model.sha256[:16]}…", where)
    kind = "bundled" if bundled else "assembled"
    return Check("model", OK, f"{model.key} ({kind}) at {path}, sha256 verified")


# -- room, the port, other instances ---------------------------------------------------------------------


def check_disk(settings) -> Check:
    """Free space where the data lives, against the screenshot budget and room for the database."""
    folder = paths.data_dir()
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free_mb = shutil.disk_usage(probe).free // 2**20
    budget = settings.screenshot_budget_mb if settings.keep_screenshots else 0
    need = budget + DB_ROOM_MB
    what = f"{budget} MB screenshot budget + {DB_ROOM_MB} MB for the database" if budget else \
        "room for the database; screenshots are not kept"
    if free_mb < need:
        return Check("disk space", FAIL, f"{free_mb} MB free at {probe}, gum needs {need} MB ({what})",
                     "free some space there, lower screenshot_budget_mb in config.toml, or move the data "
                     "folder (GUM_DATA_DIR / the tray's Settings)")
    return Check("disk space", OK, f"{free_mb} MB free at {probe}; gum needs {need} MB ({what})")


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # The agent's server sets SO_REUSEADDR too: a socket in TIME_WAIT does not make the port taken.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _gum_on_port(port: int) -> bool:
    """True when what answers on the port is a gum agent (its API asks for a gum bearer token)."""
    import httpx

    try:
        r = httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2)
    except httpx.HTTPError:
        return False
    return 'realm="gum"' in r.headers.get("www-authenticate", "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_port(settings) -> Check:
    """The local API's port is free (or held by gum itself)."""
    port = settings.api_port
    if _port_free(port):
        return Check("API port", OK, f"127.0.0.1:{port} is free")
    if _gum_on_port(port):
        return Check("API port", OK, f"127.0.0.1:{port} is held by a running gum agent")
    return Check("API port", FAIL, f"127.0.0.1:{port} is taken by another program: the agent cannot serve its API",
                 f"set api_port = {_free_port()} in {paths.config_dir() / 'config.toml'} (or GUM_API_PORT), "
                 "or stop the other program")


def _tray_pid() -> int | None:
    """The pid in the tray's lock file (QLockFile writes the pid on its first line), if that process lives."""
    lock = paths.config_dir() / "ui.lock"
    try:
        pid = int(lock.read_text().split()[0])
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError, IndexError):
        return None


def check_instances(settings) -> Check:
    """Is gum already running (a tray app for this config, an agent on the port)?"""
    running = []
    pid = _tray_pid()
    if pid is not None:
        running.append(f"the tray app (pid {pid})")
    if not _port_free(settings.api_port) and _gum_on_port(settings.api_port):
        running.append(f"an agent on port {settings.api_port}")
    if not running:
        return Check("other instances", OK, "no other gum is running for this user")
    return Check("other instances", WARN, "gum is already running: " + " and ".join(running),
                 "use the running one; a second `gum start` would find its port taken (quit the first from "
                 "its tray menu, or `gum service uninstall` if it runs as a service)")


CHECKS = [check_display, check_screen_capture, check_input, check_tray, check_tesseract, check_keyring,
          check_model, check_disk, check_port, check_instances]


def run_checks(settings=None) -> list[Check]:
    """Every check, in order; a check that crashes is reported as failed, not raised."""
    from .config import load_settings

    settings = settings or load_settings()
    results = []
    for check in CHECKS:
        try:
            results.append(check(settings))
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            name = check.__name__.removeprefix("check_").replace("_", " ")
            results.append(Check(name, FAIL, f"the check itself failed: {exc.__class__.__name__}: {exc}"))
    return results


MARKS = {OK: ("ok", "green"), WARN: ("warn", "yellow"), FAIL: ("FAIL", "red"), SKIP: ("skip", None)}


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per check.")
def doctor_command(as_json: bool) -> None:
    """Check what gum needs here (display, OCR, input, tray, keyring, model, disk, port) and how to fix it."""
    from .launch import is_frozen

    results = run_checks()
    failed = [c for c in results if c.status == FAIL]
    if as_json:
        click.echo(json.dumps([asdict(c) for c in results], indent=2))
    else:
        build = f"desktop build in {Path(sys.executable).parent}" if is_frozen() else f"Python {sys.executable}"
        click.echo(f"gum doctor ({build})")
        for c in results:
            mark, colour = MARKS[c.status]
            click.echo(click.style(f"  {mark:<5}", fg=colour) + f" {c.name:<16} {c.detail}")
            if c.fix and c.status in (WARN, FAIL):
                click.echo(f"        {'':<16} fix: {c.fix}")
        warned = sum(c.status == WARN for c in results)
        click.echo(f"{len(failed)} problem(s), {warned} warning(s)." if failed or warned else "All good.")
    if failed:
        sys.exit(1)
