"""What the view tests share: a client logged in as someone, and a page's text as its reader sees it."""

import html

from django.http import HttpResponse
from django.test import Client

from accounts.models import User


def logged(user: User) -> Client:
    """A client of its own (its own session and messages), logged in as `user`."""
    client = Client()
    client.force_login(user)
    return client


def text(response: HttpResponse) -> str:
    """The page with its HTML entities read (« l&#x27;appel » as « l'appel »)."""
    return html.unescape(response.content.decode())
