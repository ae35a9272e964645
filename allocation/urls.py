from django.urls import path

from allocation import views

app_name = "allocation"

urlpatterns = [
    path("pilotage/appels/<slug:slug>/scenarios/", views.scenario_list, name="scenario-list"),
    path("pilotage/appels/<slug:slug>/scenarios/calculer/", views.scenario_compute, name="scenario-compute"),
    path("pilotage/appels/<slug:slug>/scenarios/composer/", views.scenario_build_view, name="scenario-build"),
    path("pilotage/scenarios/<uuid:scenario_id>/", views.scenario_detail, name="scenario-detail"),
    path("pilotage/scenarios/<uuid:scenario_id>/comparer/", views.scenario_compare, name="scenario-compare"),
    path(
        "pilotage/scenarios/<uuid:scenario_id>/ordre-du-jour/", views.scenario_agenda, name="scenario-agenda"
    ),
]
