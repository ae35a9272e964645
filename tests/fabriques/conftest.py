"""The local stand-in for the API « Recherche d'entreprises » (tests/fabriques/sirene_server.py)."""

from tests.fabriques.sirene_server import sirene, sirene_api

__all__ = ["sirene", "sirene_api"]
