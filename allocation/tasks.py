"""The background computation of a large scenario, and the sweep of those left behind."""

from celery import shared_task
from django.db import OperationalError

from allocation.services import scenario_compute, scenarios_sweep


@shared_task(
    name="allocation.tasks.scenario_compute_task",
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    max_retries=5,
    soft_time_limit=300,
    time_limit=360,
)
def scenario_compute_task(scenario_id: str) -> None:
    """Solve a computed scenario; a done or failed one is left alone."""
    scenario_compute(scenario_id=scenario_id)


@shared_task(name="allocation.tasks.scenarios_sweep_task")
def scenarios_sweep_task() -> dict[str, int]:
    """Every five minutes: the scenarios left queued by a broker outage, or by a lost worker, go again."""
    return scenarios_sweep()
