"""Pages of the benefits app (namespace ``benefits``)."""

from django.urls import URLPattern, URLResolver, path

from popreg.benefits import views

app_name = "benefits"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.index, name="index"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/reproduce/", views.reproduce, name="reproduce"),
    path("runs/<int:pk>/decisions.csv", views.decisions_csv, name="decisions_csv"),
    path("runs/<int:pk>/publish/", views.publish, name="publish"),
    path("runs/<int:pk>/approve/", views.approve, name="approve"),
    path("runs/<int:pk>/villages/<str:code>/notice.pdf", views.notice_pdf, name="notice"),
    path("runs/<int:pk>/villages/<str:code>/list.<str:fmt>", views.public_list, name="list"),
    path("disclosures/<int:pk>/close/", views.close_disclosure, name="close"),
    path("disclosures/<int:pk>/objections/", views.raise_objection, name="object"),
    path("objections/<int:pk>/resolve/", views.resolve_objection, name="resolve"),
    path("payments/", views.payments, name="payments"),
    path("payments/<int:pk>/", views.batch_detail, name="batch"),
    path("payments/<int:pk>/file.<str:fmt>", views.batch_file, name="batch_file"),
    path("payments/<int:pk>/return/", views.batch_return, name="batch_return"),
    path("payments/<int:pk>/resubmit/", views.batch_resubmit, name="batch_resubmit"),
    path("recoveries/", views.recoveries, name="recoveries"),
    path("recoveries/<int:pk>/settle/", views.settle_recovery, name="settle"),
    path("applications/", views.applications, name="applications"),
    path("applications/<int:pk>/decide/", views.decide_application, name="decide"),
    path("persons/<int:pk>/", views.family, name="family"),
]
