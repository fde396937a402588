from django.apps import AppConfig


class LinkageConfig(AppConfig):
    name = "popreg.linkage"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import popreg.linkage.jobs  # noqa: F401  (registers the dedup job kind)
