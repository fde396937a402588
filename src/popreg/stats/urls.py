"""Statistics pages (namespace ``stats``): dashboards, dual-system estimate, annual report.

Targets, assessment and reconciliation pages live in ``popreg.stats.urls_assessment``
(namespace ``assess``), mounted beside this module under ``stats/`` in popreg.web.urls.
"""

from django.urls import URLPattern, URLResolver, path

from popreg.stats import views, views_periods

app_name = "stats"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.index, name="index"),
    path("refresh/", views.refresh, name="refresh"),
    path("dse/build/", views.dse_build, name="dse_build"),
    path("units/<str:code>/", views.unit_page, name="unit"),
    path("units/<str:code>/dse/", views.dse_page, name="dse"),
    path("units/<str:code>/report.pdf", views.report_pdf, name="report_pdf"),
    path("units/<str:code>/report.xlsx", views.report_xlsx, name="report_xlsx"),
    # closed periods (docs/periods.md)
    path("periods/", views_periods.period_list, name="period_list"),
    path("units/<str:code>/periods/", views_periods.unit_periods, name="periods"),
    path("units/<str:code>/periods/approve/", views_periods.approve, name="period_approve"),
]
