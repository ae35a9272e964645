"""Client of the State's « Recherche d'entreprises » API (https://recherche-entreprises.api.gouv.fr).

One question: what does the public directory know of the establishment with this SIRET? The API
needs no key; `GET /search?q=<siret>` answers the legal unit with, in `matching_etablissements`
(or as its `siege`), the establishment of that SIRET: address, commune (COG code), main activity
(NAF), administrative state (« A » active, « F » closed). The unit carries the name and the legal
category (`nature_juridique`).

- Off when `SIRENE_API_URL` is empty (demo, tests): `lookup_siret` answers DISABLED at once.
- Every request has a timeout; a 429, a 5xx, a timeout or a refused connection is retried with an
  exponential back-off (a `Retry-After` header, when sent, is the wait instead), at most
  `SIRENE_API_RETRIES` times. Past that, the answer is UNAVAILABLE: the caller carries on without
  (manual entry, « à vérifier »), never fails.
- Answers (found or not found) are kept a day per SIRET in Django's cache; UNAVAILABLE never is.
- The API takes 7 requests a second from one client. Every web and worker process shares that
  budget through Redis (a sliding window kept by one Lua script, timed by Redis's own clock so
  that hosts' clocks do not matter); without Redis (SQLite, `make demo`), or if Redis fails, each
  process keeps its own window.
"""

from __future__ import annotations

import email.utils
import enum
import logging
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import redis
import requests
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

CACHE_PREFIX = "sirene:v1:"
RATE_KEY = "sirene:rate-limit"
WINDOW_SECONDS = 1.0
# A request waits at most this long for its turn under the rate limit before giving up.
MAX_QUEUE_SECONDS = 5.0
# A Retry-After longer than this is not waited for: the look-up is then UNAVAILABLE.
MAX_RETRY_AFTER_SECONDS = 10.0
USER_AGENT = "fabriques-de-territoires (portail de l'appel a manifestation d'interet)"


class Status(enum.StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"
    DISABLED = "disabled"


@dataclass(frozen=True)
class Establishment:
    """What the directory says of one establishment, in the portal's own terms."""

    siret: str
    name: str
    address: str
    postal_code: str
    commune_code: str
    commune_name: str
    legal_category: str
    naf_code: str
    is_active: bool
    closed_on: str = ""

    @property
    def departement_code(self) -> str:
        """The département of the commune's COG code: 3 characters overseas (971…), else 2."""
        return self.commune_code[:3] if self.commune_code.startswith("97") else self.commune_code[:2]


@dataclass(frozen=True)
class Lookup:
    status: Status
    establishment: Establishment | None = None

    @property
    def found(self) -> bool:
        return self.status is Status.FOUND

    @property
    def answered(self) -> bool:
        """The directory answered (found or not): the portal may trust what it said."""
        return self.status in (Status.FOUND, Status.NOT_FOUND)


class Unavailable(Exception):
    """The API did not answer usefully after its retries."""


def is_enabled() -> bool:
    return bool(settings.SIRENE_API_URL)


# --- rate limit -----------------------------------------------------------------------------


class RateLimiter(Protocol):
    def try_acquire(self) -> float:
        """Take one request of the budget: 0 if granted, else the seconds to wait before asking again."""


class LocalRateLimiter:
    """A sliding window in this process's memory: the fallback without Redis."""

    def __init__(self, rate: int, window: float = WINDOW_SECONDS) -> None:
        self.rate, self.window = rate, window
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def try_acquire(self) -> float:
        with self._lock:
            now = time.monotonic()
            while self._sent and self._sent[0] <= now - self.window:
                self._sent.popleft()
            if len(self._sent) < self.rate:
                self._sent.append(now)
                return 0.0
            return max(self._sent[0] + self.window - now, 0.001)


# The window of every process: requests sent in the last second, scored by Redis's clock (ms).
_SLIDING_WINDOW = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(tonumber(oldest[2]) + window - now, 1)
"""


class RedisRateLimiter:
    """The window shared by every process through Redis; falls back to the local one if Redis fails."""

    def __init__(self, url: str, rate: int, window: float = WINDOW_SECONDS, key: str = RATE_KEY) -> None:
        self.rate, self.window, self.key = rate, window, key
        self.client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self.script = self.client.register_script(_SLIDING_WINDOW)
        self.fallback = LocalRateLimiter(rate, window)

    def try_acquire(self) -> float:
        try:
            wait_ms = self.script(
                keys=[self.key], args=[self.rate, int(self.window * 1000), uuid.uuid4().hex]
            )
        except redis.RedisError:
            logger.warning("sirene: Redis unreachable, rate limit kept in this process", exc_info=True)
            return self.fallback.try_acquire()
        return float(wait_ms) / 1000


_limiters: dict[tuple[str, int], RateLimiter] = {}
_limiters_lock = threading.Lock()


def rate_limiter() -> RateLimiter:
    """One limiter per process and configuration; Redis's when SIRENE_RATE_LIMIT_URL names one."""
    url, rate = settings.SIRENE_RATE_LIMIT_URL, settings.SIRENE_API_RATE
    with _limiters_lock:
        limiter = _limiters.get((url, rate))
        if limiter is None:
            if url.split("://", 1)[0] in {"redis", "rediss", "unix"}:
                limiter = RedisRateLimiter(url, rate)
            else:
                limiter = LocalRateLimiter(rate)
            _limiters[(url, rate)] = limiter
        return limiter


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _wait_for_turn(limiter: RateLimiter) -> None:
    waited = 0.0
    while (wait := limiter.try_acquire()) > 0:
        if waited + wait > MAX_QUEUE_SECONDS:
            raise Unavailable("rate limit: no turn within the queueing delay")
        _sleep(wait)
        waited += wait


# --- HTTP -----------------------------------------------------------------------------------


def _retry_after(response: requests.Response) -> float | None:
    """Seconds asked by a Retry-After header (a number, or an HTTP date), if any."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _get(siret: str) -> dict[str, Any]:
    """The API's JSON answer for this SIRET, after retries; Unavailable past them."""
    url = f"{settings.SIRENE_API_URL}/search"
    retries, backoff = settings.SIRENE_API_RETRIES, settings.SIRENE_API_BACKOFF
    limiter = rate_limiter()
    problem = ""
    for attempt in range(retries + 1):
        _wait_for_turn(limiter)
        wait = backoff * 2**attempt
        try:
            response = requests.get(
                url,
                params={"q": siret, "page": "1", "per_page": "1"},
                timeout=settings.SIRENE_API_TIMEOUT,
                headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            )
        except (requests.Timeout, requests.ConnectionError) as error:
            problem = f"{type(error).__name__}"
        else:
            if response.status_code == 200:
                try:
                    payload = response.json()
                except ValueError as error:
                    raise Unavailable("the API answered something that is not JSON") from error
                if not isinstance(payload, dict):
                    raise Unavailable("the API answered an unexpected document")
                return payload
            if response.status_code != 429 and response.status_code < 500:
                raise Unavailable(f"HTTP {response.status_code}")
            problem = f"HTTP {response.status_code}"
            asked = _retry_after(response)
            if asked is not None:
                if asked > MAX_RETRY_AFTER_SECONDS:
                    raise Unavailable(f"{problem}, Retry-After {asked:.0f} s")
                wait = asked
        if attempt < retries:
            logger.info("sirene: %s for %s, retry in %.2f s", problem, siret, wait)
            _sleep(wait)
    raise Unavailable(problem)


# --- the answer -----------------------------------------------------------------------------


def _street(etablissement: dict[str, Any]) -> str:
    """The street part of the address: the parts when given, else `adresse` without its town."""
    parts = [
        etablissement.get(name) or ""
        for name in ("numero_voie", "indice_repetition", "type_voie", "libelle_voie")
    ]
    street = " ".join(str(part) for part in parts if part)
    if street:
        complement = etablissement.get("complement_adresse") or ""
        return f"{complement} {street}".strip() if complement else street
    full = str(etablissement.get("adresse") or etablissement.get("adresse_complete") or "")
    postal_code = str(etablissement.get("code_postal") or "")
    if postal_code and postal_code in full:
        full = full[: full.rindex(postal_code)]
    return full.strip(" ,")


def parse(siret: str, payload: dict[str, Any]) -> Lookup:
    """The establishment of `siret` in a /search answer, or NOT_FOUND."""
    for unit in payload.get("results") or []:
        if not isinstance(unit, dict) or unit.get("siren") != siret[:9]:
            continue
        candidates = [*(unit.get("matching_etablissements") or []), unit.get("siege") or {}]
        etablissement = next((e for e in candidates if isinstance(e, dict) and e.get("siret") == siret), None)
        if etablissement is None:
            continue
        return Lookup(
            Status.FOUND,
            Establishment(
                siret=siret,
                name=str(unit.get("nom_raison_sociale") or unit.get("nom_complet") or "").strip(),
                address=_street(etablissement),
                postal_code=str(etablissement.get("code_postal") or ""),
                commune_code=str(etablissement.get("commune") or ""),
                commune_name=str(etablissement.get("libelle_commune") or ""),
                legal_category=str(unit.get("nature_juridique") or ""),
                naf_code=str(
                    etablissement.get("activite_principale") or unit.get("activite_principale") or ""
                ),
                is_active=etablissement.get("etat_administratif") == "A",
                closed_on=str(etablissement.get("date_fermeture") or ""),
            ),
        )
    return Lookup(Status.NOT_FOUND)


def lookup_siret(siret: str, *, fresh: bool = False) -> Lookup:
    """What the directory says of this SIRET. `fresh` skips the cached answer (re-checks), and
    stores the new one. Never raises for the API's sake: UNAVAILABLE says it could not be asked."""
    siret = re.sub(r"\D", "", siret)
    if not is_enabled():
        return Lookup(Status.DISABLED)
    key = f"{CACHE_PREFIX}{siret}"
    if not fresh:
        kept = cache.get(key)
        if kept is not None:
            establishment = kept.get("establishment")
            return Lookup(Status(kept["status"]), Establishment(**establishment) if establishment else None)
    try:
        lookup = parse(siret, _get(siret))
    except Unavailable as error:
        logger.warning("sirene: look-up of %s unavailable: %s", siret, error)
        return Lookup(Status.UNAVAILABLE)
    cache.set(
        key,
        {
            "status": lookup.status.value,
            "establishment": asdict(lookup.establishment) if lookup.establishment else None,
        },
        settings.SIRENE_CACHE_SECONDS,
    )
    return lookup
