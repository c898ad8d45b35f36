"""Reading and changing settings through the API: config.toml edited in place, comments kept."""

from __future__ import annotations

import os
import re
import threading

from pydantic import ValidationError

from ..config import Settings, config_path, load_settings, write_default_config
from ..errors import InputError
from ..privacy import remote_model

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

# Secrets are never sent back: the API shows this instead, and a PUT carrying it leaves the secret as it is.
SECRET_FIELDS = ("server_api_key",)
MASK = "********"
# Changing where the database key lives needs the old key and a migration (`gum` CLI): never through the API,
# where a plugin with admin could lock the agent out of its own database.
CLI_ONLY = ("key_store", "key_file")
# Tables of config.toml ([plugins.calendar], ...): the line editor below writes top-level keys only.
FILE_ONLY = ("plugins",)
_WRITE_LOCK = threading.Lock()



def public_settings(settings: Settings | None = None) -> dict:
    """The effective settings (file + environment) as JSON, secrets masked."""
    data = (settings or load_settings()).model_dump(mode="json")
    for key in SECRET_FIELDS:
        if data.get(key):
            data[key] = MASK
    return data


def _toml_string(value: str) -> str:
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20 or code == 0x7F or code in (0x85, 0x2028, 0x2029):  # the last: line breaks to some
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            raise InputError("text settings cannot hold lone surrogate characters")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise InputError(f"cannot write {type(value).__name__} to config.toml")


def _edit_lines(text: str, updates: dict) -> str:
    lines = text.split("\n")  # not splitlines(): it also breaks at U+2028 and friends inside strings
    for key, value in updates.items():
        line = f"{key} = {_toml_value(value)}"
        set_at = next((i for i, x in enumerate(lines) if re.match(rf"^\s*{re.escape(key)}\s*=", x)), None)
        if set_at is not None:
            lines[set_at] = line
            continue
        # Next to its commented-out default, so the file still reads as documentation.
        default_at = next(
            (i for i, x in enumerate(lines) if re.match(rf"^\s*#\s*{re.escape(key)}\s*=", x)), None
        )
        if default_at is not None:
            lines.insert(default_at + 1, line)
        else:
            # Before the first [table] ([plugins.calendar], ...): after it the key would belong to the table.
            table_at = next((i for i, x in enumerate(lines) if re.match(r"^\s*\[", x)), None)
            if table_at is None:
                lines.append(line)
            else:
                lines.insert(table_at, line)
    return "\n".join(lines).rstrip("\n") + "\n"


def update_settings(values: dict) -> dict:
    """Validate `values` (a partial Settings), write them to config.toml, return the new public settings."""
    if not isinstance(values, dict):
        raise InputError("the body must be a JSON object of settings")
    unknown = [k for k in values if k not in Settings.model_fields]
    if unknown:
        raise InputError(f"unknown setting {unknown[0]!r}")
    locked = [k for k in values if k in CLI_ONLY]
    if locked:
        raise InputError(
            f"{locked[0]!r} can only be changed with the gum command line (it moves the database key)"
        )
    tables = [k for k in values if k in FILE_ONLY]
    if tables:
        raise InputError(f"{tables[0]!r} is set in config.toml ([{tables[0]}.NAME] tables), not through the API")
    if "model" in values and remote_model(str(values["model"])):
        raise InputError(
            f"a model at {remote_model(str(values['model']))} would receive every observation: that can only be "
            "set on the command line (gum start --model URL, or model = ... in config.toml)"
        )
    values = {k: v for k, v in values.items() if not (k in SECRET_FIELDS and v == MASK)}

    with _WRITE_LOCK:  # two writers at once would lose one's change
        _write(values)
    return public_settings()


def _write(values: dict) -> None:
    path = write_default_config()
    text = path.read_text()
    try:
        current = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path} is not valid TOML ({exc}): fix or delete it first") from None
    try:
        checked = Settings(**{**current, **values})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"setting {where!r}: {first['msg']}") from exc
    # Write what pydantic made of the values (e.g. "8" -> 8), so the file holds clean TOML types.
    clean = {k: getattr(checked, k) for k in values}
    new_text = _edit_lines(text, clean)
    expected = {**current, **clean}
    try:
        same = tomllib.loads(new_text) == expected
    except tomllib.TOMLDecodeError:
        same = False
    if not same:
        # A hand-written multi-line value confused the line editor: write the values plainly instead.
        new_text = "# gum's settings (rewritten by the API).\n" + "".join(
            f"{k} = {_toml_value(v)}\n" for k, v in expected.items()
        )
        try:
            same = tomllib.loads(new_text) == expected
        except tomllib.TOMLDecodeError:
            same = False
        if not same:  # never leave a file the agent cannot start with
            raise InputError("these values cannot be written to config.toml")
    tmp = path.with_suffix(".toml.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(new_text)
    os.replace(tmp, path)


__all__ = ["MASK", "config_path", "public_settings", "update_settings"]
