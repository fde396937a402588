from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "popreg.registry"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "户籍登记 Registry"
