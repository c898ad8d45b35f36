"""`gum backup`: an encrypted, verified copy of the database, under the same key."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click


@click.command("backup")
@click.argument("output", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where the database lives (GUM_DATA_DIR).")
def backup_command(output, data_dir):
    """Write an encrypted copy of the database (default: gum-backup-<date>.db here)."""
    import os

    from .db import backup_db
    from .keys import protection

    if data_dir:
        os.environ["GUM_DATA_DIR"] = str(Path(data_dir).expanduser().resolve())
    output = output or Path(f"gum-backup-{datetime.now():%Y%m%d-%H%M%S}.db")
    counts = backup_db(output)
    rows = sum(n for name, n in counts.items() if not name.endswith(("_data", "_idx", "_docsize", "_config")))
    prot = protection()
    click.echo(f"Wrote {output} (encrypted, {rows} rows, verified).")
    click.echo(
        f"It opens only with this installation's key ({prot.store}: {prot.where}): keep a copy of the key "
        "somewhere safe too, apart from the backup."
    )
