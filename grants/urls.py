from django.urls import include, path

from grants import views

app_name = "grants"

urlpatterns = [
    path("pilotage/", views.admin_home, name="admin-home"),
    path("", include("grants.urls_dashboard")),
    path("", include("grants.urls_exports")),
    path("", include("grants.urls_payments")),
    path("", include("grants.urls_agreements")),
    path("instruction/dossiers/<str:reference>/decision/", views.review_decide, name="review-decide"),
    path("instruction/dossiers/<str:reference>/rouvrir/", views.review_reopen, name="review-reopen"),
    path("instruction/decisions-groupees/", views.review_bulk, name="review-bulk"),
]
