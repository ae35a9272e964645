"""The read API's periodic task: the calls' log kept within its retention."""

from celery import shared_task

from api.services import api_calls_prune


@shared_task
def api_calls_prune_task() -> int:
    return api_calls_prune()
