"""Trigram index for partial ID number search on PostgreSQL (LIKE '%1234%').

SQLite has no equivalent; there the search scans, which is fine at county size.  If the
database user may not create the pg_trgm extension, the index is skipped with a warning
and partial ID search still works, only slower.
"""

import warnings

from django.db import migrations, transaction


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic():
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            schema_editor.execute(
                "CREATE INDEX IF NOT EXISTS registry_person_id_number_trgm "
                "ON registry_person USING gin (id_number gin_trgm_ops)"
            )
    except Exception as exc:  # pragma: no cover - depends on database privileges
        warnings.warn(f"pg_trgm index not created: {exc}", stacklevel=1)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS registry_person_id_number_trgm")


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
