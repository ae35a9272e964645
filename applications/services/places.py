"""The tiers-lieux a dossier is about."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from applications.models import Application
from applications.services.dossiers import ensure_editable
from fabriques.models import TiersLieu


@transaction.atomic
def application_set_places(*, application: Application, places: Iterable[TiersLieu], actor: User) -> None:
    application = Application.objects.select_for_update().get(pk=application.pk)
    ensure_editable(application)
    places = list(places)
    if not places:
        raise ValidationError({"places": _("Choisissez au moins un tiers-lieu.")})
    application.places.set(places)
    # A choice of territory among départements the places no longer have is forgotten.
    if application.chosen_departement_id is not None and application.chosen_departement_id not in {
        place.departement_id for place in places
    }:
        application.chosen_departement = None
        application.save(update_fields=["chosen_departement", "updated_at"])
