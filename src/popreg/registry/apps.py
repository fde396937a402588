from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "popreg.registry"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "户籍登记 Registry"

    def ready(self) -> None:
        # Jurisdiction selects units by code prefix (``registered_unit_id__startswith``,
        # see popreg.registry.access).  The values of a foreign key to AdminUnit are the unit
        # codes themselves, but Django offers no ``startswith`` on a foreign key: register it
        # on every foreign key to AdminUnit (in any app), so the filter is a plain indexed LIKE on the
        # column, without a join.
        # Job kinds must be registered in every process, the worker included.
        import importlib

        from django.apps import apps
        from django.conf import settings
        from django.db.models.lookups import StartsWith

        import popreg.registry.auth_audit  # noqa: F401  (sign-in audit receivers)
        import popreg.registry.import_jobs  # noqa: F401
        from popreg.registry.models import AdminUnit

        for module in getattr(settings, "POPREG_JOB_MODULES", []):
            importlib.import_module(module)

        for model in apps.get_models():  # every app's models are loaded by now
            for field in model._meta.get_fields():
                if (
                    getattr(field, "many_to_one", False)
                    and field.related_model is AdminUnit
                    and "startswith" not in field.get_lookups()
                ):
                    field.register_lookup(StartsWith)
