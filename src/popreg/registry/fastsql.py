"""Fast row inserts for bulk paths (snapshot load, import).

``bulk_create`` spends most of its time preparing each value through the field classes;
for the plain types the bulk paths write (text, int, date, datetime, JSON) the database
driver's own adapters do the same far faster.  PostgreSQL: rows go in by COPY.  SQLite:
one ``executemany`` per call.  Callers run inside a transaction and pass values already
valid for their columns; nothing here validates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from django.db import connection, models


def insert_rows(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert ``rows`` (values in the order of ``fields``, which may include ``id``)."""
    meta = model._meta
    table = connection.ops.quote_name(meta.db_table)
    columns = [connection.ops.quote_name(meta.get_field(f).column) for f in fields]
    count = 0
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            from psycopg.types.json import Jsonb

            with cur.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([Jsonb(v) if isinstance(v, dict | list) else v for v in row])
                    count += 1
            return count
        ops = connection.ops
        memo: dict[Any, Any] = {}

        def adapt(v: Any) -> Any:
            t = type(v)
            if v is None or t is str or t is int or t is float:
                return v
            if t is dict or t is list:
                return json.dumps(v, ensure_ascii=False)
            if t is datetime:
                if v not in memo:
                    memo[v] = ops.adapt_datetimefield_value(v)
                return memo[v]
            if t is date:
                return v.isoformat()
            return v

        marks = ", ".join(["%s"] * len(columns))
        batch = [tuple(adapt(v) for v in row) for row in rows]
        cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", batch)
        return len(batch)
