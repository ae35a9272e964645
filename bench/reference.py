"""The reference pages of bench_pages: the portal's own layout around the least each page must show.

A reference page extends the real base template (header, navigation, footer, the context processors
of every page) around either a plain table of the rows a list page shows, read with the right
`select_related`, or a plain rendering of one dossier's fields. What a page costs beyond its
reference is its own work: filters, badges, permissions, counts. Served only under the bench
settings (bench/urls.py), never by config.urls.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.template import engines

LIST = """{% extends "base.html" %}{% block content %}<h1>{{ title }}</h1>
<div class="fr-table"><table><caption>{{ title }}</caption><tbody>
{% for row in rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>{% endfor %}
</tbody></table></div>{% endblock %}"""

DETAIL = """{% extends "base.html" %}{% block content %}<h1>{{ title }}</h1>
<dl>{% for label, value in fields %}<dt>{{ label }}</dt><dd>{{ value }}</dd>{% endfor %}</dl>
{% endblock %}"""


def _ids(request: HttpRequest) -> list[int]:
    return [int(one) for one in request.GET.get("ids", "").split(",") if one.isdigit()]


def _render(request: HttpRequest, source: str, context: dict[str, object]) -> HttpResponse:
    template = engines["django"].from_string(source)
    return HttpResponse(template.render(context, request))


def reference_list(request: HttpRequest, rows: str) -> HttpResponse:
    """A plain table of the given rows: `application` or `agreement` by their ids, or `laureate`
    (every active grant of `?call=<slug>`, as the public laureates page lists them)."""
    from applications.models import Application
    from grants.models import Agreement, Grant

    table: list[tuple[object, ...]]
    if rows == "application":
        ids = _ids(request)
        dossiers = Application.objects.filter(pk__in=ids).select_related("departement", "call")
        by_pk = {one.pk: one for one in dossiers}
        table = [
            (one.reference, one.title, one.departement, one.kind, one.get_status_display(), one.submitted_at)
            for one in (by_pk[pk] for pk in ids if pk in by_pk)
        ]
    elif rows == "agreement":
        ids = _ids(request)
        agreements = Agreement.objects.filter(pk__in=ids).select_related("grant__application__departement")
        by_pk = {one.pk: one for one in agreements}
        table = [
            (
                one.number,
                one.grant.application.title,
                one.grant.application.departement,
                one.get_status_display(),
            )
            for one in (by_pk[pk] for pk in ids if pk in by_pk)
        ]
    elif rows == "laureate":
        grants = (
            Grant.objects.filter(call__slug=request.GET.get("call", ""), status=Grant.Status.ACTIVE)
            .select_related("application__departement")
            .order_by("application__departement__code", "pk")
        )
        table = [
            (one.application.title, one.application.departement, one.amount + one.bonus, one.application.kind)
            for one in grants
        ]
    else:
        raise Http404
    return _render(request, LIST, {"title": "Référence", "rows": table})


def reference_dossier(request: HttpRequest, reference: str) -> HttpResponse:
    """One dossier's own fields, as plain as they come."""
    from applications.models import Application

    dossier = (
        Application.objects.select_related("departement", "call", "wave").filter(reference=reference).first()
    )
    if dossier is None:
        raise Http404
    fields = [
        (str(field.verbose_name), getattr(dossier, field.attname))
        for field in Application._meta.concrete_fields
    ] + [
        ("call", dossier.call),
        ("departement", dossier.departement),
    ]
    return _render(request, DETAIL, {"title": dossier.title, "fields": fields})
