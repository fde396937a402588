"""Routes of the assessment and reconciliation pages (mounted under ``stats/``)."""

from django.urls import URLPattern, URLResolver, path

from popreg.stats import views_assessment, views_reconciliation

app_name = "assess"

urlpatterns: list[URLPattern | URLResolver] = [
    path("assessment/", views_assessment.index, name="index"),
    path("assessment/jobs/<int:pk>/", views_assessment.job_result, name="assessment_job"),
    path("assessment/rules/", views_assessment.rule_sets, name="rules"),
    path("assessment/targets/", views_assessment.targets, name="targets"),
    path("assessment/targets/template.xlsx", views_assessment.target_template_view, name="target_template"),
    path("reconciliation/", views_reconciliation.index, name="reconciliation"),
    path("reconciliation/jobs/<int:pk>/", views_reconciliation.job_result, name="reconciliation_job"),
    path("reconciliation/items/<int:pk>/settle/", views_reconciliation.settle_item, name="settle_item"),
]
