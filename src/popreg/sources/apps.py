from django.apps import AppConfig


class SourcesConfig(AppConfig):
    name = "popreg.sources"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # the sources_import job kind, and the live source records in every snapshot of
        # the registry (so reconciliation and the anomaly rules read them)
        from popreg.registry.snapshot import register_source_rows
        from popreg.sources import feed, jobs  # noqa: F401

        register_source_rows(feed.snapshot_rows)
