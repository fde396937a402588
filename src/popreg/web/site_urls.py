"""The site itself: login, home, and the registry pages (namespace ``registry``)."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.staticfiles import views as static_views
from django.urls import URLPattern, URLResolver, include, path, re_path

from popreg.registry import (
    views,
    views_accounts,
    views_audit,
    views_certificates,
    views_exports,
    views_households,
)
from popreg.web import home

registry_patterns = [
    path("search/", views.search, name="search"),
    path("units/<str:code>/", views.unit_detail, name="unit"),
    path("units/<str:code>/persons/", views.unit_persons, name="unit_persons"),
    path("units/<str:code>/persons.csv", views.unit_export, name="unit_export"),
    # full-ID person lists: a reason, and a second person for a county-wide list (registry)
    path("units/<str:code>/persons/full-id/", views_exports.full_id_export, name="unit_full_id"),
    path("exports/approvals/", views_exports.approvals, name="export_approvals"),
    path("exports/approvals/<int:pk>/approve/", views_exports.approve, name="export_approve"),
    path("exports/approvals/<int:pk>/download/", views_exports.download, name="export_download"),
    path("households/<str:number>/", views_households.household_detail, name="household"),
    # households and certificates (registry)
    path("households/<str:number>/head/", views_households.change_head, name="household_head"),
    path("households/<str:number>/split/", views_households.split, name="household_split"),
    path("households/<str:number>/merge/", views_households.merge, name="household_merge"),
    path("households/<str:number>/address/", views_households.change_address, name="household_address"),
    path("households/<str:number>/dissolve/", views_households.dissolve, name="household_dissolve"),
    path("persons/<int:pk>/certificate/", views_certificates.print_certificate, name="certificate"),
    path("certificates/verify/", views_certificates.verify, name="certificate_verify"),
    path("persons/<int:pk>/", views.person_detail, name="person"),
    path("persons/<int:pk>/death/", views.register_death, name="death"),
    path("persons/<int:pk>/move-out/", views.move_out, name="move_out"),
    path("persons/<int:pk>/transfer/", views.transfer, name="transfer"),
    path("persons/<int:pk>/marriage/", views.register_marriage, name="marriage"),
    path("persons/<int:pk>/divorce/", views.register_divorce, name="divorce"),
    path("persons/<int:pk>/enlistment/", views.register_enlistment, name="enlistment"),
    path("persons/<int:pk>/discharge/", views.register_discharge, name="discharge"),
    path("persons/<int:pk>/correct/", views.correct_person, name="correct"),
    path("register/birth/", views.register_birth, name="birth"),
    path("register/move-in/", views.register_move_in, name="move_in"),
    path("audit/", views_audit.audit_log, name="audit"),
    path("permissions/", views_audit.permissions_page, name="permissions"),
    path("users/", views_accounts.users_page, name="users"),
    path("users/new/", views_accounts.user_create, name="user_create"),
    path("users/<int:pk>/password/", views_accounts.user_password, name="user_password"),
    path("users/<int:pk>/deactivate/", views_accounts.user_deactivate, name="user_deactivate"),
    path("tokens/", views_accounts.tokens_page, name="tokens"),
    path("tokens/<int:pk>/revoke/", views_accounts.token_revoke, name="token_revoke"),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("otp/", views_accounts.otp_page, name="otp"),
    path("", home.home, name="home"),  # open work and headline figures (popreg.web.home)
    path("", include((registry_patterns, "registry"))),
    # The stylesheet and vendored files are served by Django itself, also without DEBUG, so
    # `popreg runserver` (make demo) and a small single-machine install look right without
    # a web server in front.  A front web server that serves STATIC_ROOT (after
    # `popreg collectstatic`) takes these requests first.
    re_path(rf"^{settings.STATIC_URL.lstrip('/')}(?P<path>.*)$", static_views.serve, {"insecure": True}),
]
