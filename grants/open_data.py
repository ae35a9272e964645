"""Open data: the « données essentielles » of a call's agreements in the SCDL « subventions » schema.

The schema (version 2.1.1, 16 columns) is vendored in grants/data/ (source and licence in NOTICE):
the columns' names and order, and which of them the schema requires, are read from that file, so
the header and the refusal below cannot drift from the published schema. The tests validate every
export against the same file with a Table Schema validator (frictionless).

A file that the schema would refuse is never written: `open_data_table` builds every row first
and raises `OpenDataError` (in French, naming the setting to fill in) when a required cell is
empty or the grantor's SIRET is not a valid SIRET; the command and the download both call it
before writing a byte. The rows of a call fit in memory (one per beneficiary structure of each
signed agreement: a few thousand at most).
"""

import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from django.db.models import ExpressionWrapper, F, Max, Min, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum.fr import siret as stdnum_siret

from applications.models import Application, Call, Member
from grants.models import Agreement, Grant, Tranche
from grants.selectors.exports import is_natural_person

SCHEMA_PATH = Path(__file__).resolve().parent / "data" / "scdl-subventions-2.1.1.schema.json"
_SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
SCHEMA_VERSION: str = _SCHEMA["version"]
OPEN_DATA_COLUMNS: tuple[str, ...] = tuple(field["name"] for field in _SCHEMA["fields"])
REQUIRED_COLUMNS: frozenset[str] = frozenset(
    field["name"] for field in _SCHEMA["fields"] if field.get("constraints", {}).get("required")
)
OBJECT_MAX_LENGTH: int = next(
    field["constraints"]["maxLength"] for field in _SCHEMA["fields"] if field["name"] == "objet"
)
# The schema's least `pourcentageSubvention` (0.01): a smaller share is raised to it (see below).
MIN_FRACTION = Decimal(
    str(next(f["constraints"]["minimum"] for f in _SCHEMA["fields"] if f["name"] == "pourcentageSubvention"))
)

# Agreements whose data is published: in force (signed, under way) or completed (settled); neither
# one awaiting signature nor one terminated or cancelled.
PUBLISHED_AGREEMENTS: tuple[str, ...] = (
    Agreement.Status.SIGNED,
    Agreement.Status.ACTIVE,
    Agreement.Status.COMPLETED,
)

# Above this amount an agreement is mandatory (loi 2000-321, art. 10) and its data published.
OPEN_DATA_THRESHOLD = Decimal("23000")
MONEY_PLACES = Decimal("0.01")
FRACTION_PLACES = Decimal("0.0001")
ELLIPSIS = "…"


class OpenDataError(Exception):
    """The export would not satisfy the schema; the message says, in French, what to fill in."""


def _where_from() -> dict[str, str]:
    """For each required column that data (not a constant) fills: where that data is set."""
    return {
        "nomAttribuant": _("le réglage « Autorité qui attribue » de l'appel"),
        "idAttribuant": _("le réglage « SIRET de l'autorité qui attribue » de l'appel"),
        "dateConvention": _("la date de signature de la convention"),
        "nomBeneficiaire": _("le nom de la structure bénéficiaire"),
        "objet": _("le titre du dossier"),
        "montant": _("le montant de la subvention"),
        "datesPeriodeVersement": _("les échéances des tranches ou les dates de la convention"),
    }


def _open_data_agreements(call: Call) -> QuerySet[Agreement]:
    live_tranche = ~Q(grant__tranches__status=Tranche.Status.CANCELLED)
    money = Grant._meta.get_field("amount")
    return (
        Agreement.objects.filter(
            grant__call=call,
            grant__status=Grant.Status.ACTIVE,
            status__in=PUBLISHED_AGREEMENTS,
            signed_at__isnull=False,
        )
        .annotate(total=ExpressionWrapper(F("grant__amount") + F("grant__bonus"), output_field=money))
        .filter(total__gt=OPEN_DATA_THRESHOLD)
        .annotate(
            first_due=Min("grant__tranches__due_date", filter=live_tranche),
            last_due=Max("grant__tranches__due_date", filter=live_tranche),
        )
        .select_related("grant__application")
        .prefetch_related(
            Prefetch(
                "grant__application__members",
                queryset=Member.objects.select_related("organisation").order_by(
                    "-is_lead", "organisation__name"
                ),
                to_attr="open_data_members",
            )
        )
        .order_by("signed_at", "number")
    )


def fraction_text(fraction: Decimal) -> str:
    """0.6 -> "0.60", 1 -> "1.00", 1/3 -> "0.3333": a point, at least two decimals."""
    value = fraction.quantize(FRACTION_PLACES).normalize()
    if value.as_tuple().exponent > -2:  # type: ignore[operator]
        value = value.quantize(MONEY_PLACES)
    return format(value, "f")


def beneficiary_fractions(shares: list[Decimal]) -> list[Decimal]:
    """Each positive share as a fraction of their total, to four decimals, none below the schema's
    0.01 and adding up to what the rounded fractions add up to.

    A partner with 0.5 % of the project is still a beneficiary and must be published: its fraction
    is raised to 0.01 (the least the schema accepts), and what it gains is taken from the largest
    fraction (the lead's, as a rule), so the beneficiaries' fractions still add up to 1. Merging
    the small partner into the lead instead would publish a grant to a structure as someone else's.
    """
    total = sum(shares, Decimal("0"))
    if total <= 0:
        return [Decimal("1")] * len(shares)
    fractions = [(share / total).quantize(FRACTION_PLACES, rounding=ROUND_HALF_UP) for share in shares]
    raised = Decimal("0")
    for index, fraction in enumerate(fractions):
        if fraction < MIN_FRACTION:
            raised += MIN_FRACTION - fraction
            fractions[index] = MIN_FRACTION
    if raised:
        largest = max(range(len(fractions)), key=lambda index: fractions[index])
        fractions[largest] -= raised
    return fractions


def truncate_on_word(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at the end of a word, followed by « … »."""
    if len(text) <= limit:
        return text
    head = text[: limit - len(ELLIPSIS)]
    if " " in head.strip():
        # Cut at the last space, unless the text went on with a space right after `head`.
        if text[len(head)] != " ":
            head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,;:.-–—«»") + ELLIPSIS


def grant_object(*, kind_label: str, title: str, call_title: str) -> str:
    """`objet`: « FT « titre » — appel », the dossier's title shortened on a word when the whole
    would pass the schema's 256 characters (the call's title, then the whole, failing that)."""

    def build(project: str) -> str:
        return _("%(kind)s « %(title)s » — %(call)s") % {
            "kind": kind_label,
            "title": project,
            "call": call_title,
        }

    text = build(title)
    if len(text) <= OBJECT_MAX_LENGTH:
        return text
    room = OBJECT_MAX_LENGTH - len(build(""))
    if room > len(ELLIPSIS) + 10:
        return build(truncate_on_word(title, room))
    return truncate_on_word(text, OBJECT_MAX_LENGTH)


def _local_date(moment: datetime | None) -> date | None:
    return timezone.localdate(moment) if moment is not None else None


def _payment_period(agreement: Agreement) -> str:
    first = getattr(agreement, "first_due", None) or agreement.starts_on
    last = getattr(agreement, "last_due", None) or agreement.ends_on
    if first is None:
        first = _local_date(agreement.signed_at)
    if first is None:
        return ""
    if last is None or last == first:
        return first.isoformat()
    return f"{first.isoformat()}/{last.isoformat()}"


def open_data_rows(call: Call) -> Iterator[list[Any]]:
    """The « données essentielles » of each signed agreement above 23 000 €, in the schema's order.

    One row per beneficiary structure, as the schema asks when a grant has several: every
    structure of the consortium with a positive share of the project, with that share as
    `pourcentageSubvention` (see beneficiary_fractions) and the grant's whole amount as `montant`
    (« montant total … avant répartition »). A dossier whose structures all have a nil share gets
    one row, its lead's, at 1.00. Legal persons only: a structure whose INSEE legal category is a
    natural person's (level I "1", entrepreneur individuel) is left out, so no person's name is
    ever published; nor any e-mail address, no user field being read.

    `referenceDecision` is the agreement's number; `rnaBeneficiaire` the association's RNA number
    when it has one; `datesPeriodeVersement` runs from the first to the last due date of the
    tranches (the agreement's dates, failing those); `dispositifAide` is the call's stable
    identifier (`Call.open_data_id`), the `id` of the call published as a « dispositif d'aide »
    (grants.open_data_files). Only agreements in force or completed (PUBLISHED_AGREEMENTS).
    """
    for agreement in _open_data_agreements(call).iterator(chunk_size=2000):
        application = agreement.grant.application
        members: list[Member] = list(getattr(application, "open_data_members", []))
        beneficiaries = [member for member in members if member.share_percent > 0]
        if not beneficiaries:
            beneficiaries = [member for member in members if member.is_lead]
        fractions = beneficiary_fractions([member.share_percent for member in beneficiaries])
        objet = grant_object(
            kind_label=str(Application.Kind(application.kind).label),
            title=application.title,
            call_title=call.title,
        )
        signed = _local_date(agreement.signed_at)
        amount = (agreement.grant.amount + agreement.grant.bonus).quantize(MONEY_PLACES)
        for member, fraction in zip(beneficiaries, fractions, strict=True):
            organisation = member.organisation
            if is_natural_person(organisation):
                continue
            yield [
                call.grantor_name,
                call.grantor_siret,
                signed,
                agreement.number,
                organisation.name,
                organisation.siret,
                organisation.rna,
                objet,
                amount,
                "aide en numéraire",
                "échelonné",
                _payment_period(agreement),
                "",
                "non",
                fraction_text(fraction),
                str(call.open_data_id),
            ]


def open_data_check_call(call: Call) -> None:
    """Refuse, before reading any row, a call whose grantor the schema could not identify."""
    if not call.grantor_name.strip():
        raise OpenDataError(_missing("nomAttribuant", call=call))
    if not call.grantor_siret.strip():
        raise OpenDataError(_missing("idAttribuant", call=call))
    if not stdnum_siret.is_valid(call.grantor_siret):
        raise OpenDataError(
            _(
                "Export des données ouvertes impossible : le réglage « SIRET de l'autorité qui "
                "attribue » de l'appel « %(call)s » (« %(siret)s ») n'est pas un SIRET valide "
                "(14 chiffres et clé de contrôle). Corrigez-le dans l'administration de l'appel."
            )
            % {"call": call.title, "siret": call.grantor_siret}
        )


def _missing(column: str, *, call: Call, reference: str = "") -> str:
    where = _where_from().get(column, column)
    message = _(
        "Export des données ouvertes impossible : la colonne « %(column)s », obligatoire dans le "
        "schéma « subventions », serait vide ; renseignez %(where)s (appel « %(call)s »)."
    ) % {"column": column, "where": where, "call": call.title}
    if reference:
        message += " " + _("Convention concernée : %(reference)s.") % {"reference": reference}
    return message


def open_data_table(call: Call) -> list[list[Any]]:
    """Every row of the call's open data, or OpenDataError if any required cell would be empty."""
    open_data_check_call(call)
    rows = list(open_data_rows(call))
    required = [(index, name) for index, name in enumerate(OPEN_DATA_COLUMNS) if name in REQUIRED_COLUMNS]
    reference_index = OPEN_DATA_COLUMNS.index("referenceDecision")
    for row in rows:
        for index, name in required:
            if row[index] is None or str(row[index]).strip() == "":
                raise OpenDataError(_missing(name, call=call, reference=str(row[reference_index])))
    return rows
