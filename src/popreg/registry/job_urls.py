"""Job pages, mounted at ``jobs/`` (namespace ``jobs``)."""

from django.urls import URLPattern, URLResolver, path

from popreg.registry import job_views as views

app_name = "jobs"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.job_list, name="list"),
    path("<int:pk>/", views.job_detail, name="detail"),
    path("<int:pk>/progress/", views.job_progress, name="progress"),
    path("<int:pk>/cancel/", views.job_cancel, name="cancel"),
    path("<int:pk>/retry/", views.job_retry, name="retry"),
]
