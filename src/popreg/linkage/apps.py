from django.apps import AppConfig


class LinkageConfig(AppConfig):
    name = "popreg.linkage"
    default_auto_field = "django.db.models.BigAutoField"
