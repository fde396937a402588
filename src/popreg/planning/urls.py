"""Pages of the planning app (namespace ``planning``)."""

from django.urls import URLPattern, URLResolver, path

from popreg.planning import views

app_name = "planning"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.index, name="index"),
    path("jobs/<int:pk>/", views.result, name="result"),
    path("jobs/<int:pk>/plan.pdf", views.plan_pdf, name="plan_pdf"),
    path("jobs/<int:pk>/plan.xlsx", views.plan_xlsx, name="plan_xlsx"),
    path("scenarios/", views.scenarios, name="scenarios"),
    path("norms/", views.norms, name="norms"),
]
