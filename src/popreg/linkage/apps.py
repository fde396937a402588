from django.apps import AppConfig


class LinkageConfig(AppConfig):
    name = "popreg.linkage"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        import popreg.linkage.jobs  # noqa: F401  (registers the dedup job kind)
        from popreg.linkage import index
        from popreg.registry.entry_check import register_duplicate_finder, register_persons_written
        from popreg.registry.loading import register_post_load
        from popreg.registry.models import Person

        # The duplicate check at data entry: the registry's forms ask, linkage answers;
        # the index of blocking keys follows every saved person and every load.
        register_duplicate_finder(index.find)
        register_post_load(index.after_load)
        register_persons_written(index.index_persons)
        post_save.connect(index.person_saved, sender=Person, dispatch_uid="linkage_entry_index")
