"""Pages of the outside-source app (namespace ``sources``)."""

from django.urls import URLPattern, URLResolver, path

from popreg.sources import views

app_name = "sources"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.index, name="index"),
    path("jobs/<int:pk>/", views.job, name="job"),
    path("jobs/<int:pk>/errors.<str:fmt>", views.job_errors, name="job_errors"),
    path("batches/<int:pk>/", views.batch, name="batch"),
    path("review/", views.review, name="review"),
    path("links/<int:pk>/", views.link, name="link"),
]
