from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.models import AuditEvent, Role, User
from accounts.services import USER_ADMIN_FIELDS, user_create, user_password_save, user_set_role, user_update
from accounts.two_factor import two_factor_reset

# Generic over the user model for the type checker only (django-stubs); not subscriptable at run time.
if TYPE_CHECKING:
    _AdminPasswordChangeForm = AdminPasswordChangeForm[User]
else:
    _AdminPasswordChangeForm = AdminPasswordChangeForm


class UnsavedPasswordForm(_AdminPasswordChangeForm):
    """The admin's password form, which sets the password but leaves the writing to the service.

    Django's view calls save() and then log_change() with the request: UserAdmin.log_change writes
    the password through user_password_save, with the acting admin in the audit row.
    """

    def save(self, commit: bool = True) -> Any:
        return super().save(commit=False)


@admin.register(User)
class UserAdmin(BaseUserAdmin[User]):
    change_password_form = UnsavedPasswordForm
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "is_active", "is_staff", "date_joined")
    list_filter = ("is_active", "is_staff", "groups")
    search_fields = ("email", "first_name", "last_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Identité"), {"fields": ("first_name", "last_name", "phone", "job_title")}),
        (_("État"), {"fields": ("is_active", "email_confirmed_at", "date_joined", "last_login")}),
        (_("Rôles et droits"), {"fields": ("is_staff", "is_superuser", "groups")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    # Roles change only through user_set_role, which keeps one role per user and audits it.
    readonly_fields = ("email_confirmed_at", "date_joined", "last_login", "groups", "is_staff")
    actions = ("make_applicant", "make_instructor", "make_admin", "reset_two_factor")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Accounts sign decisions, scores and audit rows: one is deactivated (is_active), not deleted.
        return False

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        actor = cast(User, request.user)
        if not change:
            user_create(user=obj, actor=actor)
            return
        changed = {name: form.cleaned_data[name] for name in form.changed_data if name in USER_ADMIN_FIELDS}
        saved = user_update(user=obj, actor=actor, **changed)
        obj.is_staff = saved.is_staff

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        match = request.resolver_match
        if match is not None and match.url_name == "auth_user_password_change":
            user_password_save(user=obj, actor=cast(User, request.user), reason="admin")
        return super().log_change(request, obj, message)

    def _set_role(self, request: HttpRequest, queryset: Any, role: Role) -> None:
        for user in queryset:
            user_set_role(user=user, role=role, actor=cast(User, request.user))
        self.message_user(
            request,
            _("Rôle « %(role)s » donné à %(count)d compte(s).")
            % {"role": role.label, "count": len(queryset)},
        )

    @admin.action(description=_("Donner le rôle porteur de projet"))
    def make_applicant(self, request: HttpRequest, queryset: Any) -> None:
        self._set_role(request, queryset, Role.APPLICANT)

    @admin.action(description=_("Donner le rôle instructeur"))
    def make_instructor(self, request: HttpRequest, queryset: Any) -> None:
        self._set_role(request, queryset, Role.INSTRUCTOR)

    @admin.action(description=_("Donner le rôle administrateur du programme"))
    def make_admin(self, request: HttpRequest, queryset: Any) -> None:
        self._set_role(request, queryset, Role.ADMIN)

    @admin.action(
        description=_("Réinitialiser la vérification en deux étapes (téléphone perdu)"),
        permissions=["change"],
    )
    def reset_two_factor(self, request: HttpRequest, queryset: Any) -> None:
        for user in queryset:
            two_factor_reset(user=user, actor=cast(User, request.user))
        self.message_user(
            request,
            _(
                "Vérification en deux étapes réinitialisée pour %(count)d compte(s) : une nouvelle "
                "application sera enregistrée à la prochaine connexion."
            )
            % {"count": len(queryset)},
        )


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    """Read-only: the audit log is written by services and never edited by anyone."""

    list_display = ("occurred_at", "actor", "action", "target_repr")
    list_filter = ("action",)
    search_fields = ("target_repr", "actor__email", "action")
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Documents and e-mails: their admin writes an audit row on retry, so it is registered from here.
from accounts import admin_notifications  # noqa: E402, F401
