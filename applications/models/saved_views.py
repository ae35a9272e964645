"""Saved views (« Mes vues ») of the instructors' list: a user's filters and sort, under a name.

A view belongs to one user, who alone sees it. It stores the list's query string (the filter
form's values only, applications.forms_workspace.saved_query): opening it validates them again
with the form, so a label or an instructor gone since is dropped with a message, never a 500.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

SAVED_VIEW_NAME_MAX_LENGTH = 60
SAVED_VIEW_QUERY_MAX_LENGTH = 2000


class SavedView(models.Model):
    """A named set of the instructors' list's filters and sort; the name is unique per user,
    whatever its case."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("utilisateur"),
        on_delete=models.CASCADE,
        related_name="saved_views",
    )
    name = models.CharField(_("nom de la vue"), max_length=SAVED_VIEW_NAME_MAX_LENGTH)
    query = models.CharField(_("filtres et tri"), max_length=SAVED_VIEW_QUERY_MAX_LENGTH)
    created_at = models.DateTimeField(_("créée le"), default=timezone.now)

    class Meta:
        verbose_name = _("vue enregistrée")
        verbose_name_plural = _("vues enregistrées")
        ordering = ("user", "name", "pk")
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                "user",
                name="applications_saved_view_name_once_per_user",
                violation_error_message=_("Vous avez déjà une vue de ce nom."),
            ),
            models.CheckConstraint(
                condition=~Q(name=""),
                name="applications_saved_view_named",
                violation_error_message=_("Donnez un nom à la vue."),
            ),
        ]

    def __str__(self) -> str:
        return self.name
