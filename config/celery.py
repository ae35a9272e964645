"""The Celery application, shared by the web processes (to send) and the workers (to run)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("fabriques")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
