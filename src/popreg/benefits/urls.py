"""Pages of the benefits app (namespace ``benefits``)."""

from django.urls import URLPattern, URLResolver

app_name = "benefits"

urlpatterns: list[URLPattern | URLResolver] = []
