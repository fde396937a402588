"""Test URL map: the site's plus the assessment and reconciliation routes under stats/."""

from django.urls import include, path

from popreg.web.urls import urlpatterns as site_urlpatterns

urlpatterns = [path("stats/", include("popreg.stats.urls_assessment")), *site_urlpatterns]
