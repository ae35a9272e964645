"""Liveness and readiness, for the orchestrator and the load balancer.

- /healthz/live: the process answers. No database, no broker: restarting a web process because
  PostgreSQL is down would fix nothing.
- /healthz/ready: this process may take traffic: the database answers and every migration of the
  code is applied (503 otherwise), so a release whose `migrate` has not run yet gets no request.
- /healthz (config/views.py) stays as it was, for the checks already pointed at it.
"""

import logging

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from config.views import check_database

logger = logging.getLogger(__name__)

# Once every migration is applied, it stays so for the life of this process (a release that adds
# some starts new processes): the migration graph, about a hundred files, is then read only once.
_migrations_applied = False


def _check_migrations() -> str:
    global _migrations_applied
    if _migrations_applied:
        return "ok"
    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception:
        logger.exception("Readiness: the migrations could not be read")
        return "error"
    if plan:
        return "pending"
    _migrations_applied = True
    return "ok"


@never_cache
def healthz_live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
def healthz_ready(request: HttpRequest) -> JsonResponse:
    checks = {"database": check_database()}
    checks["migrations"] = _check_migrations() if checks["database"] == "ok" else "unknown"
    ready = checks["database"] == "ok" and checks["migrations"] == "ok"
    return JsonResponse({"status": "ok" if ready else "error", **checks}, status=200 if ready else 503)
