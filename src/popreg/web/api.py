"""Read API (django-ninja).  Routers are added by each area."""

from ninja import NinjaAPI

from popreg.registry.api import router as registry_router

api = NinjaAPI(title="popreg API", version="1", docs_url="/docs")
api.add_router("/", registry_router)
