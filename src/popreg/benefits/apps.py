"""Family benefits: programmes as dated rules, eligibility runs, three-level public disclosure (三级三公示), approval, payments and stops."""
from django.apps import AppConfig


class BenefitsConfig(AppConfig):
    name = "popreg.benefits"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import popreg.benefits.runs  # noqa: F401  (registers the benefits_eligibility job kind)
