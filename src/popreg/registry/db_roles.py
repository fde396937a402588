"""PostgreSQL roles: the application may add to history but never change it (数据库角色).

Two roles: a *migration role* that owns the tables (``popreg migrate`` runs as it) and an
*application role* that the web app, the API and the worker connect as.  The application
role gets ``SELECT, INSERT, UPDATE, DELETE`` on ordinary tables but only ``SELECT, INSERT``
on the append-only ones (:data:`~popreg.registry.append_only.APPEND_ONLY_TABLES`), and owns
nothing, so it can neither rewrite an event or an audit record nor drop the triggers that
guard them.  ``popreg db_roles`` prints (or applies) these statements; ``docs/operations.md``
explains the set-up.
"""

from __future__ import annotations

import re

from popreg.registry.append_only import APPEND_ONLY_TABLES

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _ident(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"role name {name!r}: use lower-case letters, digits and _ only")
    return name


def grant_sql(app_role: str, owner_role: str | None = None, schema: str = "public") -> list[str]:
    """Statements, run as the owner of the tables (after ``migrate``), that give
    ``app_role`` what the application needs and no more.  With ``owner_role``, tables and
    sequences that later migrations create get the same grants."""
    app, sch = _ident(app_role), _ident(schema)
    append_only = ", ".join(APPEND_ONLY_TABLES)
    sql = [
        f"GRANT USAGE ON SCHEMA {sch} TO {app}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {sch} TO {app}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {sch} TO {app}",
        f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {append_only} FROM {app}",
    ]
    if owner_role:
        owner = _ident(owner_role)
        sql += [
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {sch} "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {sch} "
            f"GRANT USAGE, SELECT ON SEQUENCES TO {app}",
        ]
    return sql
