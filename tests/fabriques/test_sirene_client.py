"""The client of the API « Recherche d'entreprises » (fabriques/sirene.py).

No internet here: every test runs the client against a real HTTP server on 127.0.0.1 replaying
answers recorded from the API's public documentation (tests/fabriques/sirene_server.py).
"""

import os
import time
from pathlib import Path

import pytest
from django.core.cache import cache

from fabriques import sirene as sirene_module
from fabriques.sirene import LocalRateLimiter, RedisRateLimiter, Status, lookup_siret
from tests.fabriques.sirene_server import (
    CLOSED,
    FOUND,
    FOUND_AS_SIEGE,
    NOT_FOUND,
    Answer,
    SireneApi,
)


def test_a_found_establishment_gives_name_address_commune_category_naf_and_state(sirene: SireneApi):
    lookup = lookup_siret("834 910 218 00017")
    assert lookup.status is Status.FOUND
    establishment = lookup.establishment
    assert establishment is not None
    assert establishment.name == "LA FABRIQUE DU GERS"
    assert establishment.address == "1 PLACE DE LA MAIRIE"
    assert (establishment.postal_code, establishment.commune_code, establishment.commune_name) == (
        "32000",
        "32013",
        "AUCH",
    )
    assert establishment.departement_code == "32"
    assert establishment.legal_category == "9220"
    assert establishment.naf_code == "94.99Z"
    assert establishment.is_active and establishment.closed_on == ""
    # The SIRET is the query; one page of one unit is enough.
    assert sirene.script.requests == [{"q": [FOUND], "page": ["1"], "per_page": ["1"]}]


def test_an_establishment_given_only_as_the_head_office_is_found_with_its_address_parts(sirene: SireneApi):
    establishment = lookup_siret(FOUND_AS_SIEGE).establishment
    assert establishment is not None
    assert establishment.address == "4 ROUTE D'AUCH"
    assert establishment.commune_code == "32256" and establishment.legal_category == "5710"
    assert establishment.naf_code == "88.99B"


def test_a_closed_establishment_is_found_closed_with_its_date(sirene: SireneApi):
    lookup = lookup_siret(CLOSED)
    assert lookup.status is Status.FOUND
    assert lookup.establishment is not None
    assert not lookup.establishment.is_active
    assert lookup.establishment.closed_on == "2021-12-31"
    assert lookup.establishment.name == "ATELIERS PARTAGES DU COMMINGES"


def test_no_result_is_not_found(sirene: SireneApi):
    lookup = lookup_siret(NOT_FOUND)
    assert lookup.status is Status.NOT_FOUND and lookup.establishment is None
    assert lookup.answered


def test_a_unit_whose_listed_establishments_are_others_is_not_found(sirene: SireneApi):
    # The API answers the legal unit of the SIREN; another SIRET of it is not this establishment.
    sirene.play("83491021800025", Answer(fixture="found.json"))
    assert lookup_siret("83491021800025").status is Status.NOT_FOUND


def test_a_429_is_retried_after_the_delay_it_asks_then_succeeds(sirene: SireneApi):
    sirene.play(
        FOUND,
        Answer(status=429, fixture="rate_limited.json", headers={"Retry-After": "2"}),
        Answer(fixture="found.json"),
    )
    lookup = lookup_siret(FOUND)
    assert lookup.status is Status.FOUND
    assert sirene.count(FOUND) == 2
    assert sirene.waits == [2.0]


def test_a_429_without_retry_after_backs_off_exponentially(sirene: SireneApi):
    sirene.play(
        FOUND,
        Answer(status=429, fixture="rate_limited.json"),
        Answer(status=429, fixture="rate_limited.json"),
        Answer(fixture="found.json"),
    )
    assert lookup_siret(FOUND).status is Status.FOUND
    assert sirene.waits == [0.5, 1.0]


def test_a_500_is_retried_then_gives_up_as_unavailable_and_is_not_cached(sirene: SireneApi):
    sirene.play(FOUND, Answer(status=500, fixture="server_error.json"))
    lookup = lookup_siret(FOUND)
    assert lookup.status is Status.UNAVAILABLE and not lookup.answered
    assert sirene.count(FOUND) == 3  # the first try and SIRENE_API_RETRIES = 2
    assert sirene.waits == [0.5, 1.0]
    assert cache.get(f"{sirene_module.CACHE_PREFIX}{FOUND}") is None
    # The API is back: the next look-up asks it again.
    sirene.play(FOUND, Answer(fixture="found.json"))
    assert lookup_siret(FOUND).status is Status.FOUND


def test_a_timeout_is_retried_then_unavailable(sirene: SireneApi, settings):
    # Margins wide enough for a loaded machine: the answer comes 3 s after a 1 s timeout.
    settings.SIRENE_API_TIMEOUT = 1.0
    settings.SIRENE_API_RETRIES = 1
    sirene.play(FOUND, Answer(fixture="found.json", delay=3.0))
    lookup = lookup_siret(FOUND)
    assert lookup.status is Status.UNAVAILABLE
    assert sirene.count(FOUND) == 2
    assert sirene.waits == [0.5]


def test_a_timeout_then_an_answer_is_found(sirene: SireneApi, settings):
    settings.SIRENE_API_TIMEOUT = 1.0
    sirene.play(FOUND, Answer(fixture="found.json", delay=3.0), Answer(fixture="found.json"))
    assert lookup_siret(FOUND).status is Status.FOUND


def test_an_unreachable_api_is_unavailable(sirene: SireneApi, settings):
    settings.SIRENE_API_URL = "http://127.0.0.1:9"  # nothing listens there
    assert lookup_siret(FOUND).status is Status.UNAVAILABLE


def test_a_retry_after_beyond_ten_seconds_is_not_waited_for(sirene: SireneApi):
    sirene.play(FOUND, Answer(status=429, fixture="rate_limited.json", headers={"Retry-After": "120"}))
    assert lookup_siret(FOUND).status is Status.UNAVAILABLE
    assert sirene.count(FOUND) == 1 and sirene.waits == []


def test_answers_are_kept_a_day_per_siret_and_a_fresh_look_up_asks_again(sirene: SireneApi, settings):
    assert lookup_siret(FOUND).found
    assert lookup_siret(FOUND).found
    assert lookup_siret(NOT_FOUND).status is Status.NOT_FOUND
    assert lookup_siret(NOT_FOUND).status is Status.NOT_FOUND
    assert sirene.count(FOUND) == 1 and sirene.count(NOT_FOUND) == 1
    assert lookup_siret(FOUND, fresh=True).found
    assert sirene.count(FOUND) == 2
    assert settings.SIRENE_CACHE_SECONDS == 24 * 60 * 60


def test_the_look_up_is_off_without_a_url(settings):
    settings.SIRENE_API_URL = ""
    assert lookup_siret(FOUND).status is Status.DISABLED


def test_the_settings_keep_the_look_up_off_in_tests_and_on_in_production():
    from config.settings import base, test

    assert test.SIRENE_API_URL == ""
    assert base.SIRENE_API_RATE == 7
    production = Path(sirene_module.__file__).parent.parent / "config" / "settings" / "production.py"
    assert 'default="https://recherche-entreprises.api.gouv.fr"' in production.read_text(encoding="utf-8")


def test_the_local_window_grants_the_rate_then_says_how_long_to_wait():
    limiter = LocalRateLimiter(rate=7, window=0.2)
    assert [limiter.try_acquire() for _ in range(7)] == [0.0] * 7
    wait = limiter.try_acquire()
    assert 0 < wait <= 0.2
    time.sleep(wait + 0.01)
    assert limiter.try_acquire() == 0.0


def test_requests_wait_their_turn_under_the_rate_limit(sirene: SireneApi, settings, monkeypatch):
    settings.SIRENE_API_RATE = 2

    def sleep(seconds: float) -> None:
        sirene.waits.append(seconds)
        time.sleep(seconds)

    monkeypatch.setattr(sirene_module, "_sleep", sleep)
    lookups = [lookup_siret(siret) for siret in (FOUND, NOT_FOUND, CLOSED)]
    # Two a second: the third waited for the window to free a place, then was answered.
    assert [lookup.status for lookup in lookups] == [Status.FOUND, Status.NOT_FOUND, Status.FOUND]
    assert len(sirene.waits) == 1 and 0 < sirene.waits[0] <= 1.0


@pytest.mark.redis
def test_the_rate_limit_is_shared_by_every_process_through_redis():
    """Two limiters with their own connections stand for two processes (a web worker, a Celery
    worker): together they get 7 requests a second, not 7 each."""
    url = os.environ["CELERY_BROKER_URL"]
    key = f"sirene:test-rate-limit:{time.monotonic_ns()}"
    web, worker = RedisRateLimiter(url, 7, key=key), RedisRateLimiter(url, 7, key=key)
    granted = [web.try_acquire() for _ in range(4)] + [worker.try_acquire() for _ in range(3)]
    assert granted == [0.0] * 7
    assert 0 < web.try_acquire() <= 1.0
    assert 0 < worker.try_acquire() <= 1.0
    web.client.delete(key)


def test_a_redis_outage_falls_back_to_the_process_window():
    limiter = RedisRateLimiter("redis://127.0.0.1:9/0", 2)
    assert limiter.try_acquire() == 0.0 and limiter.try_acquire() == 0.0
    assert limiter.try_acquire() > 0
