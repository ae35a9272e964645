"""The retention table: how long each kind of data is kept, from when, and what happens after.

One table, read by the service that applies it (retention.services), by the RGPD notice
(pages/personal_data.html) and by docs/operations.md « Durées de conservation »: a duration
changed here changes all three. The sources of each figure are cited in docs/operations.md;
figures no text fixes are settings (config/settings/base.py), with the reason of the default.
"""

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class Action(StrEnum):
    # The dossier row, its organisations, amounts and decisions stay (open data, statistics, a
    # later dossier pointing to it); its uploaded files are deleted and its messages emptied.
    PURGE_FILES = "purge_files"
    WARN = "warn"
    DEACTIVATE = "deactivate"
    # Names, phone, job title and e-mail replaced; the row stays, since dossiers and audit rows
    # point to it.
    ANONYMISE = "anonymise"
    DELETE = "delete"


@dataclass(frozen=True)
class Rule:
    key: str
    data: str | Promise  # the kind of data, as the RGPD notice names it
    keep: timedelta
    start: str | Promise  # when the clock starts
    action: Action
    outcome: str | Promise  # what happens once the time has passed
    shown: str | Promise  # the duration, as the notice says it


def _years(count: int) -> timedelta:
    # 365 days a year: a few days more or less on ten years do not change what a rule means, and
    # the same figure gives the same answer whatever the calendar.
    return timedelta(days=365 * count)


def rules() -> list[Rule]:
    """The table, with the settings of this deployment."""
    refused = settings.RETENTION_REFUSED_DOSSIER_YEARS
    idle = settings.RETENTION_INACTIVE_ACCOUNT_YEARS
    notice = settings.RETENTION_INACTIVITY_NOTICE_DAYS
    return [
        Rule(
            key="grant_file",
            data=_(
                "Dossier d'un lauréat : pièces déposées, messages et leurs pièces jointes, pièces des avis "
                "d'experts, notes privées et commentaires de l'instruction"
            ),
            keep=_years(10),
            start=_("le dernier versement de la subvention, une fois la convention soldée ou résiliée"),
            action=Action.PURGE_FILES,
            outcome=_(
                "fichiers et notes privées supprimés, messages et commentaires (notations, éligibilité, "
                "avis d'experts) vidés ; montants, notes chiffrées, décisions et structures conservés "
                "(données essentielles publiées)"
            ),
            shown=_("10 ans"),
        ),
        Rule(
            key="closed_dossier",
            data=_(
                "Dossier refusé, classé sans suite, retiré ou brouillon abandonné : pièces déposées, "
                "messages et leurs pièces jointes, pièces des avis d'experts, notes privées et "
                "commentaires de l'instruction"
            ),
            keep=_years(refused),
            start=_("la décision de refus, le classement ou le retrait"),
            action=Action.PURGE_FILES,
            outcome=_(
                "fichiers et notes privées supprimés, messages et commentaires (notations, éligibilité, "
                "avis d'experts) vidés ; référence, structure, notes chiffrées et décision conservées"
            ),
            shown=_("%(years)s ans") % {"years": refused},
        ),
        Rule(
            key="inactive_account_warning",
            data=_("Compte sans connexion"),
            keep=_years(idle),
            start=_("la dernière connexion (ou l'inscription)"),
            action=Action.WARN,
            outcome=_("un courriel prévient la personne qu'une connexion garde son compte ouvert"),
            shown=_("%(years)s ans") % {"years": idle},
        ),
        Rule(
            key="inactive_account_deactivation",
            data=_("Compte sans connexion, après l'avertissement"),
            keep=timedelta(days=notice),
            start=_("le courriel d'avertissement, sans connexion depuis"),
            action=Action.DEACTIVATE,
            outcome=_("compte désactivé (sauf s'il porte une subvention en cours)"),
            shown=_("%(days)s jours") % {"days": notice},
        ),
        Rule(
            key="person",
            data=_("Nom, prénom, téléphone, fonction et adresse e-mail d'un compte désactivé"),
            keep=timedelta(0),
            start=_("la désactivation, une fois les fichiers de tous ses dossiers supprimés"),
            action=Action.ANONYMISE,
            outcome=_("données anonymisées ; le compte ne peut plus servir"),
            shown=_("jusqu'à la fin de conservation de ses dossiers"),
        ),
        Rule(
            key="login_attempts",
            data=_("Tentatives de connexion (adresse IP, navigateur, identifiant saisi)"),
            keep=timedelta(days=365),
            start=_("la tentative"),
            action=Action.DELETE,
            outcome=_("supprimées"),
            shown=_("1 an"),
        ),
        Rule(
            key="notifications",
            data=_("Notifications lues du centre de notifications"),
            keep=timedelta(days=365),
            start=_("la notification"),
            action=Action.DELETE,
            outcome=_("supprimées"),
            shown=_("1 an"),
        ),
        Rule(
            key="sent_emails",
            data=_("Courriels envoyés par le portail (copie : destinataires, objet, texte)"),
            keep=timedelta(days=365),
            start=_("l'envoi"),
            action=Action.DELETE,
            outcome=_("supprimés (les courriers PDF restent au dossier)"),
            shown=_("1 an"),
        ),
        Rule(
            key="sessions",
            data=_("Sessions de connexion"),
            keep=timedelta(0),
            start=_("leur expiration"),
            action=Action.DELETE,
            outcome=_(
                "supprimées ; les liens envoyés par courriel (confirmation, mot de passe) "
                "expirent d'eux-mêmes"
            ),
            shown=_("jusqu'à leur expiration"),
        ),
        Rule(
            key="audit_rows",
            data=_("Journal d'audit des actions (qui a fait quoi, quand)"),
            keep=_years(10),
            start=_("l'action"),
            action=Action.DELETE,
            outcome=_("supprimées"),
            shown=_("10 ans"),
        ),
    ]


def rule(key: str) -> Rule:
    return next(item for item in rules() if item.key == key)
