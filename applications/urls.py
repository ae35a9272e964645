from django.urls import path

from applications import views

app_name = "applications"

urlpatterns = [
    path("mon-espace/", views.applicant_home, name="applicant-home"),
    path("instruction/", views.instructor_home, name="instructor-home"),
]
