"""The filters of the instructors' workspace, read from the query string."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from accounts.roles import has_role
from applications.forms_labels import LabelsField
from applications.models import Application, Call, Label, Wave
from applications.models.saved_views import SAVED_VIEW_NAME_MAX_LENGTH, SAVED_VIEW_QUERY_MAX_LENGTH
from applications.selectors import (
    ASSIGNED_TO_ME,
    NOT_ASSIGNED,
    OVERDUE,
    workspace_instructors,
    workspace_labels,
)
from core.widgets import FastSelect, FastTextInput, ListedModelChoiceField
from fabriques.models import Departement, Zone
from fabriques.selectors import departements_in_scope

S = Application.Status

# The states shown in the workspace's tabs; a draft belongs to its applicant alone.
WORKSPACE_STATUSES = (S.SUBMITTED, S.IN_REVIEW, S.CORRECTIONS, S.AWARDED, S.REFUSED, S.CLOSED)

SORT_CHOICES = [
    ("submitted", _("Date de dépôt, la plus ancienne d'abord")),
    ("-submitted", _("Date de dépôt, la plus récente d'abord")),
    ("-score", _("Note, la plus haute d'abord")),
    ("score", _("Note, la plus basse d'abord")),
    ("reference", _("Référence, croissante")),
    ("-reference", _("Référence, décroissante")),
    ("departement", _("Département, croissant")),
    ("-departement", _("Département, décroissant")),
]
DEFAULT_SORT = "submitted"
PER_PAGE_CHOICES = (10, 25, 50, 100)
DEFAULT_PER_PAGE = 25


class WaveChoiceField(ListedModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.call.title} – {obj.name}"


class PerPageField(forms.TypedChoiceField):
    """The number of rows per page, shown at its default when the query does not say: a select
    with no option selected shows its first (10), which the next « Filtrer » would then send."""

    def bound_data(self, data: Any, initial: Any) -> Any:
        return data or str(DEFAULT_PER_PAGE)


class WorkspaceFilterForm(forms.Form):
    """Every filter is optional; an invalid one is reported and ignored, the others still apply.

    Its thirteen widgets are drawn on every load of the instructors' list: they are core.widgets'
    Python-rendered ones (same HTML as Django's templates, a fraction of the time; issue 13).
    The labels' checkboxes, when some label exists, are drawn by the page's template as badges.
    """

    q = forms.CharField(
        label=_("Rechercher"),
        required=False,
        max_length=200,
        widget=FastTextInput,
        help_text=_("Intitulé, structure cheffe de file, SIRET ou référence."),
    )
    departement = ListedModelChoiceField(
        label=_("Département"),
        queryset=Departement.objects.none(),
        required=False,
        widget=FastSelect,
        to_field_name="code",
        # The value and str(Departement), read as tuples.
        columns=("code", "name"),
        label_from_columns=lambda code, name: f"{code} – {name}",
        empty_label=_("Tous les départements"),
        error_messages={"invalid_choice": _("Ce département ne fait pas partie de votre périmètre.")},
    )
    zone = forms.ChoiceField(
        label=_("Type de zone d'un lieu"),
        required=False,
        widget=FastSelect,
        choices=[("", _("Toutes les zones"))] + [(value, label) for value, label in Zone.choices if value],
    )
    kind = forms.ChoiceField(
        label=_("Type de fabrique"),
        required=False,
        widget=FastSelect,
        choices=[("", _("Tous les types"))] + list(Application.Kind.choices),
    )
    call = ListedModelChoiceField(
        label=_("Appel"),
        queryset=Call.objects.none(),
        required=False,
        widget=FastSelect,
        # The value and str(Call), read as tuples.
        columns=("pk", "title"),
        label_from_columns=lambda pk, title: title,
        empty_label=_("Tous les appels"),
        error_messages={"invalid_choice": _("Cet appel n'existe pas.")},
    )
    wave = WaveChoiceField(
        label=_("Vague"),
        queryset=Wave.objects.none(),
        required=False,
        widget=FastSelect,
        # The value and label_from_instance's label, read as tuples.
        columns=("pk", "call__title", "name"),
        label_from_columns=lambda pk, call_title, name: f"{call_title} – {name}",
        empty_label=_("Toutes les vagues"),
        error_messages={"invalid_choice": _("Cette vague n'existe pas.")},
    )
    status = forms.ChoiceField(
        label=_("État"),
        required=False,
        widget=FastSelect,
        choices=[("", _("Tous les états"))] + [(status.value, status.label) for status in WORKSPACE_STATUSES],
    )
    score_min = forms.DecimalField(
        label=_("Note minimale (sur 100)"),
        required=False,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        max_digits=4,
        decimal_places=1,
        localize=True,
        widget=FastTextInput,  # what DecimalField gives a localized field, rendered in Python
    )
    score_max = forms.DecimalField(
        label=_("Note maximale (sur 100)"),
        required=False,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        max_digits=4,
        decimal_places=1,
        localize=True,
        widget=FastTextInput,  # what DecimalField gives a localized field, rendered in Python
    )
    assigned = forms.ChoiceField(
        label=_("Affectation"),
        required=False,
        widget=FastSelect,
        # The instructors offered are added by __init__ (workspace_instructors).
        choices=[
            ("", _("Tous les dossiers")),
            (ASSIGNED_TO_ME, _("Affectés à moi")),
            (NOT_ASSIGNED, _("Non affectés")),
        ],
        error_messages={"invalid_choice": _("Cet instructeur n'est pas proposé ici.")},
    )
    overdue = forms.ChoiceField(
        label=_("Délai d'instruction"),
        required=False,
        widget=FastSelect,
        choices=[("", _("Tous les dossiers")), (OVERDUE, _("En retard seulement"))],
        help_text=_(
            "Au-delà du délai d'instruction de l'appel, ou des compléments attendus après leur date."
        ),
    )
    opinions_overdue = forms.ChoiceField(
        label=_("Avis d'experts"),
        required=False,
        widget=FastSelect,
        choices=[("", _("Tous les dossiers")), (OVERDUE, _("Avis en retard"))],
        help_text=_("Un avis demandé n'est pas rendu et sa date limite est passée."),
    )
    labels = LabelsField(
        label=_("Étiquettes"),
        help_text=_("Les dossiers qui portent au moins l'une des étiquettes cochées."),
    )
    sort = forms.ChoiceField(label=_("Trier par"), required=False, choices=SORT_CHOICES, widget=FastSelect)
    per_page = PerPageField(
        label=_("Dossiers par page"),
        required=False,
        widget=FastSelect,
        choices=[(str(number), str(number)) for number in PER_PAGE_CHOICES],
        coerce=int,
        empty_value=None,
    )

    def __init__(
        self,
        *args: Any,
        departements: QuerySet[Departement],
        listed_departements: Sequence[Departement] | None = None,
        labels: Sequence[Label] = (),
        instructors: Sequence[tuple[int, str]] = (),
        **kwargs: Any,
    ) -> None:
        """`listed_departements`: the rows of `departements`, when the page reads them anyway
        (the instructor's list shows them): the select's options are drawn from them.
        `labels`: the labels to filter on (applications.selectors.workspace_labels); without any,
        the form has no such field. `instructors`: (id, name) of the instructors the « Affectation »
        filter offers (applications.selectors.workspace_instructors)."""
        kwargs.setdefault("auto_id", "filtre-%s")
        super().__init__(*args, **kwargs)
        self.fields["departement"].queryset = departements  # type: ignore[attr-defined]
        if listed_departements is not None:
            self.fields["departement"].listed_choices = [  # type: ignore[attr-defined]
                (departement.code, str(departement)) for departement in listed_departements
            ]
        self.fields["call"].queryset = Call.objects.exclude(status=Call.Status.DRAFT).order_by(  # type: ignore[attr-defined]
            "-opens_at"
        )
        self.fields["wave"].queryset = Wave.objects.select_related("call").order_by(  # type: ignore[attr-defined]
            "-call__opens_at", "deadline"
        )
        self.fields["assigned"].choices = [  # type: ignore[attr-defined]
            *self.fields["assigned"].choices,  # type: ignore[attr-defined]
            *((str(pk), _("Affectés à %(name)s") % {"name": name}) for pk, name in instructors),
        ]
        if labels:
            several_calls = len({label.call_id for label in labels}) > 1
            self.fields["labels"].set_labels(labels, with_call=several_calls)  # type: ignore[attr-defined]
        else:
            del self.fields["labels"]

    def clean_assigned(self) -> str | int:
        """« me », « none », an instructor's id (an int), or "" (any)."""
        value: str = self.cleaned_data.get("assigned", "")
        return int(value) if value.isdigit() else value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        low, high = cleaned.get("score_min"), cleaned.get("score_max")
        if low is not None and high is not None and low > high:
            # Neither bound applies: keeping only one would be a guess.
            cleaned.pop("score_min")
            self.add_error(
                "score_max", _("La note maximale doit être supérieure ou égale à la note minimale.")
            )
        return cleaned

    def filters(self) -> dict[str, Any]:
        """The values that passed validation (call after is_valid()); invalid ones are left out."""
        return getattr(self, "cleaned_data", {})


# Kept by a saved view besides the form's fields: the tab it was saved on (the page falls back to
# the first tab on an unknown one, so it needs no validation).
SAVED_QUERY_EXTRA = ("tab",)


def saved_query(data: QueryDict) -> str:
    """The filters, sort and tab of a query string as a saved view stores them: only the filter
    form's fields and the tab, without empty values, in the form's order (the page and anything
    else left out), so that the same filters always give the same text."""
    kept = QueryDict(mutable=True)
    for name in (*WorkspaceFilterForm.base_fields, *SAVED_QUERY_EXTRA):
        values = [value for value in data.getlist(name) if value.strip()]
        if values:
            kept.setlist(name, values)
    return kept.urlencode()


def saved_query_cleaned(query: str, form: WorkspaceFilterForm) -> tuple[str, list[str]]:
    """The saved query with the values `form` (bound to it, validated) refused taken out, and the
    labels of the filters dropped: a label or an instructor gone since the view was saved."""
    data = QueryDict(query, mutable=True)
    dropped: list[str] = []
    for name in list(data):
        field = form.fields.get(name)
        if (field is not None or name in SAVED_QUERY_EXTRA) and name not in form.errors:
            continue
        if isinstance(field, forms.MultipleChoiceField):
            # Several labels: only those gone are dropped.
            kept = [value for value in data.getlist(name) if field.valid_value(value)]
            data.setlist(name, kept)
        else:
            del data[name]
        base = WorkspaceFilterForm.base_fields.get(name)
        dropped.append(str(base.label if base is not None else name))
    return saved_query(data), dropped


class SavedViewForm(forms.Form):
    """A name for the list's current filters and sort (`query`, carried by a hidden field)."""

    name = forms.CharField(
        label=_("Nom de la vue"),
        max_length=SAVED_VIEW_NAME_MAX_LENGTH,
        help_text=_("Par exemple : « Mes dossiers en retard », « Gers à noter »."),
    )
    query = forms.CharField(required=False, max_length=SAVED_VIEW_QUERY_MAX_LENGTH, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "vue-%s")
        super().__init__(*args, **kwargs)

    def clean_query(self) -> str:
        """Only the list's filters and sort, whatever was posted."""
        return saved_query(QueryDict(self.cleaned_data.get("query", "")))


class SavedViewRenameForm(forms.Form):
    name = forms.CharField(label=_("Nouveau nom de la vue"), max_length=SAVED_VIEW_NAME_MAX_LENGTH)


@dataclass(frozen=True)
class FilterChoices:
    """What the list's filter form offers a user, read once: `bind` draws the form for a query
    (the list's, or each saved view's on the page of views)."""

    is_admin: bool
    departements: QuerySet[Departement]
    # An instructor's départements, listed beside the table: read once, for the filter too.
    listed_departements: list[Departement] | None
    # The labels to filter on; the rows' labels are read only when some exist (one more query).
    labels: list[Any]
    instructors: list[tuple[int, str]]

    def bind(self, data: QueryDict) -> WorkspaceFilterForm:
        """The form bound to `data` and validated: invalid filters carry their error and are left
        out, never a 500."""
        form = WorkspaceFilterForm(
            data,
            departements=self.departements,
            listed_departements=self.listed_departements,
            labels=self.labels,
            instructors=self.instructors,
        )
        form.is_valid()
        return form


def workspace_filter_choices(user: User) -> FilterChoices:
    """The filter form's choices for `user`: their départements, the labels, the instructors."""
    is_admin = has_role(user, Role.ADMIN)
    departements: QuerySet[Departement] = (
        Departement.objects.order_by("code") if is_admin else departements_in_scope(instructor=user)
    )
    return FilterChoices(
        is_admin=is_admin,
        departements=departements,
        listed_departements=None if is_admin else list(departements),
        labels=workspace_labels(),
        instructors=workspace_instructors(user),
    )
