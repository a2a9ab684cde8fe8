from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from estafette import health

urlpatterns = [
    path("liveness", health.liveness),
    path("readiness", health.readiness),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/", include("estafette.auth_api")),
    path("api/", include("pipelines.urls")),
    path("api/", include("builds.urls")),
    path("api/", include("releases.urls")),
]

handler404 = "estafette.lib.api.not_found"
handler500 = "estafette.lib.api.server_error"
