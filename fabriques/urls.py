from django.urls import path

from fabriques import views

app_name = "fabriques"

urlpatterns = [
    path("mon-espace/structures/", views.organisation_list, name="organisation-list"),
    path("mon-espace/structures/nouvelle/", views.organisation_create_view, name="organisation-create"),
    path("mon-espace/structures/<int:pk>/", views.organisation_detail, name="organisation-detail"),
]
