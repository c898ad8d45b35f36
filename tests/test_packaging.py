"""The desktop build: its recipe (spec, control, maintainer scripts, launcher), and the built .deb itself.

The artifact tests build the PyInstaller folder and the .deb with packaging/build.sh (about 4 minutes on
2 cores, ~600 MB) unless GUM_DEB names one already built, unpack it with `dpkg -x` into a fresh root and
use it as a user would: `gum --version`, `gum doctor`, the agent on Xvfb answering its health endpoint,
`gum ui` showing its window, then the package's removal, which must leave the user's data as it was.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from helpers import have

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
VERSION = re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE).group(1)


def control_fields(text: str) -> dict[str, str]:
    fields, key = {}, None
    for line in text.splitlines():
        if line.startswith(" ") and key:
            fields[key] += "\n" + line
        elif ":" in line:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


# -- the recipe ----------------------------------------------------------------------------------------


def test_the_control_file_declares_ocr_and_every_qt_library_the_developer_install_needs():
    fields = control_fields((PACKAGING / "deb" / "control.in").read_text())
    depends = {d.strip().split()[0] for d in fields["Depends"].split(",")}
    assert {"tesseract-ocr", "tesseract-ocr-eng"} <= depends
    section = (PACKAGING / "debian-packages.txt").read_text().split("# Qt's xcb platform plugin")[1]
    qt_libs = set()
    for line in section.splitlines()[1:]:  # the packages under that heading, up to the next one
        if line.startswith("#"):
            break
        qt_libs.add(line.strip())
    qt_libs.discard("")
    assert qt_libs and qt_libs <= depends, qt_libs - depends
    assert fields["Package"] == "gum-desktop"
    assert {"@VERSION@", "@ARCH@", "@INSTALLED_SIZE@"} <= set(re.findall(r"@\w+@", fields["Version"] + fields[
        "Architecture"] + fields["Installed-Size"]))


def test_postrm_never_deletes_anything_of_the_users():
    script = (PACKAGING / "deb" / "postrm").read_text()
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("#"))
    assert not re.search(r"\brm\b|HOME|/home|\.local|\.config|\.cache|keyring|getent", code)


@pytest.mark.parametrize("action", ["remove", "purge"])
def test_postrm_runs_cleanly_and_leaves_a_users_files_alone(action, tmp_path):
    home = tmp_path / "home"
    (home / ".local" / "share" / "gum").mkdir(parents=True)
    (home / ".local" / "share" / "gum" / "gum.db").write_bytes(b"the user's memory")
    before = _tree_digest(home)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home)}
    proc = subprocess.run(["sh", PACKAGING / "deb" / "postrm", action], env=env, capture_output=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert _tree_digest(home) == before


def test_the_launcher_template_is_a_valid_desktop_entry():
    text = (PACKAGING / "gum.desktop").read_text()
    assert text.startswith("[Desktop Entry]\n")
    for key in ("Type=Application", "Name=gum", "Exec={exec}", "Icon={icon}", "Categories="):
        assert key in text


def test_the_spec_bundles_what_gum_imports_by_name_and_puts_the_model_where_gum_looks():
    spec = (PACKAGING / "gum.spec").read_text()
    compile(spec, "gum.spec", "exec")
    assert 'collect_submodules("gum")' in spec  # lazy commands, observers, back-ends
    assert 'copy_metadata("gum-desktop")' in spec  # --version
    assert '(model, "models")' in spec  # <bundle>/models/, see the next test
    assert "llama_cpp/lib" in spec
    assert "pynput.keyboard._xorg" in spec


def test_a_frozen_gum_finds_its_bundled_model_and_starts_itself_with_its_own_executable(monkeypatch, tmp_path):
    from gum.backends.embedded import MODELS, bundled_model_path
    from gum.launch import gum_command

    model = MODELS["qwen0.5b"]
    assert bundled_model_path(model) is None  # a source checkout has no bundle
    assert gum_command("start") == [sys.executable, "-m", "gum.cli", "start"]
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / model.filename).write_bytes(b"GGUF")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/gum/gum")
    assert bundled_model_path(model) == tmp_path / "models" / model.filename
    assert gum_command("start") == ["/opt/gum/gum", "start"]
    from gum.ui import autostart

    assert autostart.command() == ["/opt/gum/gum", "ui"]  # the login entry starts the installed app


def test_the_build_script_parses_and_has_a_branch_for_each_platform():
    script = PACKAGING / "build.sh"
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)
    text = script.read_text()
    for branch in ("Linux) OS=linux", "Darwin) OS=macos", "MINGW* | MSYS* | CYGWIN*) OS=windows"):
        assert branch in text
    assert "dpkg-deb" in text and "-DGGML_NATIVE=OFF" in text


# -- the built artifact --------------------------------------------------------------------------------


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _can_build() -> str | None:
    if os.environ.get("GUM_DEB"):
        return None
    if not all(have(b) for b in ("dpkg-deb", "Xvfb", "xdotool")):
        return "needs dpkg-deb, Xvfb and xdotool"
    if not os.environ.get("CI") and not os.environ.get("GUM_BUILD_PACKAGE"):
        return "builds the .deb (~4 min, 600 MB): set GUM_BUILD_PACKAGE=1 or GUM_DEB=path (CI always does)"
    return None


@pytest.fixture(scope="module")
def deb(tmp_path_factory) -> Path:
    """The .deb: GUM_DEB, or built now by packaging/build.sh into a temporary folder."""
    if os.environ.get("GUM_DEB"):
        return Path(os.environ["GUM_DEB"])
    out = tmp_path_factory.mktemp("dist")
    start = time.monotonic()
    env = {**os.environ, "GUM_BUILD_OUT": str(out)}
    proc = subprocess.run(["nice", "-n", "15", "bash", str(PACKAGING / "build.sh")], env=env, capture_output=True,
                          text=True, timeout=3600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    [built] = out.glob("gum-desktop_*.deb")
    print(f"\nbuilt {built.name}: {built.stat().st_size / 2**20:.0f} MiB in {time.monotonic() - start:.0f} s")
    shutil.rmtree(out / "gum", ignore_errors=True)  # the unpacked folder: the .deb is all the tests need
    return built


@pytest.fixture(scope="module")
def installed(deb, tmp_path_factory) -> Path:
    """The package unpacked into a fresh root, as dpkg would lay it out."""
    root = tmp_path_factory.mktemp("root")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True, timeout=600)
    subprocess.run(["dpkg-deb", "-e", str(deb), str(root / "DEBIAN")], check=True, timeout=60)
    return root


@pytest.fixture
def user(tmp_path, monkeypatch, gum_dirs):
    """A user of the installed app: a fresh HOME, and none of the test suite's GUM_* folders."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUM_", "QT_", "PYTHON"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
               XDG_CACHE_HOME=str(home / ".cache"), GUM_KEY_STORE="file", GUM_THREADS="1", OMP_THREAD_LIMIT="1")
    return env


package = pytest.mark.skipif(_can_build() is not None, reason=_can_build() or "")


@package
def test_the_package_lays_out_opt_usr_bin_the_launcher_and_the_icon(deb, installed):
    info = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True).stdout
    fields = control_fields(info)
    assert fields["Version"] == VERSION and "tesseract-ocr" in fields["Depends"]
    assert os.readlink(installed / "usr/bin/gum") == "/opt/gum/gum"
    assert os.access(installed / "opt/gum/gum", os.X_OK)
    desktop = (installed / "usr/share/applications/gum.desktop").read_text()
    assert "Exec=gum\n" in desktop and "Icon=gum\n" in desktop
    if have("desktop-file-validate"):
        subprocess.run(["desktop-file-validate", str(installed / "usr/share/applications/gum.desktop")], check=True)
    for size in (48, 64, 128, 256):
        assert (installed / f"usr/share/icons/hicolor/{size}x{size}/apps/gum.png").is_file()
    assert (installed / "DEBIAN" / "postrm").is_file()
    # Installed for every user: nothing in the package is private to root or writable by others.
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    modes = [line.split()[0] for line in listing.splitlines()]
    assert modes and all(m[7] == "r" and m[8] != "w" for m in modes if not m.startswith("l")), listing[:2000]


@package
def test_the_installed_app_runs_doctors_serves_shows_its_window_and_its_removal_keeps_the_data(installed, user):
    from xdisplay import XDisplay

    from gum.doctor import FAIL, OK

    gum = str(installed / "opt/gum/gum")
    out = subprocess.run([gum, "--version"], env=user, capture_output=True, text=True, timeout=120, check=True)
    assert VERSION in out.stdout

    display = XDisplay("1280x800x24")
    env = {**user, "DISPLAY": display.name}
    procs: list[subprocess.Popen] = []
    try:
        # gum doctor: the display, capture, input, the bundled model (sha256 re-checked) all pass.
        port = _free_port()
        env["GUM_API_PORT"] = str(port)
        doc = subprocess.run([gum, "doctor", "--json"], env=env, capture_output=True, text=True, timeout=300,
                             check=False)
        import json

        checks = {c["name"]: c for c in json.loads(doc.stdout)}
        assert doc.returncode == 0, doc.stdout + doc.stderr
        for name in ("display", "screen capture", "input access", "tesseract", "model", "API port"):
            assert checks[name]["status"] == OK, checks[name]
        assert "bundled" in checks["model"]["detail"]
        assert FAIL not in {c["status"] for c in checks.values()}

        # The agent, first run in a fresh HOME: it answers its health endpoint and its observers work.

        token = "smoke-test-token-0123456789abcdef"
        # Handed over as the tray does: a 0600 file, never the environment.
        token_file = Path(tempfile.mkdtemp(prefix="gum-token-")) / "tray.token"
        token_file.write_text(token + "\n")
        token_file.chmod(0o600)
        started = time.monotonic()
        agent = subprocess.Popen([gum, "start"], env={**env, "GUM_TRAY_TOKEN_FILE": str(token_file)},
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(agent)
        headers = {"Authorization": f"Bearer {token}"}
        health = _wait_for(lambda: _get(f"http://127.0.0.1:{port}/v1/health", headers), 120, "the health endpoint")
        print(f"\nfirst run: health answered after {time.monotonic() - started:.1f} s")
        assert health["ok"] is True and health["version"] == VERSION
        status = _wait_for(lambda: (s := _get(f"http://127.0.0.1:{port}/v1/status", headers)) and
                           all(o["ok"] for o in s["observers"].values()) and s, 60, "every observer healthy")
        assert set(status["observers"]) == {"screen", "input", "window"}
        agent.terminate()
        assert agent.wait(timeout=60) == 0
        data_before = _tree_digest(Path(user["HOME"]))
        assert any("gum.db" in name for name in data_before), "the agent stored nothing"

        # gum ui: no tray on a bare X server, so it shows its Memory window (and runs its own agent).
        ui = subprocess.Popen([gum, "ui"], env={**env, "GUM_OBSERVERS": "none", "QT_QPA_PLATFORM": "xcb"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(ui)
        window = display.xdotool("search", "--sync", "--onlyvisible", "--name", "Memory$").split()[0]
        assert window
        ui.terminate()
        assert ui.wait(timeout=60) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        display.stop()

    # Removal: dpkg deletes the package's files and runs postrm (remove, then purge). The user's data stays.
    data_before = _tree_digest(Path(user["HOME"]))
    for action in ("remove", "purge"):
        subprocess.run(["sh", str(installed / "DEBIAN" / "postrm"), action], env={**user, "PATH": "/usr/bin:/bin"},
                       check=True, timeout=60)
    shutil.rmtree(installed / "opt" / "gum")
    assert _tree_digest(Path(user["HOME"])) == data_before


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, headers: dict):
    """GET from the agent as its clients do: over its private socket (the tray's token is refused over TCP)."""
    from urllib.parse import urlsplit

    import httpx

    from gum.paths import api_socket

    uds = api_socket(urlsplit(url).port)  # the test's XDG_RUNTIME_DIR (conftest), which the agent inherits
    try:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(uds)) if uds else None, trust_env=False) as c:
            r = c.get(url, headers=headers, timeout=5)
    except httpx.HTTPError:
        return None
    return r.json() if r.status_code == 200 else None


def _wait_for(probe, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")
