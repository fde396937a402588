"""Read API (django-ninja).  Routers are added by each area."""

from ninja import NinjaAPI

api = NinjaAPI(title="popreg API", version="1", docs_url="/docs")
