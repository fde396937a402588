from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "popreg.exchange"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # the delivery job kind (transport); what incoming messages do, and the
        # notifications of migrant events (semantics)
        from popreg.exchange import apply, jobs, notify  # noqa: F401
