from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "popreg.planning"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # registers the planning_projection job kind
        import popreg.planning.jobs  # noqa: F401
