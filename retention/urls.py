from django.urls import path

from retention import views

app_name = "retention"

urlpatterns = [
    path("mes-donnees/", views.personal_data_download, name="personal-data-download"),
]
