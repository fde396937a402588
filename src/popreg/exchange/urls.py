"""Pages of the exchange app (namespace ``exchange``) and the inbox endpoint of peers.

``inbox/`` is the endpoint other deployments POST signed messages to (no login: the
signature is the authentication); the others are pages for logged-in users."""

from django.urls import URLPattern, URLResolver, include, path

from popreg.exchange import views

app_name = "exchange"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.status_page, name="status"),
    path("inbox/", views.receive, name="receive"),
    path("outbox/", views.outbox_list, name="outbox"),
    path("outbox/<int:pk>/", views.outbox_detail, name="outbox_detail"),
    path("received/", views.inbox_list, name="inbox"),
    path("received/<int:pk>/", views.inbox_detail, name="inbox_detail"),
    path("deliver/", views.deliver, name="deliver"),
    path("requeue/", views.requeue, name="requeue"),
    path("review/", include("popreg.exchange.urls_review")),  # review queue (semantics)
]
