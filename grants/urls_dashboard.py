"""The envelope's dashboard and its public summary, included in the grants namespace."""

from django.urls import path

from grants import views_dashboard

urlpatterns = [
    path("pilotage/appels/<slug:slug>/tableau-de-bord/", views_dashboard.dashboard, name="dashboard"),
    path("appels/<slug:slug>/enveloppe/", views_dashboard.public_summary, name="public-summary"),
]
