"""Duplicate review pages (mounted at ``linkage/``, namespace ``linkage``)."""

from django.urls import URLPattern, URLResolver, path

from popreg.linkage import views

app_name = "linkage"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.index, name="index"),
    path("candidates/<int:pk>/", views.candidate_detail, name="candidate"),
    path("candidates/<int:pk>/decide/", views.decide, name="decide"),
    path("candidates/<int:pk>/merge/", views.merge, name="merge"),
    path("merges/", views.merge_list, name="merges"),
    path("merges/<int:pk>/undo/", views.undo_merge, name="undo_merge"),
    path("runs/", views.runs, name="runs"),
    path("runs/start/", views.start_run, name="start_run"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/progress.json", views.run_progress, name="run_progress"),
    path("labels.csv", views.labels, name="labels"),
]
