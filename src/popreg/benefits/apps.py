from django.apps import AppConfig


class BenefitsConfig(AppConfig):
    name = "popreg.benefits"
    default_auto_field = "django.db.models.BigAutoField"
