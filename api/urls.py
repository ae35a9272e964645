from django.urls import path

from api import views

app_name = "api-tokens"

urlpatterns = [
    path("", views.token_list_view, name="token-list"),
    path("<int:token_id>/revoquer/", views.token_revoke_view, name="token-revoke"),
]
