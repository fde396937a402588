"""Campaign pages, mounted at ``campaigns/`` (namespace ``campaigns``)."""

from django.urls import URLPattern, URLResolver, path

from popreg.campaigns import views

app_name = "campaigns"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.index, name="index"),
    path("new/", views.create, name="create"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/advance/", views.advance, name="advance"),
    path("<int:pk>/generate/", views.generate, name="generate"),
    path("<int:pk>/items/", views.items, name="items"),
    path("<int:pk>/items/<int:item_pk>/", views.item_detail, name="item"),
    path("<int:pk>/summary/", views.summary, name="summary"),
    path("<int:pk>/summary.<str:fmt>", views.summary_export, name="summary_export"),
    path("<int:pk>/sign-off/", views.sign_off, name="sign_off"),
    path("<int:pk>/villages/<str:code>/workbook.xlsx", views.village_workbook, name="workbook"),
    path("<int:pk>/villages/<str:code>/list.pdf", views.village_pdf, name="field_list"),
    path("field-lists/<int:job>/download/", views.field_list_download, name="field_list_download"),
    path("<int:pk>/villages/<str:code>/upload/", views.upload, name="upload"),
    path("<int:pk>/villages/<str:code>/capture/", views.capture, name="capture"),
    path("<int:pk>/villages/<str:code>/capture/<int:person_pk>/", views.capture_person, name="capture_person"),
    path("<int:pk>/villages/<str:code>/found/", views.capture_found, name="capture_found"),
    path("<int:pk>/villages/<str:code>/spot-check/", views.spot_check, name="spot_check"),
]
