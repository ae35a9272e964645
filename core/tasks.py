from celery import shared_task

from core.page_cache import data_changes_prune


@shared_task
def data_changes_prune_task() -> int:
    return data_changes_prune()
