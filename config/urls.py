from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from api import v1 as api_v1
from config import views
from config.observability import health, metrics

admin.site.site_header = _("Fabriques de territoires — administration technique")
admin.site.site_title = _("Fabriques de territoires")

core_patterns = (
    [
        path("", views.home, name="home"),
        path("mentions-legales/", views.legal_notice, name="legal-notice"),
        path("donnees-personnelles/", views.personal_data, name="personal-data"),
        path("accessibilite/", views.accessibility, name="accessibility"),
    ],
    "core",
)

urlpatterns = [
    path("", include(core_patterns)),
    path("healthz", views.healthz, name="healthz"),
    path("healthz/live", health.healthz_live, name="healthz-live"),
    path("healthz/ready", health.healthz_ready, name="healthz-ready"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("compte/", include("accounts.urls")),
    path("", include("fabriques.urls")),
    path("", include("applications.urls")),
    path("", include("grants.urls")),
    path("", include("notifications.urls")),
    path("", include("allocation.urls")),
    # The read API (api/v1.py) and the admin's page of its tokens.
    path("api/v1/", api_v1.urls()),
    path("pilotage/jetons-api/", include("api.urls")),
    path("compte/", include("retention.urls")),
    path(f"{settings.ADMIN_URL}", admin.site.urls),
]

# French error pages (config/views.py): 400 and 500 are self-contained, 403 and 404 full pages.
handler400 = "config.views.bad_request"
handler403 = "config.views.permission_denied"
handler404 = "config.views.page_not_found"
handler500 = "config.views.server_error"
