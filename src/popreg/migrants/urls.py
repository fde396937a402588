"""Pages of the migrants app (namespace ``migrants``)."""

from django.urls import URLPattern, URLResolver, path

from popreg.migrants import views

app_name = "migrants"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.index, name="index"),
    path("in/", views.in_list, name="in_list"),
    path("in/new/", views.in_new, name="in_new"),
    path("in/<int:pk>/", views.in_detail, name="in_detail"),
    path("in/<int:pk>/move/", views.in_move, name="in_move"),
    path("in/<int:pk>/depart/", views.in_depart, name="in_depart"),
    path("in/<int:pk>/permit/", views.in_permit, name="in_permit"),
    path("permits/<int:pk>/renew/", views.permit_renew, name="permit_renew"),
    path("permits/expiring/", views.permits_expiring, name="permits_expiring"),
    path("permits/expiring.xlsx", views.permits_expiring_xlsx, name="permits_expiring_xlsx"),
    path("out/", views.out_list, name="out_list"),
    path("out/unknown/", views.out_unknown, name="out_unknown"),
    path("out/unknown.xlsx", views.out_unknown_xlsx, name="out_unknown_xlsx"),
    path("out/<int:pk>/", views.out_whereabouts, name="out_whereabouts"),
    path("places/", views.place_list, name="place_list"),
    path("places/new/", views.place_new, name="place_new"),
    path("places/<int:pk>/", views.place_detail, name="place"),
    path("occupants/<int:pk>/end/", views.occupant_end, name="occupant_end"),
    path("import/", views.import_page, name="import"),
    path("import/errors.csv", views.import_errors, name="import_errors"),
]
