"""URL map.  Each area owns its own urls module; this file only mounts them."""

from django.contrib import admin
from django.urls import include, path

from popreg.web.api import api

# The Django admin is for superusers only (not merely staff), and read-only for registry
# records (see popreg.registry.admin).
admin.site.has_permission = lambda request: bool(request.user.is_active and request.user.is_superuser)  # type: ignore[method-assign]
admin.site.site_header = "popreg 管理后台"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("import/", include("popreg.registry.import_urls")),
    path("jobs/", include("popreg.registry.job_urls")),
    path("linkage/", include("popreg.linkage.urls")),
    path("campaigns/", include("popreg.campaigns.urls")),
    path("stats/", include("popreg.stats.urls_assessment")),
    path("stats/", include("popreg.stats.urls")),
    path("migrants/", include("popreg.migrants.urls")),
    path("exchange/", include("popreg.exchange.urls")),
    path("benefits/", include("popreg.benefits.urls")),
    path("planning/", include("popreg.planning.urls")),
    path("sources/", include("popreg.sources.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("popreg.web.site_urls")),
]
