"""Bulk import pages, mounted at ``import/`` (namespace ``import``)."""

from django.urls import URLPattern, URLResolver, path

from popreg.registry import import_views as views

app_name = "import"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.index, name="index"),
    path("template.xlsx", views.download_template, {"fmt": "xlsx"}, name="template_xlsx"),
    path("template.csv", views.download_template, {"fmt": "csv"}, name="template_csv"),
    path("<str:job>/", views.job_page, name="job"),
    path("<str:job>/progress/", views.job_progress, name="progress"),
    path("<str:job>/commit/", views.job_commit, name="commit"),
    path("<str:job>/errors.csv", views.job_errors_csv, name="errors_csv"),
    path("<str:job>/errors.xlsx", views.job_errors_xlsx, name="errors_xlsx"),
]
