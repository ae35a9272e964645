"""Links that leave the portal (in e-mails, PDFs, alerts): SITE_URL, never the request's Host.

A client chooses the Host header of its request; a link e-mailed to someone else must point at the
portal's own address, the one setting every environment sets (docs/settings.md).
"""

from typing import Any

from django.conf import settings
from django.urls import reverse


def absolute_url(view_name: str, **kwargs: Any) -> str:
    """The full address of a named URL of the portal, as e-mailed."""
    site: str = settings.SITE_URL
    return site + reverse(view_name, kwargs=kwargs or None)
