from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "popreg.exchange"
    default_auto_field = "django.db.models.BigAutoField"
