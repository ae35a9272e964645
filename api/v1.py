"""The read API, version 1 (django-ninja): /api/v1/.

Public endpoints (the published calls with their envelope figures, the laureates) need no token;
the others take `Authorization: Bearer <token>` and answer what the token's user may see in the
portal, through the same scoped querysets as the pages (api.selectors). Errors are JSON:
{"detail": "..."} with 400, 401, 403, 404, 422 or 429 (with Retry-After).
"""

from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from typing import Annotated, Any

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.db.models import QuerySet, TextChoices
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Path, Query, Schema
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, Throttled, ValidationError
from ninja.security import HttpBearer
from pydantic import Field

from accounts.models import User
from api import schemas
from api.docs import ServerRenderedDocs
from api.models import ApiToken
from api.ratelimit import rate_limit_hit
from api.selectors import (
    CURSOR_PATTERN,
    BadCursor,
    calls_for,
    dossiers_for,
    grants_for,
    laureates_of,
    may_read_dossiers,
    money,
    page_of,
    payments_for,
    public_call,
    token_authenticate,
    tranches_for,
)
from api.services import api_call_record
from applications.models import Application
from grants.models import Grant, Tranche
from grants.selectors.exports import KIND_SHORT


class TokenAuth(HttpBearer):
    """A bearer token of api.ApiToken: usable (not expired, not revoked, its user active), then
    counted against its rate limit."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = token_authenticate(token)
        if found is None:
            return None
        # Known from here on: the call is logged against this token, refused or not.
        request.api_token = found  # type: ignore[attr-defined]
        wait = rate_limit_hit(f"token:{found.pk}")
        if wait is not None:
            raise Throttled(wait)
        return found


api = NinjaAPI(
    title="Fabriques de territoires — API de lecture",
    version="1",
    description=(
        "Les appels et leur enveloppe, les dossiers, subventions, tranches et versements que le "
        "jeton peut voir, et les lauréats publics. Montants en euros, en chaînes à deux décimales ; "
        "dates ISO 8601 ; pagination par curseur (`next_cursor`)."
    ),
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs",
    docs=ServerRenderedDocs(),
)

ERRORS: dict[int, type[Schema]] = {code: schemas.Error for code in (400, 404, 422, 429)}
AUTH_ERRORS: dict[int, type[Schema]] = {**ERRORS, 401: schemas.Error, 403: schemas.Error}


# --- errors, all JSON with a French "detail" ----------------------------------------------------


def _error(request: HttpRequest, status: int, detail: str, **extra: Any) -> HttpResponse:
    return api.create_response(request, {"detail": detail, **extra}, status=status)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = _error(request, 401, _("Jeton d'API absent, inconnu, expiré ou révoqué."))
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


@api.exception_handler(AuthorizationError)
def _forbidden(request: HttpRequest, exc: AuthorizationError) -> HttpResponse:
    return _error(request, 403, str(exc))


@api.exception_handler(Throttled)
def _throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    response = _error(
        request, 429, _("Trop d'appels : réessayez dans %(seconds)d s.") % {"seconds": exc.wait}
    )
    response["Retry-After"] = str(exc.wait)
    return response


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _error(request, exc.status_code, str(exc))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, _("Introuvable, ou hors de ce que ce jeton peut voir."))


@api.exception_handler(BadCursor)
def _bad_cursor(request: HttpRequest, exc: BadCursor) -> HttpResponse:
    return _error(request, 400, _("Curseur invalide : reprenez celui de la page précédente."))


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", ""))}
        for error in exc.errors
    ]
    return _error(request, 422, _("Paramètres invalides."), errors=errors)


# --- parameters -----------------------------------------------------------------------------------

SLUG = r"^[-a-zA-Z0-9_]+$"
DEPARTEMENT = r"^(\d{2,3}|2[AB])$"


# Path parameters bounded to what an identifier can be (a NUL or a megabyte never reaches the database).
CallSlug = Annotated[str, Path(max_length=80, pattern=SLUG, description="Identifiant (slug) de l'appel.")]
DossierReference = Annotated[
    str, Path(max_length=20, pattern=r"^[A-Za-z0-9-]+$", description="Référence du dossier.")
]


class Paging(Schema):
    cursor: str | None = Field(
        None, pattern=CURSOR_PATTERN, description="Le `next_cursor` de la page précédente, tel quel."
    )
    limit: int = Field(50, ge=1, le=200, description="Lignes par page (200 au plus).")


class Filters(Paging):
    call: str | None = Field(None, max_length=80, pattern=SLUG, description="Identifiant (slug) de l'appel.")
    wave: int | None = Field(None, ge=1, le=32767, description="Numéro de la vague.")
    departement: str | None = Field(None, pattern=DEPARTEMENT, description="Code du département.")
    updated_since: datetime | None = Field(None, description="Modifiés depuis (ISO 8601).")


def _state(choices: type[TextChoices], what: str) -> Any:
    """A state filter as a pattern of its values: three enums all named « Status » by their models
    would share one name, hence one schema, in the OpenAPI document."""
    values = [choice.value for choice in choices]
    return Field(None, pattern=f"^({'|'.join(values)})$", description=f"{what} : {', '.join(values)}.")


class DossierFilters(Filters):
    etat: str | None = _state(Application.Status, "État du dossier")


class GrantFilters(Filters):
    etat: str | None = _state(Grant.Status, "État de la subvention")


class TrancheFilters(Filters):
    etat: str | None = _state(Tranche.Status, "État de la tranche")


class PaymentFilters(Paging):
    call: str | None = Field(None, max_length=80, pattern=SLUG)
    wave: int | None = Field(None, ge=1, le=32767)
    departement: str | None = Field(None, pattern=DEPARTEMENT)
    paid_since: date | None = Field(None, description="Versés depuis ce jour (ISO 8601).")


class LaureateFilters(Paging):
    departement: str | None = Field(None, pattern=DEPARTEMENT)


def _since(moment: datetime | None) -> datetime | None:
    """Bounded so that no offset can push it out of the years a datetime holds."""
    if moment is None:
        return None
    floor = datetime(1900, 1, 1, tzinfo=timezone.get_current_timezone())
    ceiling = datetime(9000, 1, 1, tzinfo=timezone.get_current_timezone())
    if moment.year < 1900:
        return floor
    if moment.year > 8999:
        return ceiling
    return moment


def _paid_since(day: date | None) -> date | None:
    return None if day is None else max(day, date(1900, 1, 1))


def _reader(request: HttpRequest) -> User:
    """The token's user, if the API lets their role read dossiers."""
    user: User = request.auth.user  # type: ignore[attr-defined]
    if not may_read_dossiers(user):
        raise AuthorizationError(message=_("Le rôle de ce compte ne donne pas accès aux dossiers par l'API."))
    return user


def _limit(value: int) -> int:
    return min(value, int(settings.API_MAX_PAGE_SIZE))


# --- public: calls and laureates -------------------------------------------------------------------


def _listed(rows: QuerySet[Any], paging: Paging, out: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """One page of `rows` (keyset on the id) in the list shape every list endpoint answers."""
    page = page_of(rows, cursor=paging.cursor, limit=_limit(paging.limit))
    return {"items": [out(row) for row in page.items], "next_cursor": page.next_cursor}


def _call_out(call: Any) -> dict[str, Any]:
    return {
        "slug": call.slug,
        "title": call.title,
        "status": call.status,
        "opens_at": call.opens_at,
        "closes_at": call.closes_at,
        "envelope": money(call.envelope),
        "committed": money(call.committed_amount),
        "paid": money(call.paid_total),
        "remaining": money(call.remaining_amount),
        "laureates": call.laureate_count,
        "target": call.target_count,
    }


@api.get("/calls", response={200: schemas.CallPage, **ERRORS}, url_name="call-list", tags=["Public"])
def call_list(request: HttpRequest, paging: Query[Paging]) -> dict[str, Any]:
    """Les appels publiés, avec leur enveloppe : engagé, versé, restant (public)."""
    _public_rate(request)
    return _listed(calls_for(None), paging, _call_out)


@api.get("/calls/{slug}", response={200: schemas.CallOut, **ERRORS}, url_name="call-detail", tags=["Public"])
def call_detail(request: HttpRequest, slug: CallSlug) -> dict[str, Any]:
    """Un appel publié et son enveloppe (public)."""
    _public_rate(request)
    call = calls_for(None).filter(slug=slug).first()
    if call is None:
        raise Http404
    return _call_out(call)


@api.get(
    "/calls/{slug}/laureates",
    response={200: schemas.LaureatePage, **ERRORS},
    url_name="laureate-list",
    tags=["Public"],
)
def laureate_list(request: HttpRequest, slug: CallSlug, filters: Query[LaureateFilters]) -> dict[str, Any]:
    """Les lauréats d'un appel : structure, département, montant, type (public ; personnes morales
    seulement, comme la liste publique du portail)."""
    _public_rate(request)
    call = public_call(slug)
    if call is None:
        raise Http404
    return _listed(
        laureates_of(call=call, departement=filters.departement),
        filters,
        lambda grant: {
            "id": grant.pk,
            "call": call.slug,
            "name": grant.lead_name,
            "departement": grant.application.departement_id,
            "kind": KIND_SHORT.get(grant.application.kind, grant.application.kind),
            "amount": money(grant.amount + grant.bonus),
        },
    )


def _public_rate(request: HttpRequest) -> None:
    """Public endpoints are limited per client address, as the token ones per token. The address is
    the one the login's lockout counts (django-axes, through django-ipware): behind
    `AXES_PROXY_COUNT` reverse proxies, the one they put in X-Forwarded-For; otherwise the peer's,
    the header then being the client's own word."""
    wait = rate_limit_hit(f"address:{get_client_ip_address(request) or ''}")
    if wait is not None:
        raise Throttled(wait)


# --- with a token: dossiers, grants, tranches, payments -------------------------------------------

token_auth = TokenAuth()


def _dossier_out(dossier: Any) -> dict[str, Any]:
    return {
        "reference": dossier.reference,
        "call": dossier.call.slug,
        "wave": dossier.wave.number if dossier.wave_id else None,
        "status": dossier.status,
        "status_label": str(dossier.get_status_display()),
        "kind": dossier.kind,
        "title": dossier.title,
        "departement": dossier.departement_id,
        "lead": {"name": dossier.lead_name, "siret": dossier.lead_siret},
        "created_at": dossier.created_at,
        "submitted_at": dossier.submitted_at,
        "updated_at": dossier.updated_at,
    }


@api.get(
    "/dossiers",
    response={200: schemas.DossierPage, **AUTH_ERRORS},
    auth=token_auth,
    url_name="dossier-list",
    tags=["Dossiers"],
)
def dossier_list(request: HttpRequest, filters: Query[DossierFilters]) -> dict[str, Any]:
    """Les dossiers que le compte du jeton peut ouvrir dans le portail."""
    dossiers = dossiers_for(
        _reader(request),
        call=filters.call,
        wave=filters.wave,
        status=filters.etat,
        departement=filters.departement,
        updated_since=_since(filters.updated_since),
    )
    return _listed(dossiers, filters, _dossier_out)


@api.get(
    "/dossiers/{reference}",
    response={200: schemas.DossierOut, **AUTH_ERRORS},
    auth=token_auth,
    url_name="dossier-detail",
    tags=["Dossiers"],
)
def dossier_detail(request: HttpRequest, reference: DossierReference) -> dict[str, Any]:
    """Un dossier, s'il est visible du compte du jeton (404 sinon)."""
    dossier = dossiers_for(_reader(request)).filter(reference=reference).first()
    if dossier is None:
        raise Http404
    return _dossier_out(dossier)


@api.get(
    "/grants",
    response={200: schemas.GrantPage, **AUTH_ERRORS},
    auth=token_auth,
    url_name="grant-list",
    tags=["Subventions"],
)
def grant_list(request: HttpRequest, filters: Query[GrantFilters]) -> dict[str, Any]:
    """Les subventions des dossiers visibles du compte du jeton."""
    grants = grants_for(
        _reader(request),
        call=filters.call,
        wave=filters.wave,
        status=filters.etat,
        departement=filters.departement,
        updated_since=_since(filters.updated_since),
    )
    return _listed(
        grants,
        filters,
        lambda grant: {
            "id": grant.pk,
            "dossier": grant.application.reference,
            "call": grant.call.slug,
            "amount": money(grant.amount),
            "bonus": money(grant.bonus),
            "committed": money(grant.amount + grant.bonus),
            "status": grant.status,
            "awarded_at": grant.awarded_at,
            "agreement": grant.agreement_number,
        },
    )


@api.get(
    "/tranches",
    response={200: schemas.TranchePage, **AUTH_ERRORS},
    auth=token_auth,
    url_name="tranche-list",
    tags=["Subventions"],
)
def tranche_list(request: HttpRequest, filters: Query[TrancheFilters]) -> dict[str, Any]:
    """Les tranches annuelles des subventions visibles du compte du jeton."""
    tranches = tranches_for(
        _reader(request),
        call=filters.call,
        wave=filters.wave,
        status=filters.etat,
        departement=filters.departement,
        updated_since=_since(filters.updated_since),
    )
    return _listed(
        tranches,
        filters,
        lambda tranche: {
            "id": tranche.pk,
            "grant": tranche.grant_id,
            "dossier": tranche.grant.application.reference,
            "call": tranche.grant.call.slug,
            "year": tranche.year_index,
            "amount": money(tranche.amount),
            "status": tranche.status,
            "due_date": tranche.due_date,
            "requested_at": tranche.requested_at,
            "validated_at": tranche.validated_at,
            "paid_on": tranche.paid_on,
        },
    )


@api.get(
    "/payments",
    response={200: schemas.PaymentPage, **AUTH_ERRORS},
    auth=token_auth,
    url_name="payment-list",
    tags=["Subventions"],
)
def payment_list(request: HttpRequest, filters: Query[PaymentFilters]) -> dict[str, Any]:
    """Les versements faits (tranches versées) des subventions visibles du compte du jeton."""
    payments = payments_for(
        _reader(request),
        call=filters.call,
        wave=filters.wave,
        departement=filters.departement,
        paid_since=_paid_since(filters.paid_since),
    )
    return _listed(
        payments,
        filters,
        lambda tranche: {
            "tranche": tranche.pk,
            "dossier": tranche.grant.application.reference,
            "call": tranche.grant.call.slug,
            "agreement": tranche.agreement_number,
            "beneficiary_siret": tranche.beneficiary_siret,
            "paid_on": tranche.paid_on,
            "amount": money(tranche.amount),
            "reference": tranche.payment_reference,
        },
    )


# --- every call logged against its token ---------------------------------------------------------


def _logged(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        token: ApiToken | None = getattr(request, "api_token", None)
        if token is not None:
            api_call_record(
                token=token, method=request.method or "", path=request.path, status=response.status_code
            )
        return response

    return wrapped


def urls() -> tuple[list[URLPattern | URLResolver], str, str]:
    """The API's URL patterns, each view wrapped so that a call made with a token is logged."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            pattern.callback = _logged(pattern.callback)
    return patterns, app_name, namespace
