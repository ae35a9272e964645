from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("notifications/", views.centre, name="centre"),
    path("notifications/<int:notification_id>/", views.notification_open, name="open"),
    path("notifications/tout-lu/", views.mark_all_read, name="mark-all-read"),
]
