"""Who is told of a decision and what follows it, and the letterhead every letter prints.

Shared by the decisions, the agreements, the payments and the reopening, so that none of them
imports another's module for it.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from applications.models import Application, Call, Message
from applications.selectors import dossier_recipients
from fabriques.models import OrganisationMembership

# The call's settings every letter and agreement prints (`Call.letterhead`): with one empty, a
# letter would go out unsigned or from nobody, so no decision nor agreement is issued until the
# programme fills it in (migration applications/0010 left the seeded call's signatory empty).
LETTERHEAD_SETTINGS: tuple[tuple[str, str], ...] = (
    ("signatory_name", gettext_noop("le nom du signataire")),
    ("signatory_title", gettext_noop("la qualité du signataire")),
    ("signature_place", gettext_noop("le lieu de signature")),
    ("grantor_name", gettext_noop("l'autorité qui attribue")),
)


def letterhead_check(call: Call, *, before: str) -> None:
    """Refuse, naming each empty setting of the call, what would print a letter without it.

    `before` ends the sentence: « avant de prendre une décision », « avant d'établir une convention ».
    """
    missing = [
        (name, label) for name, label in LETTERHEAD_SETTINGS if not (getattr(call, name) or "").strip()
    ]
    if missing:
        raise ValidationError(
            [
                ValidationError(
                    _(
                        "Renseignez %(setting)s de l'appel dans l'administration %(action)s "
                        "(champ « %(field)s » de l'appel « %(call)s »)."
                    )
                    % {
                        "setting": _(label),
                        "action": before,
                        "field": getattr(Call._meta.get_field(name), "verbose_name", name),
                        "call": call.title,
                    },
                    code="letterhead",
                )
                for name, label in missing
            ]
        )


def lead_legal_representative(application: Application) -> OrganisationMembership | None:
    """The lead structure's declared legal representative (the earliest declared when there are several)."""
    return (
        OrganisationMembership.objects.select_related("user", "organisation")
        .filter(
            is_legal_representative=True,
            user__is_active=True,
            organisation__application_memberships__application=application,
            organisation__application_memberships__is_lead=True,
        )
        .order_by("created_at", "pk")
        .first()
    )


def representative_recipients(application: Application) -> list[str]:
    """Who is told of what happens to a decided dossier: the lead's legal representative, or, when
    the structure declared none, the recipients of the decision letter (the dossier's applicant side)."""
    representative = lead_legal_representative(application)
    if representative is not None:
        return [representative.user.email]
    return dossier_recipients(application, side=Message.Side.APPLICANT)
