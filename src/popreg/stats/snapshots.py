"""The stored snapshots the statistics pages and jobs choose from (one directory each under
``POPREG_HOME/snapshots``).

A leaf: the assessment and reconciliation pages and the jobs they start all read it.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def snapshot_root() -> Path:
    """Where the pages look for snapshots: one directory per snapshot."""
    return Path(settings.POPREG_HOME) / "snapshots"


def snapshots() -> list[str]:
    """Names of the stored snapshots, newest first."""
    root = snapshot_root()
    if not root.is_dir():
        return []
    return sorted((p.name for p in root.iterdir() if (p / "manifest.json").is_file()), reverse=True)


def snapshot_path(name: str) -> Path | None:
    """The directory of snapshot ``name``, or None when there is no such stored snapshot."""
    if not name or name not in snapshots():
        return None
    return snapshot_root() / name
