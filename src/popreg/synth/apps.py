from django.apps import AppConfig


class SynthConfig(AppConfig):
    name = "popreg.synth"
    default_auto_field = "django.db.models.BigAutoField"
