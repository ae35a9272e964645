"""Where the client's address is read from, behind the reverse proxies in front of the portal.

One rule for the login lockout (django-axes) and for the read API's public rate limit, both
through django-ipware. The setting `AXES_PROXY_COUNT` is the number of reverse proxies in front of
the web processes, each appending the address it received the request from to X-Forwarded-For.
The last of them connects to gunicorn, so it is `REMOTE_ADDR`, not an entry of the header: the
header as the portal receives it holds the client's address followed by the other proxies'. So
django-ipware's `proxy_count` (the proxies listed in the header, checked strictly) is one less
than the proxies in front: with a single load balancer, the header holds the client alone.

A header of another length (a client writing its own entries in front) is not believed: the
address is then the peer's or none, never the one the client wrote.

Imported by the settings: nothing of Django here.
"""


def ipware_settings(reverse_proxies: int) -> tuple[int | None, list[str]]:
    """(AXES_IPWARE_PROXY_COUNT, AXES_IPWARE_META_PRECEDENCE_ORDER) for `reverse_proxies` in front."""
    if reverse_proxies < 0:
        raise ValueError("AXES_PROXY_COUNT cannot be negative")
    if reverse_proxies == 0:
        # No proxy: the header is the client's own word; only the peer's address counts.
        return None, ["REMOTE_ADDR"]
    return reverse_proxies - 1, ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
