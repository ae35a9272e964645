from typing import Any, cast

from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.forms import BaseForm
from django.http import HttpRequest

from accounts.admin_tools import ServiceCheckedForm
from accounts.forms import MoneyField
from accounts.models import User
from applications.models import Application, Call, RequiredDocument, StatusChange, TerritoryMove, Wave
from applications.services.calls import (
    CALL_FIELDS,
    call_check,
    call_create,
    call_delete,
    call_part_delete,
    call_part_save,
    call_update,
)


class WaveInline(admin.TabularInline[Wave, Call]):
    model = Wave
    extra = 0


class RequiredDocumentInline(admin.TabularInline[RequiredDocument, Call]):
    model = RequiredDocument
    extra = 0


class CallForm(ServiceCheckedForm):
    class Meta:
        model = Call
        fields = CALL_FIELDS

    def service_check(self, cleaned_data: dict[str, Any]) -> None:
        call_check(call=self.instance, fields=cleaned_data)


@admin.register(Call)
class CallAdmin(admin.ModelAdmin[Call]):
    """Every figure of a call (envelope, target, bounds, yearly cap, bonus) is set here.

    Through applications.services.calls: each add, change and delete (the call's, its waves' and
    its documents') is audited with before and after; the envelope's counters are read-only.
    """

    form = CallForm
    list_display = (
        "title",
        "status",
        "opens_at",
        "closes_at",
        "envelope",
        "committed_amount",
        "target_count",
    )
    list_filter = ("status",)
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("committed_amount", "laureate_count", "open_data_id")
    inlines = (WaveInline, RequiredDocumentInline)
    # Amounts prefilled and read the French way (« 50 000,00 »), not as « 50000.00 ».
    formfield_overrides = {models.DecimalField: {"form_class": MoneyField}}

    def save_model(self, request: HttpRequest, obj: Call, form: BaseForm, change: bool) -> None:
        actor = cast(User, request.user)
        if not change:
            call_create(call=obj, actor=actor)
            return
        changed = {name: form.cleaned_data[name] for name in form.changed_data if name in CALL_FIELDS}
        saved = call_update(call=obj, actor=actor, **changed)
        # The page goes on with `obj`: the counters as they are now, not as the form read them.
        obj.committed_amount, obj.laureate_count = saved.committed_amount, saved.laureate_count

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        actor = cast(User, request.user)
        parts = formset.save(commit=False)
        for part in formset.deleted_objects:
            call_part_delete(part=part, actor=actor)
        for part in parts:
            call_part_save(part=part, actor=actor)

    def delete_model(self, request: HttpRequest, obj: Call) -> None:
        call_delete(call=obj, actor=cast(User, request.user))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Call]) -> None:
        for call in queryset:
            call_delete(call=call, actor=cast(User, request.user))


class StatusChangeInline(admin.TabularInline[StatusChange, Application]):
    model = StatusChange
    extra = 0
    can_delete = False
    readonly_fields = ("from_status", "to_status", "actor", "at", "note", "document")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TerritoryMoveInline(admin.TabularInline[TerritoryMove, Application]):
    """Moves to another département, made from the instruction page (a reason, a recap, e-mails)."""

    model = TerritoryMove
    extra = 0
    can_delete = False
    readonly_fields = ("from_departement", "to_departement", "reason", "actor", "at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin[Application]):
    """Read-only: dossiers change through the portal's services, which keep their history."""

    list_display = ("reference", "title", "call", "status", "submitted_at")
    list_filter = ("call", "status", "kind")
    search_fields = ("reference", "title", "members__organisation__name", "members__organisation__siret")
    inlines = (StatusChangeInline, TerritoryMoveInline)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
