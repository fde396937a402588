from django.apps import AppConfig


class StatsConfig(AppConfig):
    name = "popreg.stats"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # registers the statistics, assessment and reconciliation job kinds
        import popreg.stats.jobs  # noqa: F401
