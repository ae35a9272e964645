"""The Redis transport of the broker, with one fix: a lost broker never ends a worker.

When Redis goes away under a worker, Celery 5.7 first collects the broken connection, then closes
it (`Consumer.on_connection_error_after_connected`). kombu 5.7's `Connection.collect()` drops the
transport's link to its connection (`transport.client = None`) but leaves the default channel
open when closing it failed (Redis was already gone). The close that follows closes that channel
again: it tries to give the unacknowledged messages back to Redis, builds a new connection pool,
reads the host from the dropped link and raises `AttributeError: 'NoneType' object has no
attribute 'hostname'`. An AttributeError is not a connection error, so `ignore_errors` lets it
through and the worker stops with « Unrecoverable error » (tests/integration/test_broker_outage.py
reproduces it). No released Celery or kombu fixes it yet (Celery 5.6 did not close after
collecting; kombu 5.7.0 is the latest).

Here a channel whose transport has lost its connection says so with a connection error, which the
worker's clean-up ignores as it ignores every other error of a dead broker; the consumer then
reconnects as usual. The messages it could not give back stay in Redis's unacknowledged set, and
Redis delivers them again after the visibility timeout; meanwhile the sweep re-queues the rows
still pending (tasks are idempotent: a second delivery does nothing).

Chosen by `CELERY_BROKER_TRANSPORT` for `redis://` and `rediss://` broker URLs.
"""

from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        if getattr(self.connection, "client", None) is None:
            raise RedisConnectionError("The broker connection of this channel is closed.")
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[misc]


class Transport(kombu_redis.Transport):
    Channel = Channel
