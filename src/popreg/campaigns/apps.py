from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "popreg.campaigns"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import popreg.campaigns.jobs  # noqa: F401  (registers the field list job kind)
