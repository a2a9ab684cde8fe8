from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path

from estafette import health, metrics_view, spa


def _on_first_request(make: Callable[[], Callable[..., HttpResponse]]) -> Callable[..., HttpResponse]:
    """A view made by ``make`` when it is first requested: drf-spectacular's views import its schema generator
    (with DRF's test client and unittest, ~4 MB), which a web process holds for good once imported and needs only
    when someone reads the API's documentation."""
    made: list[Callable[..., HttpResponse]] = []

    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not made:
            made.append(make())
        return made[0](request, *args, **kwargs)

    view.csrf_exempt = True  # type: ignore[attr-defined] - as DRF's views are
    return view


def _schema_view() -> Callable[..., HttpResponse]:
    from drf_spectacular.views import SpectacularAPIView

    return SpectacularAPIView.as_view()


def _swagger_view() -> Callable[..., HttpResponse]:
    from drf_spectacular.views import SpectacularSwaggerView

    return SpectacularSwaggerView.as_view(url_name="schema")


urlpatterns = [
    path("liveness", health.liveness),
    path("readiness", health.readiness),
    path("metrics", metrics_view.metrics),
    path("admin/", admin.site.urls),
    path("api/schema/", _on_first_request(_schema_view), name="schema"),
    path("api/docs/", _on_first_request(_swagger_view), name="swagger-ui"),
    path("api/", include("estafette.auth_api")),
    path("api/", include("estafette.config_api")),
    path("api/", include("estafette.access.sso")),
    path("api/", include("pipelines.urls")),
    path("api/", include("pipelines.access")),
    path("api/", include("estafette.access.api")),
    path("api/", include("runs.urls")),
    path("api/", include("builds.urls")),
    path("api/", include("releases.urls")),
    path("api/", include("integrations.urls")),
    # The web UI: built files WhiteNoise has not seen yet, and (last) every other path is a route
    # of the UI (history-mode fallback to index.html).
    re_path(spa.ASSET_PATH, spa.spa_asset, name="spa-asset"),
    re_path(spa.SPA_PATH, spa.spa_index, name="spa"),
]

handler404 = "estafette.lib.api.not_found"
handler500 = "estafette.lib.api.server_error"
