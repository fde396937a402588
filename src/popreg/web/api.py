"""Read API (django-ninja).  Routers are added by each area."""

from django.contrib.auth.decorators import login_required
from ninja import NinjaAPI

from popreg.registry.api import router as registry_router

# The interactive docs and the schema are for logged-in users only (they name every path).
api = NinjaAPI(title="popreg API", version="1", docs_url="/docs", docs_decorator=login_required)
api.add_router("/", registry_router)
