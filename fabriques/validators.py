"""Checks of French administrative identifiers. Messages are in French, shown next to fields."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength
from stdnum.fr import siret as stdnum_siret

COMMUNE_CODE_RE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")
POSTAL_CODE_RE = re.compile(r"^\d{5}$")
RNA_RE = re.compile(r"^W\d{9}$")
NAF_RE = re.compile(r"^\d{2}\.\d{2}[A-Z]$")


def normalise_siret(value: str) -> str:
    return re.sub(r"[\s.\-]", "", value or "")


def validate_siret(value: str) -> None:
    """A SIRET is 14 digits with a Luhn key; python-stdnum also knows La Poste's exception."""
    number = normalise_siret(value)
    if not number.isdigit():
        raise ValidationError(
            _("Le SIRET ne doit contenir que des chiffres (14 chiffres)."), code="siret_format"
        )
    if len(number) != 14:
        raise ValidationError(
            _("Le SIRET doit compter 14 chiffres (il en compte %(count)d)."),
            code="siret_length",
            params={"count": len(number)},
        )
    try:
        stdnum_siret.validate(number)
    except (InvalidChecksum, InvalidFormat, InvalidLength) as error:
        raise ValidationError(
            _(
                "Ce SIRET n'est pas valide : vérifiez les chiffres saisis "
                "(la clé de contrôle ne correspond pas)."
            ),
            code="siret_checksum",
        ) from error


def format_siret(value: str) -> str:
    """Shown as "732 829 320 00074"."""
    number = normalise_siret(value)
    return stdnum_siret.format(number) if len(number) == 14 else number


def validate_commune_code(value: str) -> None:
    if value and not COMMUNE_CODE_RE.match(value):
        raise ValidationError(
            _(
                "Le code commune INSEE compte 5 caractères (par exemple 32013, ou 2A004 en Corse) ; "
                "ce n'est pas le code postal."
            ),
            code="commune_code",
        )


def validate_postal_code(value: str) -> None:
    if value and not POSTAL_CODE_RE.match(value):
        raise ValidationError(_("Le code postal compte 5 chiffres."), code="postal_code")


def validate_rna(value: str) -> None:
    if value and not RNA_RE.match(value):
        raise ValidationError(
            _("Le numéro RNA commence par W suivi de 9 chiffres (par exemple W321000123)."), code="rna"
        )


def validate_naf_code(value: str) -> None:
    if value and not NAF_RE.match(value):
        raise ValidationError(
            _("Le code NAF s'écrit 2 chiffres, un point, 2 chiffres et une lettre (par exemple 94.99Z)."),
            code="naf_code",
        )
