from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "popreg.web"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Jurisdiction selects units by code prefix (popreg.registry.access filters
        # ``registered_unit_id__startswith``).  Django offers no ``startswith`` on a foreign
        # key, so register it on exactly the foreign keys to AdminUnit that are filtered
        # that way; their values are the unit codes themselves.
        from django.db.models.lookups import StartsWith

        from popreg.registry.models import Household, Person

        for model, field in ((Person, "registered_unit"), (Person, "residence_unit"), (Household, "unit")):
            f = model._meta.get_field(field)
            if "startswith" not in f.get_lookups():
                f.register_lookup(StartsWith)
