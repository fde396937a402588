"""Pages of the exchange app (namespace ``exchange``)."""

from django.urls import URLPattern, URLResolver

app_name = "exchange"

urlpatterns: list[URLPattern | URLResolver] = []
