"""The lead structure's establishment looked up again before a tranche is validated.

Money is about to go to a SIRET: the State's directory (fabriques/sirene.py) is asked, fresh, what
it says of it now. A closed establishment, one the directory no longer knows, or one whose name,
address or legal category differ from the structure's is an alert kept on the tranche (and shown on
the instruction page); the validation goes on, since the instructor judges. When the directory
does not answer, the tranche says « non vérifié » and nothing is blocked either.
"""

import re
import unicodedata
from dataclasses import dataclass

from django.utils.translation import gettext as _

from fabriques.models import Organisation
from fabriques.sirene import Establishment, Status, is_enabled, lookup_siret
from grants.models import EstablishmentCheck, Grant
from grants.services.agreements import lead_organisation


@dataclass(frozen=True)
class CheckResult:
    status: str
    note: str = ""


def _plain(text: str) -> str:
    """Compared without case, accents or punctuation: « Rue Dessoles » is « RUE DESSOLES »."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    letters = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", letters).split())


def _one_line(address: str, postal_code: str, commune_name: str) -> str:
    return f"{address}, {postal_code} {commune_name}"


def differences(organisation: Organisation, establishment: Establishment) -> list[str]:
    """What the portal and the directory disagree on: name, address, legal category."""
    found = []
    if _plain(organisation.name) != _plain(establishment.name):
        found.append(
            _("raison sociale : « %(portal)s » au portail, « %(directory)s » dans l'annuaire")
            % {"portal": organisation.name, "directory": establishment.name}
        )
    portal_address = f"{organisation.address} {organisation.postal_code} {organisation.commune_code}"
    directory_address = f"{establishment.address} {establishment.postal_code} {establishment.commune_code}"
    if _plain(portal_address) != _plain(directory_address):
        found.append(
            _("adresse : « %(portal)s » au portail, « %(directory)s » dans l'annuaire")
            % {
                "portal": _one_line(
                    organisation.address, organisation.postal_code, organisation.commune_name
                ),
                "directory": _one_line(
                    establishment.address, establishment.postal_code, establishment.commune_name
                ),
            }
        )
    if establishment.legal_category and organisation.legal_category_id != establishment.legal_category:
        found.append(
            _("catégorie juridique : %(portal)s au portail, %(directory)s dans l'annuaire")
            % {"portal": organisation.legal_category_id, "directory": establishment.legal_category}
        )
    return found


def lead_establishment_check(grant: Grant) -> CheckResult:
    """Ask the directory about the grant's lead structure (network: call it outside any lock)."""
    if not is_enabled():
        return CheckResult(EstablishmentCheck.NONE)
    organisation = lead_organisation(grant.application)
    if organisation is None:
        return CheckResult(EstablishmentCheck.NONE)
    lookup = lookup_siret(organisation.siret, fresh=True)
    if lookup.status is Status.UNAVAILABLE:
        return CheckResult(
            EstablishmentCheck.UNVERIFIED,
            _("L'annuaire des entreprises n'a pas répondu : l'établissement n'a pas pu être vérifié."),
        )
    if lookup.establishment is None:
        return CheckResult(
            EstablishmentCheck.NOT_FOUND,
            _("Le SIRET %(siret)s ne figure plus dans l'annuaire des entreprises.")
            % {"siret": organisation.siret_display},
        )
    if not lookup.establishment.is_active:
        closed_on = lookup.establishment.closed_on
        return CheckResult(
            EstablishmentCheck.CLOSED,
            _("L'établissement %(siret)s est fermé%(since)s selon l'annuaire des entreprises.")
            % {
                "siret": organisation.siret_display,
                "since": (_(" depuis le %(date)s") % {"date": "/".join(reversed(closed_on.split("-")))})
                if closed_on
                else "",
            },
        )
    found = differences(organisation, lookup.establishment)
    if found:
        return CheckResult(EstablishmentCheck.CHANGED, "; ".join(found) + ".")
    return CheckResult(EstablishmentCheck.OK)
