"""The territory that instructs a dossier: the applicant's choice, and a programme admin's move."""

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.roles import has_role
from accounts.services import audit_record
from applications.models import Application, Message, TerritoryMove
from applications.selectors import application_territory, dossier_recipients
from applications.services.dossiers import ensure_editable
from core.links import absolute_url
from fabriques.models import Departement
from fabriques.selectors import instructors_covering
from notifications.services import email_queue

logger = logging.getLogger(__name__)

S = Application.Status


def _label(departement: Departement | None) -> str:
    if departement is None:
        return _("aucun département")
    return _("%(name)s (%(code)s), région %(region)s") % {
        "name": departement.name,
        "code": departement.code,
        "region": departement.region.name,
    }


@transaction.atomic
def application_choose_departement(
    *, application: Application, departement: Departement, actor: User
) -> Application:
    """The applicant chooses, among the départements of the dossier's places, the one that instructs it."""
    application = Application.objects.select_for_update().get(pk=application.pk)
    ensure_editable(application)
    territory = application_territory(application)
    if territory.settled:
        raise ValidationError(
            _(
                "Le dossier a déjà été déposé : son département d'instruction ne change plus que par "
                "l'administration du programme."
            ),
            code="settled",
        )
    if departement not in territory.choices:
        raise ValidationError(
            {"departement": _("Choisissez le département de l'un des lieux du dossier.")},
            code="not_a_place",
        )
    application.chosen_departement = departement
    application.full_clean()
    application.save(update_fields=["chosen_departement", "updated_at"])
    audit_record(
        actor=actor,
        action="application.choose_departement",
        target=application,
        data={"departement": departement.code},
    )
    return application


def territory_recipients(*, old: Departement | None, new: Departement) -> tuple[list[str], list[str]]:
    """Who hears of a move: the new territory's instructors, and the old one's who lose the dossier."""
    incoming = list(instructors_covering(departement=new).values_list("email", flat=True))
    outgoing: list[str] = []
    if old is not None:
        outgoing = [
            email
            for email in instructors_covering(departement=old).values_list("email", flat=True)
            if email not in incoming
        ]
    return sorted(incoming), sorted(outgoing)


def territory_move_check(*, application: Application, departement: Departement) -> None:
    """The rules of a move, also checked by the recap page before anything is confirmed."""
    if application.status in (S.DRAFT, S.WITHDRAWN):
        raise ValidationError(
            _("Seul un dossier déposé peut changer de département : celui-ci est « %(status)s ».")
            % {"status": S(application.status).label},
            code="state",
        )
    if application.departement_id == departement.pk:
        raise ValidationError(
            {"departement": _("Le dossier est déjà instruit dans ce département.")}, code="same"
        )


@transaction.atomic
def application_move_territory(
    *, application: Application, departement: Departement, reason: str, actor: User
) -> TerritoryMove:
    """A programme admin moves a submitted dossier to another département, with a reason.

    The dossier leaves the scope of the old territory's instructors (their assignments stay on
    record) and enters the new one's; both are told by e-mail, written here as rows, and so is the
    applicant, whose dossier is now instructed by other services of the State.
    """
    if not has_role(actor, Role.ADMIN):
        raise PermissionDenied(
            _("Seul un administrateur du programme peut changer le département d'un dossier.")
        )
    application = (
        Application.objects.select_for_update(of=("self",))
        .select_related("departement__region")
        .get(pk=application.pk)
    )
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Indiquez le motif du changement de département.")})
    territory_move_check(application=application, departement=departement)
    old = application.departement
    move = TerritoryMove(
        application=application, from_departement=old, to_departement=departement, reason=reason, actor=actor
    )
    move.full_clean()
    move.save()
    application.departement = departement
    application.full_clean()
    application.save(update_fields=["departement", "updated_at"])
    audit_record(
        actor=actor,
        action="application.move_territory",
        target=application,
        data={"from": old.pk if old else None, "to": departement.pk, "reason": reason},
    )
    incoming, outgoing = territory_recipients(old=old, new=departement)
    context = {
        "reference": application.reference,
        "title": application.title,
        "old": _label(old),
        "new": _label(departement),
        "reason": reason,
    }
    if incoming:
        email_queue(
            key=f"application:{application.pk}:territory-move:{move.pk}:to",
            to=incoming,
            subject=_("Dossier %(reference)s confié à votre territoire") % context,
            body=_(
                "Bonjour,\n\nLe dossier %(reference)s « %(title)s » est désormais instruit dans le "
                "département %(new)s (auparavant : %(old)s).\nMotif : %(reason)s\n\n"
                "Il vous attend à cette adresse :\n%(link)s\n\nL'équipe Fabriques de territoires"
            )
            % {
                **context,
                "link": absolute_url("applications:review-detail", reference=application.reference),
            },
        )
    if outgoing:
        email_queue(
            key=f"application:{application.pk}:territory-move:{move.pk}:from",
            to=outgoing,
            subject=_("Dossier %(reference)s transféré hors de votre territoire") % context,
            body=_(
                "Bonjour,\n\nLe dossier %(reference)s « %(title)s » n'est plus instruit dans le "
                "département %(old)s : il est confié au département %(new)s. Vous n'y avez plus accès.\n"
                "Motif : %(reason)s\n\nL'équipe Fabriques de territoires"
            )
            % context,
        )
    applicants = dossier_recipients(application, side=Message.Side.APPLICANT)
    if applicants:
        email_queue(
            key=f"application:{application.pk}:territory-move:{move.pk}:applicant",
            to=applicants,
            subject=_("Votre dossier %(reference)s est instruit dans un autre département") % context,
            body=_(
                "Bonjour,\n\nVotre dossier %(reference)s « %(title)s » est désormais instruit par les "
                "services de l'État du département %(new)s (auparavant : %(old)s).\nMotif : %(reason)s\n\n"
                "Rien ne change pour vous : le dossier et ses messages restent à la même adresse :\n"
                "%(link)s\n\nL'équipe Fabriques de territoires"
            )
            % {
                **context,
                "link": absolute_url("applications:dossier-detail", reference=application.reference),
            },
        )
    # Logged once the move is committed, never for a move rolled back.
    line = (
        "Dossier %s moved from département %s to %s by user %s",
        application.reference,
        old.pk if old else "-",
        departement.pk,
        actor.pk,
    )
    transaction.on_commit(lambda: logger.info(*line))
    return move
