"""`make chaos` (bench/chaos.py): the bench settings, with e-mails to a local SMTP sink and the
recovery delays shortened so that a run recovers in seconds rather than in minutes.

What differs from config/settings/bench.py, and why:

- e-mails leave by SMTP to EMAIL_URL (the harness's sink on loopback), as in production: the sink
  counts what really left, by Message-ID;
- the notifications sweep runs every 10 s and re-queues rows pending for 15 s (production: 5 and
  5 minutes), doubling that wait after each re-queue up to 60 s (production: up to 1 hour); an
  e-mail caught mid-send is taken back after 75 s (production: 10 minutes);
- the tasks' time limits (50 s soft, 60 s hard) stay below that 75 s, as production's 180 s stay
  below its 10 minutes, and the broker's visibility timeout (120 s) above them.
"""

from datetime import timedelta

from .base import env
from .bench import *  # noqa: F403
from .bench import CELERY_BEAT_SCHEDULE

vars().update(env.email_url("EMAIL_URL", default="smtp://127.0.0.1:25"))

NOTIFICATIONS_SWEEP_GRACE = timedelta(seconds=15)
NOTIFICATIONS_SWEEP_CEILING = timedelta(seconds=60)
NOTIFICATIONS_SENDING_STALE = timedelta(seconds=75)
CELERY_BEAT_SCHEDULE = {
    **CELERY_BEAT_SCHEDULE,
    "notifications-sweep": {**CELERY_BEAT_SCHEDULE["notifications-sweep"], "schedule": timedelta(seconds=10)},
}
CELERY_TASK_SOFT_TIME_LIMIT = 50
CELERY_TASK_TIME_LIMIT = 60
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 120}
