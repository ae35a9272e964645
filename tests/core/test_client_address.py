"""The client's address behind the reverse proxies (core/client_address.py), as django-axes reads it
for the login lockout and the read API for its public rate limit: the real client's, whatever a
client writes in X-Forwarded-For, for 0, 1 and 2 proxies in front."""

from typing import Any

import pytest
from axes.helpers import get_client_ip_address
from django.test import RequestFactory

from core.client_address import ipware_settings

CLIENT = "198.51.100.23"
FORGED = "6.6.6.6"


def address(settings: Any, proxies: int, remote: str, forwarded: str | None) -> str | None:
    settings.AXES_IPWARE_PROXY_COUNT, settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ipware_settings(proxies)
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return get_client_ip_address(RequestFactory().get("/", REMOTE_ADDR=remote, **headers))


def test_without_a_proxy_only_the_peer_counts(settings: Any) -> None:
    assert address(settings, 0, CLIENT, None) == CLIENT
    assert address(settings, 0, CLIENT, FORGED) == CLIENT


def test_behind_one_load_balancer_the_address_it_writes_counts(settings: Any) -> None:
    # The balancer (10.0.0.9) appends the address it received the request from.
    assert address(settings, 1, "10.0.0.9", CLIENT) == CLIENT
    # A client that writes its own entry first is not believed.
    assert address(settings, 1, "10.0.0.9", f"{FORGED}, {CLIENT}") != FORGED


def test_behind_two_proxies_the_first_ones_entry_counts(settings: Any) -> None:
    # A load balancer (10.0.0.9) in front of nginx (10.0.1.5): the header holds the client and the
    # balancer, nginx is the peer.
    assert address(settings, 2, "10.0.1.5", f"{CLIENT}, 10.0.0.9") == CLIENT
    assert address(settings, 2, "10.0.1.5", f"{FORGED}, {CLIENT}, 10.0.0.9") != FORGED


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="AXES_PROXY_COUNT"):
        ipware_settings(-1)
