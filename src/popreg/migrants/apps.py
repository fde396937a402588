from django.apps import AppConfig


class MigrantsConfig(AppConfig):
    name = "popreg.migrants"
    default_auto_field = "django.db.models.BigAutoField"
