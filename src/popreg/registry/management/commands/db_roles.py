from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction

from popreg.registry.db_roles import grant_sql


class Command(BaseCommand):
    help = (
        "PostgreSQL: print (or with --apply run) the grants that let the application role "
        "only read and add rows to events, audit records and unit successions (数据库角色)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--app-role", required=True, help="role the application connects as")
        parser.add_argument("--owner-role", default="", help="role that owns the tables (migrations)")
        parser.add_argument("--apply", action="store_true", help="run the statements now")
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            statements = grant_sql(opts["app_role"], opts["owner_role"] or None)
        except ValueError as err:
            raise CommandError(str(err)) from err
        if not opts["apply"]:
            for sql in statements:
                self.stdout.write(sql + ";")
            return
        connection = connections[opts["database"]]
        if connection.vendor != "postgresql":
            raise CommandError(
                "数据库角色只适用于 PostgreSQL / database roles apply to PostgreSQL only"
            )
        with transaction.atomic(using=opts["database"]), connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
        self.stdout.write(f"已授权 / granted: {len(statements)} statements for {opts['app_role']}")
