"""Settings: defaults, then config.toml, then environment variables, then command-line flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import paths
from .errors import ConfigError

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


class Settings(BaseModel):
    """Every setting gum reads; validated because it comes from a file and the environment."""

    model_config = ConfigDict(extra="forbid")

    user_name: str = ""
    model: str = "embedded"
    server_model: str = "default"
    server_api_key: str = ""
    # Enough for the longest prompt gum sends (a 1,500-character pack, the prompt, the answer); every 2,048 tokens
    # more cost ~45 MB of memory for nothing.
    n_ctx: int = Field(2048, ge=512, le=131072)
    threads: int = Field(0, ge=0)
    batch_size: int = Field(8, ge=1, le=256)
    max_attempts: int = Field(3, ge=1, le=20)
    # Short observations read together in one model call. 1 (one call each) by default: on the embedded 0.5B
    # model packs of 4 cut the calls ~2x but found 10 of 40 facts where one call each found 15 (issue 11).
    pack_observations: int = Field(1, ge=1, le=8)
    # A second, small model call checks each new claim against its observation (see gum/engine.py verify).
    verify_with_model: bool = False
    observers: list[str] = ["screen", "input", "window"]
    exclude_windows: list[str] = []
    redact_patterns: list[str] = []
    keep_screenshots: bool = False
    screenshot_budget_mb: int = Field(500, ge=0)
    screenshot_max_age_days: int = Field(7, ge=0)
    screen_interval_seconds: float = Field(10.0, ge=1.0, le=3600.0)
    afk_after_seconds: float = Field(180.0, ge=10.0)
    batch_wait_minutes: float = Field(10.0, ge=0.0)
    # How captures reach the model (gum/intake.py): "segments" (one call per activity, what was new in it) or
    # "captures" (the old way: every changed capture queued on its own; kept for comparison).
    intake: Literal["segments", "captures"] = "segments"
    # Model calls per hour while the user is active (the most engaged activities first; the rest waits in
    # the queue for a pause). 0: no limit. While the user is active the model also runs on fewer threads.
    # 30: a call took ~12 CPU-s on one thread beside a working desktop (tests/bench/bench_desk.py), so the
    # model's share stays near 6 CPU-minutes an hour of work.
    model_calls_per_hour: int = Field(30, ge=0, le=100_000)
    # And at most this much of the model's CPU per hour while the user is active (gum/pacing.py): a call
    # waits until the CPU it is expected to take is earned. 0: no limit.
    model_cpu_minutes_per_hour: float = Field(6.0, ge=0, le=100_000)
    active_threads: int = Field(1, ge=0)
    consolidate_hours: float = Field(6.0, ge=0.1)
    api_port: int = Field(8765, ge=1, le=65535)
    api_rate_limit: int = Field(600, ge=0, le=1_000_000)  # requests per minute per API token; 0: no limit
    # Where the encryption key lives (gum/keys.py): auto = OS keyring, else a 0600 key file.
    key_store: Literal["auto", "keyring", "file", "passphrase"] = "auto"
    key_file: str = ""
    # Per-plugin tables, [plugins.NAME] in config.toml: the keyword settings of observer NAME (calendar, ...).
    plugins: dict[str, dict[str, Any]] = {}


# Environment variable -> setting. Lists are comma-separated.
ENV = {
    "GUM_USER_NAME": "user_name",
    "GUM_MODEL": "model",
    "GUM_SERVER_MODEL": "server_model",
    "GUM_SERVER_API_KEY": "server_api_key",
    "GUM_N_CTX": "n_ctx",
    "GUM_THREADS": "threads",
    "GUM_BATCH_SIZE": "batch_size",
    "GUM_PACK_OBSERVATIONS": "pack_observations",
    "GUM_VERIFY_WITH_MODEL": "verify_with_model",
    "GUM_OBSERVERS": "observers",
    "GUM_INTAKE": "intake",
    "GUM_MODEL_CALLS_PER_HOUR": "model_calls_per_hour",
    "GUM_MODEL_CPU_MINUTES_PER_HOUR": "model_cpu_minutes_per_hour",
    "GUM_API_PORT": "api_port",
    "GUM_KEEP_SCREENSHOTS": "keep_screenshots",
    "GUM_KEY_STORE": "key_store",
    "GUM_KEY_FILE": "key_file",
}


def config_path() -> Path:
    """Where config.toml lives."""
    return paths.config_dir() / "config.toml"


def write_default_config(path: Path | None = None) -> Path:
    """Write the commented-out defaults on first run, so the user can read what there is to set."""
    from importlib import resources

    path = path or config_path()
    if not path.exists():
        paths.ensure_private_dir(path.parent)
        text = resources.files("gum.resources").joinpath("default_config.toml").read_text()
        path.write_text(text)
    return path


def load_settings(**overrides) -> Settings:
    """Settings from config.toml, the environment and `overrides` (flags; None means not given)."""
    values: dict = {}
    path = config_path()
    if path.exists():
        try:
            values.update(tomllib.loads(path.read_text()))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML ({exc}); fix or delete it") from exc
    for env, key in ENV.items():
        raw = os.environ.get(env)
        if raw is None or raw == "":
            continue
        if key == "observers":
            values[key] = [] if raw.strip() == "none" else [p.strip() for p in raw.split(",") if p.strip()]
        else:
            values[key] = raw
    extra_excludes = os.environ.get("GUM_EXCLUDE_WINDOWS")
    if extra_excludes:
        values["exclude_windows"] = list(values.get("exclude_windows", [])) + [
            p.strip() for p in extra_excludes.split(",") if p.strip()
        ]
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"setting {where!r}: {first['msg']} (check {path} and GUM_* variables)") from exc
