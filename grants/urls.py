from django.urls import path

from grants import views

app_name = "grants"

urlpatterns = [
    path("pilotage/", views.admin_home, name="admin-home"),
    path("instruction/dossiers/<str:reference>/decision/", views.review_decide, name="review-decide"),
    path("instruction/dossiers/<str:reference>/rouvrir/", views.review_reopen, name="review-reopen"),
    path("instruction/decisions-groupees/", views.review_bulk, name="review-bulk"),
]
