"""`gum ui`: start the tray app (it starts and supervises the agent)."""

from __future__ import annotations

import logging
import sys

import click


@click.command("ui")
@click.option("--no-agent", is_flag=True, help="Do not start an agent; talk to one already running "
              "(needs an admin token: --token-file).")
@click.option("--token-file", type=click.Path(dir_okay=False), default=None,
              help="With --no-agent: a file (mode 600) holding an admin token (gum token create NAME --scope admin "
                   "--file PATH).")
@click.option("--memory", "open_memory", is_flag=True, help="Open the Memory window at start.")
def ui_command(no_agent: bool, open_memory: bool, token_file: str | None) -> None:
    """The tray app: see, correct and revoke what gum believes about you."""
    try:
        import PySide6  # noqa: F401 - only to check it is there
    except ImportError as exc:
        from gum.errors import GumError

        raise GumError("the tray app needs PySide6: pip install 'gum-desktop[ui]' "
                       "(or run the agent alone with `gum start`)") from exc
    token = None
    if token_file:
        from gum.handoff import read_file

        token = read_file(token_file)
    raise SystemExit(run(supervise=not no_agent, open_memory=open_memory, token=token))


def run(*, supervise: bool = True, open_memory: bool = False, argv: list[str] | None = None,
        token: str | None = None) -> int:
    """Create the QApplication and the tray app, run the event loop; returns the exit code."""
    from PySide6.QtWidgets import QApplication

    from gum.config import load_settings, write_default_config

    from . import excepthook, logfile
    from .application import GumApp
    from .single_instance import SingleInstance

    # tray.log: 0600, rotated, agent lines scrubbed of excerpts and secrets (ui/logfile.py).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        handlers=[logging.StreamHandler(), logfile.handler()])
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per status poll is noise
    qt = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    qt.setApplicationName("gum")
    qt.setQuitOnLastWindowClosed(False)  # the tray icon is the app; closing the Memory window only hides it
    excepthook.install()

    instance = SingleInstance()
    if not instance.acquire():
        click.echo("gum is already running: its Memory window was brought forward.", err=True)
        return 0
    write_default_config()
    settings = load_settings()
    # A token given to the tray (--no-agent --token-file) is the token of an agent started elsewhere.
    app = GumApp(port=settings.api_port, token=token, supervise=supervise)
    instance.activated.connect(app.open_memory)
    # Whatever ends the event loop, the agent does not outlive the tray.
    qt.aboutToQuit.connect(lambda: app.supervisor and app.supervisor.is_running() and app.supervisor.stop_and_wait())
    app.start()
    if open_memory and app.memory is None:
        app.open_memory()
    _quit_on_signals(app)
    code = qt.exec()
    instance.release()
    return code


def _quit_on_signals(app) -> None:
    """SIGTERM/SIGINT (logout, Ctrl-C) quit cleanly: the agent is stopped first."""
    import signal

    from PySide6.QtCore import QTimer

    def handler(signum, frame):
        QTimer.singleShot(0, app.quit)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    # Python runs signal handlers only between bytecodes: wake it up now and then while Qt waits.
    app._signal_timer = QTimer(app, interval=300)
    app._signal_timer.timeout.connect(lambda: None)
    app._signal_timer.start()
