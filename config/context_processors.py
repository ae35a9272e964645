from typing import Any

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, Any]:
    """What every page needs to draw the header, the navigation and the footer."""
    from accounts.roles import navigation_for

    return {
        "SERVICE_NAME": settings.SERVICE_NAME,
        "THEME": settings.PORTAL_THEME,
        "theme_dir": f"themes/{settings.PORTAL_THEME}",
        "navigation": navigation_for(request.user, request.path),
    }
