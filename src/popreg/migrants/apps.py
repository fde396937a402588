from django.apps import AppConfig


class MigrantsConfig(AppConfig):
    name = "popreg.migrants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # a loaded snapshot's floating_in / floating_out persons get their migrant records
        from popreg.migrants.sync import after_load
        from popreg.registry.loading import register_post_load

        register_post_load(after_load)
        import popreg.migrants.jobs  # noqa: F401  (the migrant_import job kind)
