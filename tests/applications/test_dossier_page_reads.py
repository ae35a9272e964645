"""Issue 13: the dossier page (applicant and instruction views) reads each panel once, in its view.

What the pages show must not change: the territory and the completeness read from data the page
already holds are those read from the database; the review page's panels keep their rows, their
order and their totals as they grow, in the same number of queries; the empty review forms kept
per process are byte for byte crispy's rendering.
"""

from decimal import Decimal
from typing import Any
from unittest.mock import patch

import pytest
from crispy_forms.templatetags.crispy_forms_filters import as_crispy_form
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import translation

from applications import forms_review
from applications.models import Application
from applications.selectors import application_completeness, application_territory
from applications.services import application_choose_departement
from applications.services.review import (
    annotation_add,
    assignment_attest_no_conflict,
    assignment_create,
    instructor_totals,
    message_post,
    opinion_give,
    opinion_request,
    scores_save,
)
from applications.templatetags.static_forms import crispy_static
from fabriques.models import Departement, TiersLieu
from tests.factories import (
    CallFactory,
    complete_application,
    in_review_application,
    occitanie_instructor,
    submitted_application,
)
from tests.grants.test_page_queries import INSTRUCTOR_DOSSIER_QUERIES, queries_of

pytestmark = pytest.mark.django_db

STATIC_FORMS = (
    forms_review.ConflictForm,
    forms_review.AttestationForm,
    forms_review.AnnotationForm,
    forms_review.MessageForm,
    forms_review.RefuseForm,
    forms_review.CloseForm,
    forms_review.ReopenForm,
)


def gers_dossier_with_a_paris_place() -> Application:
    """A draft with a place in the Gers (32) and one in Paris (75)."""
    application: Application = complete_application()
    n = Application.objects.count()
    application.places.add(
        TiersLieu.objects.create(
            name=f"Coworking {n}",
            commune_name="Paris",
            postal_code="75006",
            departement_id="75",
            source=TiersLieu.Source.CGET_2019,
            source_id=f"paris-{n}",
        )
    )
    return application


def territory_facts(application: Application, **given: Any) -> tuple[object, ...]:
    territory = application_territory(application, **given)
    return (
        territory.departement,
        territory.choices,
        territory.chosen,
        territory.settled,
        territory.regions,
        territory.needs_choice,
        territory.stale_choice,
        territory.region,
    )


def places_of(application: Application) -> list[Any]:
    return list(application.places.select_related("departement__region"))


def missing_of(application: Application, **given: Any) -> dict[str, list[str]]:
    return {section.key: section.missing for section in application_completeness(application, **given)}


def test_the_territory_from_the_places_is_the_one_read_from_the_database() -> None:
    application = gers_dossier_with_a_paris_place()  # two départements, none chosen yet
    cases = [application]
    chosen = gers_dossier_with_a_paris_place()
    application_choose_departement(
        application=chosen, departement=Departement.objects.get(code="75"), actor=chosen.created_by
    )
    chosen.refresh_from_db()
    cases.append(chosen)
    # A choice left over from a place since removed: outside the places' départements.
    stale = gers_dossier_with_a_paris_place()
    Application.objects.filter(pk=stale.pk).update(chosen_departement_id="13")
    stale.refresh_from_db()
    cases.append(stale)
    # Moved by a programme admin: the stored département is no place's.
    moved = submitted_application()
    Application.objects.filter(pk=moved.pk).update(departement_id="31")
    moved.refresh_from_db()
    cases.append(moved)
    for case in cases:
        assert territory_facts(case, places=places_of(case)) == territory_facts(case)
        assert missing_of(case, territory=application_territory(case)) == missing_of(case)
    assert territory_facts(application)[0] is None and territory_facts(application)[5]
    assert application_territory(chosen).departement == Departement.objects.get(code="75")
    assert territory_facts(stale)[6]
    assert application_territory(moved).departement == Departement.objects.get(code="31")

    # Stored among the places' départements: nothing more is read; outside them, one query.
    places = places_of(chosen)
    with CaptureQueriesContext(connection) as read:
        application_territory(chosen, places=places)
    assert len(read.captured_queries) == 0
    places = places_of(moved)
    with CaptureQueriesContext(connection) as read:
        application_territory(moved, places=places)
    assert len(read.captured_queries) == 1


def hand_in(application: Application, reviewer: Any, value: int) -> None:
    assignment = application.assignments.get(instructor=reviewer)
    values = {criterion.pk: (value, f"Note {value}.") for criterion in application.call.criteria.all()}
    scores_save(assignment=assignment, values=values, submit=True, actor=reviewer)


def test_the_review_page_keeps_its_queries_and_its_rows_as_its_panels_grow(client: Client) -> None:
    application, reviewer = in_review_application()
    client.force_login(reviewer)
    url = reverse("applications:review-detail", args=[application.reference])
    assert queries_of(client, url, application.reference) == INSTRUCTOR_DOSSIER_QUERIES

    others = [occitanie_instructor(first_name=name) for name in ("Zoé", "Adèle")]
    for other in others:
        assignment = assignment_create(application=application, instructor=other, actor=other)
        assignment_attest_no_conflict(assignment=assignment, actor=other)
    hand_in(application, reviewer, 5)
    hand_in(application, others[0], 2)
    hand_in(application, others[1], 4)
    for n in range(3):
        opinion = opinion_request(
            application=application,
            email=f"avis{n}@exemple.fr",
            organisation_name=f"Service {n}",
            question="Quel est votre avis sur ce projet ?",
            actor=reviewer,
        )
        if n != 1:
            opinion_give(opinion=opinion, verdict="favourable", comment=f"Avis {n}.", actor=opinion.expert)
        message_post(application=application, body=f"Question numéro {n}", actor=reviewer)
        annotation_add(application=application, body=f"Remarque numéro {n}", actor=reviewer)

    # Three sheets, three opinions, three messages and notes: not one query more, but for the
    # opinions' files both ways (two queries, whatever the number of opinions).
    assert queries_of(client, url, application.reference) == INSTRUCTOR_DOSSIER_QUERIES + 2
    page = client.get(url).content.decode()
    totals = instructor_totals(application)  # read from the database, as before
    assert len(totals) == 3
    given = list(application.assignments.prefetch_related("scores__criterion"))
    assert instructor_totals(application, assignments=given) == totals
    # Each handed-in sheet, in the assignments' order, with its own total (weights 3 and 1,
    # scales 5 and 10: 5 everywhere is 87,5 on 100).
    captions = [
        f"<caption>{user.get_full_name()} – {total} sur 100</caption>"
        for user, total in zip((reviewer, *others), ("87,5", "35,0", "70,0"), strict=True)
    ]
    positions = [page.index(caption) for caption in captions]
    assert positions == sorted(positions)
    for fold in ("Avis d'experts (3)", "Notes privées de l'instruction (3)", "Messages avec le porteur (3)"):
        assert f'<summary class="portal-fold__summary">{fold}</summary>' in page
    for kind in ("Question", "Remarque"):
        spots = [page.index(f"{kind} numéro {n}") for n in range(3)]
        assert spots == sorted(spots)
    # Two opinions given (the expert's name and service), one open with its « Relancer ».
    assert page.count("rendu par ") == 2 and page.count("Relancer l'expert") == 1


def test_the_empty_review_forms_kept_per_process_are_crispys_own_rendering() -> None:
    for form_class in STATIC_FORMS:
        assert form_class.renders_the_same
        expected = as_crispy_form(form_class())
        assert crispy_static(form_class()) == expected
        assert crispy_static(form_class()) == expected  # the kept copy, byte for byte
    # A form posted back with its values and errors is rendered afresh, never the kept copy.
    posted = forms_review.AnnotationForm(data={"annotation-body": ""})
    assert not posted.is_valid()
    rendered = crispy_static(posted)
    assert rendered == as_crispy_form(posted)
    assert rendered != crispy_static(forms_review.AnnotationForm())
    assert "fr-input-group--error" in rendered
    # With initial values, or of a class that depends on data: crispy's rendering each time.
    given = forms_review.MessageForm(initial={"body": "Bonjour"})
    assert "Bonjour" in crispy_static(given)
    award = forms_review.AwardForm(years=3, initial={"amount": 150000})
    assert crispy_static(award) == as_crispy_form(award)
    # The corrections' due date depends on the day and the call: never kept.
    assert not getattr(forms_review.CorrectionsForm, "renders_the_same", False)
    corrections = forms_review.CorrectionsForm(call=CallFactory.build(corrections_delay_days=15))
    assert crispy_static(corrections) == as_crispy_form(corrections)
    # Nothing kept under DEBUG (development): an edited template shows at once.
    with (
        override_settings(DEBUG=True),
        patch("applications.templatetags.static_forms.as_crispy_form", return_value="rendered again"),
    ):
        assert crispy_static(forms_review.MessageForm()) == "rendered again"
    assert crispy_static(forms_review.MessageForm()) == as_crispy_form(forms_review.MessageForm())
    # Kept per language: another language's labels are not served.
    with translation.override("en"):
        assert crispy_static(forms_review.MessageForm()) == as_crispy_form(forms_review.MessageForm())


# The section menu as two templates wrote it before `{% dossier_menu_items %}`: an include per entry.
FORMER_MENU_LIST = (
    '{% load i18n %}<ul class="fr-sidemenu__list" id="menu-dossier-liste"{% if oob %} hx-swap-oob="true"{% endif %}>\n'
    '  {% include "menu_item.html" with key="overview" url_name="applications:dossier-detail" '
    'label=_("Vue d\'ensemble") section=None %}\n'
    "  {% for section in sections %}\n"
    '    {% include "menu_item.html" with key=section.key url_name="applications:dossier-"|add:section.key '
    "label=section.label %}\n"
    "  {% endfor %}\n"
    '  {% include "menu_item.html" with key="access" url_name="applications:dossier-access" '
    'label=_("Accès partagés") section=None %}\n'
    '  {% include "menu_item.html" with key="messages" url_name="applications:dossier-messages" '
    'label=_("Messages") section=None %}\n'
    "</ul>\n"
)
FORMER_MENU_ITEM = (
    '{% load i18n %}<li class="fr-sidemenu__item{% if current_section == key %} fr-sidemenu__item--active{% endif %}">\n'
    '  <a class="fr-sidemenu__link" href="{% url url_name application.reference %}"'
    '{% if current_section == key %} aria-current="page"{% endif %}>\n'
    '    {{ label }}{% if section %}{% if section.complete %} <span class="fr-ml-1w fr-badge fr-badge--sm '
    'fr-badge--success fr-badge--no-icon">{% translate "complet" %}</span>{% else %} <span class="fr-ml-1w '
    'fr-badge fr-badge--sm fr-badge--warning fr-badge--no-icon">{% blocktranslate count '
    "counter=section.missing|length %}{{ counter }} à compléter{% plural %}{{ counter }} à compléter"
    "{% endblocktranslate %}</span>{% endif %}{% endif %}\n"
    "  </a>\n"
    "</li>\n"
)


def test_the_section_menu_is_byte_for_byte_what_its_includes_wrote() -> None:
    from django.template import Context, Engine
    from django.template.loader import get_template

    former = Engine(
        loaders=[
            (
                "django.template.loaders.locmem.Loader",
                {"list.html": FORMER_MENU_LIST, "menu_item.html": FORMER_MENU_ITEM},
            )
        ],
        libraries={"i18n": "django.templatetags.i18n"},
    ).get_template("list.html")
    now = get_template("applications/includes/sidemenu_list.html")
    draft = gers_dossier_with_a_paris_place()  # sections missing: the choice of a département
    empty = complete_application()
    empty.places.clear()
    empty.budget_years.all().delete()
    submitted = submitted_application()  # every section complete
    seen = set()
    for application in (draft, empty, submitted):
        sections = application_completeness(application)
        for current in ("overview", "places", "budget", "access", "messages", "nothing"):
            for oob in (False, True):
                context = {
                    "application": application,
                    "sections": sections,
                    "current_section": current,
                    "oob": oob,
                }
                expected = former.render(Context(context))
                assert now.render(context) == expected
                seen.add(expected.count("fr-badge--warning"))
                assert ("aria-current" in expected) == (current != "nothing")
                assert ("hx-swap-oob" in expected) == oob and "Vue d'ensemble" in expected
    assert seen >= {0, 1, 2}  # complete, one section to complete, several


def with_django_widgets(form: Any) -> Any:
    """The same form with Django's own Select and TextInput in place of core.widgets' ones."""
    from django import forms as django_forms

    from core.widgets import FastSelect, FastTextInput

    for field in form.fields.values():
        if isinstance(field.widget, FastSelect):
            field.widget = django_forms.Select(choices=field.widget.choices, attrs=field.widget.attrs)
        elif isinstance(field.widget, FastTextInput):
            field.widget = django_forms.TextInput(attrs=field.widget.attrs)
        assert type(field.widget).__module__.startswith("django."), field
    form._bound_fields_cache.clear()
    return form


def test_the_scoring_and_award_forms_render_as_with_djangos_widgets() -> None:
    application, reviewer = in_review_application()
    criteria = list(application.call.criteria.all())
    assignment = application.assignments.get(instructor=reviewer)
    scores_save(assignment=assignment, values={criteria[0].pk: (4, "Solide.")}, submit=False, actor=reviewer)
    saved = list(assignment.scores.select_related("criterion"))
    first, second = (f"scores-criterion_{criterion.pk}" for criterion in criteria)
    award_data = {"amount": "150 000", "yearly_1": "50 000", "yearly_2": "", "yearly_3": "x"}

    def built() -> list[Any]:
        posted = forms_review.ScoresForm({first: "3", second: "99"}, criteria=criteria, scores=saved)
        award = forms_review.AwardForm(award_data, years=3)
        posted.is_valid(), award.is_valid()
        return [
            forms_review.ScoresForm(criteria=criteria, scores=saved),  # a saved score selected
            posted,  # a value out of the scale: the error
            forms_review.AwardForm(years=3, initial={"amount": Decimal("150000")}),
            award,  # an incomplete split: the errors
        ]

    for fast, django in zip(built(), [with_django_widgets(form) for form in built()], strict=True):
        rendered = as_crispy_form(fast)
        assert rendered == as_crispy_form(django)
    assert "selected>4</option>" in as_crispy_form(built()[0])
    assert 'value="150 000"' in as_crispy_form(built()[3])
