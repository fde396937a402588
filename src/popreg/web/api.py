"""Read API (django-ninja).  Routers are added by each area."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import ValidationError

from popreg.registry.api import router as registry_router
from popreg.registry.api_validation import router as validation_router
from popreg.stats.api import router as stats_router

# The interactive docs and the schema are for logged-in users only (they name every path).
api = NinjaAPI(title="popreg API", version="1", docs_url="/docs", docs_decorator=login_required)
api.add_router("/", registry_router)
api.add_router("/", validation_router)  # POST /api/validate: the plausibility rules, nothing saved
api.add_router("/", stats_router)  # closed periods: published and revised figures


@api.exception_handler(ValidationError)
def invalid_parameters(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """422 with the parameters named in both languages (``detail`` keeps pydantic's list)."""
    names = "、".join(sorted({str(e.get("loc", ["", "?"])[-1]) for e in exc.errors})) or "?"
    message = (f"参数无效：{names}（超出允许范围、过长或不是数字）；允许的取值见 /api/docs / "
               f"invalid parameter: {names.replace('、', ', ')} (out of range, too long or not a "
               "number); see /api/docs for the allowed values")
    return api.create_response(request, {"message": message, "detail": exc.errors}, status=422)
