"""Append-only tables enforced by the database (只增不改).

The models refuse ``save()`` of a stored row, ``delete()`` and query-set ``update()``/``delete()``
in Python (:class:`~popreg.registry.models.AppendOnlyQuerySet`), but raw SQL, a database shell
or another program would pass by them.  Triggers on the tables below refuse every ``UPDATE``
and ``DELETE`` of a row, on SQLite and on PostgreSQL; on PostgreSQL the application's database
role is also granted only ``SELECT`` and ``INSERT`` on them (``docs/operations.md``,
``popreg db_roles``).

``TRUNCATE`` (PostgreSQL) is not a row operation and fires no row trigger: the test runner
empties tables with it between transactional tests; the application role holds no
``TRUNCATE`` privilege, so in production it cannot either.
"""

from __future__ import annotations

#: The tables whose rows are never changed nor removed.
APPEND_ONLY_TABLES = ("registry_event", "registry_auditrecord", "registry_unitsuccession")

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION popreg_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rows of % are append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


def create_sql(vendor: str) -> list[str]:
    """The statements that install the triggers on ``vendor`` ("sqlite" or "postgresql")."""
    if vendor == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'rows of {table} are append-only: {op} refused'); END"
            for table in APPEND_ONLY_TABLES
            for op in ("UPDATE", "DELETE")
        ]
    if vendor == "postgresql":
        return [_PG_FUNCTION] + [
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION popreg_refuse_change()"
            for table in APPEND_ONLY_TABLES
        ]
    raise NotImplementedError(f"no append-only triggers for database vendor {vendor!r}")


def drop_sql(vendor: str) -> list[str]:
    """The statements that remove them (the migration's reverse; the SQLite test flush)."""
    if vendor == "sqlite":
        return [
            f"DROP TRIGGER IF EXISTS {table}_no_{op.lower()}"
            for table in APPEND_ONLY_TABLES
            for op in ("UPDATE", "DELETE")
        ]
    if vendor == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}" for table in APPEND_ONLY_TABLES
        ] + ["DROP FUNCTION IF EXISTS popreg_refuse_change()"]
    raise NotImplementedError(f"no append-only triggers for database vendor {vendor!r}")
