"""Bearer tokens for the local API (one per plugin, with scopes, stored hashed) and the access log.

A token is shown once, when it is created; the database keeps only its sha256, so a copy of the database
does not grant access. Scopes:

    propositions:read   query and list propositions, status, calibration
    observations:read   raw observations (screen text): off unless asked for, it is the most sensitive data
    feedback:write      confirm, reject, edit, revoke, add propositions
    admin               everything, including tokens, settings, pause/resume (the tray app's own token)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import click

from .. import db as gum_db
from ..errors import GumError, NotFound
from ..times import iso, parse_time, utcnow

SCOPES = ("propositions:read", "observations:read", "feedback:write", "admin")
# What `gum token create NAME` grants when no --scope is given: reading propositions, nothing more.
DEFAULT_SCOPES = ("propositions:read",)
TRAY_NAME = "tray"
TOKEN_PREFIX = "gum_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class TokenError(GumError):
    """A token could not be created or revoked (bad name, unknown scope, name taken)."""


class NameTaken(TokenError):
    """A live token already has that name."""


@dataclass
class TokenInfo:
    """A stored token (never the secret itself)."""

    id: int
    name: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None = None
    revoked: bool = False

    def allows(self, scope: str | None) -> bool:
        """True when this token may use an endpoint needing `scope` (None: any valid token); admin: all."""
        return scope is None or scope in self.scopes or "admin" in self.scopes

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "scopes": list(self.scopes),
            "created_at": iso(self.created_at),
            "last_used_at": iso(self.last_used_at) if self.last_used_at else None,
            "revoked": self.revoked,
        }


def hash_token(token: str) -> str:
    """The sha256 (hex) under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits), prefixed so it is recognisable in a config file or a leak scanner."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def check_scopes(scopes) -> list[str]:
    """Scopes validated and de-duplicated, in canonical order; raises TokenError for an unknown one."""
    scopes = list(scopes)
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise TokenError(f"unknown scope {unknown[0]!r}: use {', '.join(SCOPES)}")
    return [s for s in SCOPES if s in scopes]


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise TokenError(
            f"token name {name!r} is not allowed: 1-64 letters, digits, '.', '_' or '-', starting with "
            "a letter or digit"
        )
    return name


def _row_to_info(row) -> TokenInfo:
    id_, name, scopes, created_at, last_used_at, revoked = row
    return TokenInfo(
        id=id_,
        name=name,
        scopes=json.loads(scopes or "[]"),
        created_at=parse_time(created_at),
        last_used_at=parse_time(last_used_at),
        revoked=bool(revoked),
    )


_COLS = "id, name, scopes, created_at, last_used_at, revoked"


def create_token(
    store, name: str, scopes=DEFAULT_SCOPES, *, token: str | None = None, _allow_reserved: bool = False
) -> tuple[str, TokenInfo]:
    """Create a token; returns (the secret, to show once; its stored info)."""
    check_name(name)
    if name == TRAY_NAME and not _allow_reserved:
        raise TokenError(f"the name {TRAY_NAME!r} is reserved for the tray app's own token")
    scopes = check_scopes(scopes)
    if not scopes:
        raise TokenError("a token needs at least one scope")
    secret = token or new_token()
    now = iso(utcnow())
    try:
        with store.transaction():
            cur = store.db.execute(
                "INSERT INTO api_tokens (name, token_hash, scopes, created_at) VALUES (?, ?, ?, ?)",
                [name, hash_token(secret), json.dumps(scopes), now],
            )
    except gum_db.IntegrityError as exc:  # the driver's class (sqlcipher3), not the stdlib's
        if "token_hash" in str(exc):
            raise TokenError("that token is already in use") from exc
        raise NameTaken(
            f"a token named {name!r} already exists: revoke it first or pick another name"
        ) from exc
    return secret, TokenInfo(id=cur.lastrowid, name=name, scopes=scopes, created_at=parse_time(now))


def register_tray_token(store, token: str) -> TokenInfo:
    """Store `token` (handed over by the tray) as the admin token named "tray", revoking any earlier one."""
    if not token or len(token) < 16:
        raise TokenError("the tray token must be at least 16 characters")
    now = iso(utcnow())
    with store.transaction():
        store.db.execute(
            "UPDATE api_tokens SET revoked = 1, revoked_at = ? WHERE name = ? AND revoked = 0",
            [now, TRAY_NAME],
        )
        # The same secret again (an agent restarted by the same tray): drop the old row, the hash is unique.
        store.db.execute("DELETE FROM api_tokens WHERE token_hash = ?", [hash_token(token)])
        _, info = create_token(store, TRAY_NAME, ["admin"], token=token, _allow_reserved=True)
    return info


def list_tokens(store, *, include_revoked: bool = True) -> list[TokenInfo]:
    """Every token, oldest first."""
    where = "" if include_revoked else " WHERE revoked = 0"
    rows = store.db.execute(f"SELECT {_COLS} FROM api_tokens{where} ORDER BY id").fetchall()
    return [_row_to_info(r) for r in rows]


def revoke_token(store, name: str) -> TokenInfo:
    """Revoke the live token called `name`: it stops working at once."""
    with store.transaction():
        row = store.db.execute(
            f"SELECT {_COLS} FROM api_tokens WHERE name = ? AND revoked = 0", [name]
        ).fetchone()
        if row is None:
            raise NotFound(f"no live token named {name!r} (see `gum token list`)")
        store.db.execute(
            "UPDATE api_tokens SET revoked = 1, revoked_at = ? WHERE id = ?", [iso(utcnow()), row[0]]
        )
    info = _row_to_info(row)
    info.revoked = True
    return info


def verify(store, token: str | None) -> TokenInfo | None:
    """The live token matching `token`, or None (unknown, revoked, or empty)."""
    if not token:
        return None
    digest = hash_token(token)
    row = store.db.execute(
        f"SELECT {_COLS}, token_hash FROM api_tokens WHERE token_hash = ? AND revoked = 0", [digest]
    ).fetchone()
    # The lookup is by hash, so timing says nothing about the secret; compare anyway, it costs nothing.
    if row is None or not hmac.compare_digest(row[6], digest):
        return None
    return _row_to_info(row[:6])


def log_access(store, token: TokenInfo, method: str, path: str, status: int, items: int = 0) -> None:
    """One line in the access log, and the token's last use, in one transaction."""
    now = iso(utcnow())
    with store.transaction():
        store.db.execute(
            "INSERT INTO api_access_log (at, plugin, method, path, status, items) VALUES (?, ?, ?, ?, ?, ?)",
            [now, token.name, method, path[:300], status, items],
        )
        store.db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [now, token.id])


def forget_access_before(store, when: datetime) -> int:
    """Drop access-log lines older than `when`; returns how many."""
    with store.transaction():
        return store.db.execute("DELETE FROM api_access_log WHERE at < ?", [iso(when)]).rowcount
def forget_tray_polls_before(store, when: datetime) -> int:
    """Drop the tray's status polls (one every few seconds) older than `when`; returns how many."""
    with store.transaction():
        return store.db.execute(
            "DELETE FROM api_access_log WHERE plugin = ? AND method = 'GET' AND path = '/v1/status' AND at < ?",
            [TRAY_NAME, iso(when)],
        ).rowcount


def access_log(store, *, limit: int = 100, plugin: str | None = None) -> list[dict]:
    """The newest access-log lines first."""
    sql = "SELECT at, plugin, method, path, status, items FROM api_access_log"
    params: list = []
    if plugin:
        sql += " WHERE plugin = ?"
        params.append(plugin)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    cols = ("at", "plugin", "method", "path", "status", "items")
    return [dict(zip(cols, r)) for r in store.db.execute(sql, params).fetchall()]


# -- `gum token` -------------------------------------------------------------------------------------------


def _store():
    from ..store import Store

    return Store()


@click.group("token")
def token_command() -> None:
    """Tokens that let plugins (chat clients, editors, `gum mcp`) use the local API."""


@token_command.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(SCOPES),
    help="Repeat for several. Default: propositions:read only.",
)
@click.option("--file", "path", type=click.Path(dir_okay=False), default=None,
              help="Write the token to this new file (mode 600) instead of printing it: nothing to copy, and it "
                   "never shows on a screen gum reads.")
def token_create(name: str, scopes: tuple[str, ...], path: str | None) -> None:
    """Create a token for plugin NAME and print it (shown only this once), or write it to a private file."""
    from ..handoff import write_file

    if path:
        from pathlib import Path

        target = Path(path).expanduser()
        if target.exists():  # checked before the token exists, so a refused file leaves no orphan token
            raise TokenError(f"{target} already exists: remove it first or pick another path")
    secret, info = create_token(_store(), name, scopes or DEFAULT_SCOPES)
    if path:
        written = write_file(path, secret)
        click.echo(f"Token {info.name!r} created with scopes: {', '.join(info.scopes)}; written to {written} "
                   "(mode 600). Only its hash is kept in gum's database.", err=True)
        return
    click.echo(secret)
    click.echo(
        f"Token {info.name!r} created with scopes: {', '.join(info.scopes)}. "
        "Copy it now: only its hash is kept. (--file PATH writes it to a private file instead; gum redacts its "
        "tokens from what it reads on screen.)",
        err=True,
    )


@token_command.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include revoked tokens.")
@click.option("--json", "as_json", is_flag=True)
def token_list(show_all: bool, as_json: bool) -> None:
    """The tokens, their scopes and when each was last used."""
    tokens = list_tokens(_store(), include_revoked=show_all)
    if as_json:
        click.echo(json.dumps([t.as_dict() for t in tokens], indent=2))
        return
    if not tokens:
        click.echo("No tokens. Create one with: gum token create NAME --scope propositions:read")
        return
    for t in tokens:
        used = iso(t.last_used_at) if t.last_used_at else "never used"
        state = " (revoked)" if t.revoked else ""
        click.echo(f"{t.name:<20} {', '.join(t.scopes):<45} created {iso(t.created_at)}, {used}{state}")


@token_command.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke the token of plugin NAME (it stops working at once)."""
    revoke_token(_store(), name)
    click.echo(f"Revoked {name!r}.")


@token_command.command("log")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--plugin", help="Only this plugin's accesses.")
@click.option("--json", "as_json", is_flag=True)
def token_log(limit: int, plugin: str | None, as_json: bool) -> None:
    """What plugins asked the API for: when, which endpoint, how many items they got."""
    entries = access_log(_store(), limit=limit, plugin=plugin)
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    if not entries:
        click.echo("No plugin has used the API yet.")
        return
    for e in entries:
        click.echo(
            f"{e['at']}  {e['plugin']:<16} {e['status']} {e['method']:<6} {e['path']}  {e['items']} items"
        )
