from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from estafette import health, metrics_view, spa

# The OpenAPI description of client tokens (a drf-spectacular extension), registered where the schema is made: every
# schema generation loads the URLs, and the worker process, which loads none, imports no drf-spectacular.
from estafette.access import schema  # noqa: F401

urlpatterns = [
    path("liveness", health.liveness),
    path("readiness", health.readiness),
    path("metrics", metrics_view.metrics),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
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
