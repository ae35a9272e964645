from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm
from django.forms.models import ModelChoiceIterator
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from core.formatting import format_decimal_input, french_sorted, parse_money
from notifications.models import Frequency, NotificationKind

# The auth forms are generic over the user model for the type checker only (django-stubs); at run
# time they take no type argument.
if TYPE_CHECKING:
    _SetPasswordForm = SetPasswordForm[User]
else:
    _SetPasswordForm = SetPasswordForm


class FrenchOrderedChoiceIterator(ModelChoiceIterator[Any]):
    """The choices of a short list in French alphabetical order of their labels (« Île-de-France »
    among the I), whatever the database's collation."""

    def __iter__(self) -> Iterator[Any]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in french_sorted(self.queryset.all(), key=self.field.label_from_instance):
            yield self.choice(obj)


class MoneyField(forms.DecimalField):
    """An amount typed and prefilled the French way, « 50 000,00 » or « 74 999,99 », read as a Decimal.

    The one amount field of the portal: budgets, awards, payments and the admin site's figures.
    Django's localized input refuses the ordinary space people type between thousands; this field
    reads what `parse_money` reads (spaces of any kind, a comma or a point, a « € ») and prefills
    what `format_decimal_input` writes. An empty input gives `empty_value` (None, so that
    `required` applies; the budget's grid passes 0, an empty cell counting as nothing).
    """

    widget = forms.TextInput(attrs={"inputmode": "decimal"})
    default_error_messages = {"invalid": _("Saisissez un montant en euros, par exemple 50 000 ou 49 999,99.")}

    def __init__(self, *, empty_value: Decimal | None = None, **kwargs: Any) -> None:
        self.empty_value = empty_value
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        # An amount prefilled from the database (a Decimal) reads « 50 000,00 », as typed.
        if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
            return format_decimal_input(value)
        return value

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        if value in self.empty_values or (isinstance(value, str) and not value.strip()):
            return self.empty_value
        try:
            amount = parse_money(value) if isinstance(value, str) else Decimal(value)
            # "Infinity", "NaN" and huge exponents parse as Decimals but are no amounts.
            if not amount.is_finite() or abs(amount) >= Decimal("1e12"):
                raise InvalidOperation(value)
            exact = amount == amount.quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError, TypeError) as error:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from error
        if not exact:
            raise forms.ValidationError(_("Un montant a au plus deux décimales."), code="invalid")
        return amount


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("Adresse e-mail"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Mot de passe"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    error_messages = {
        "invalid_login": _(
            "Adresse e-mail ou mot de passe incorrect. Après plusieurs essais, la connexion est "
            "suspendue quelques minutes."
        ),
        "inactive": _("Ce compte est inactif."),
        "unconfirmed": _(
            "Votre adresse e-mail n'est pas encore confirmée. Un nouveau lien de confirmation "
            "vient de vous être envoyé."
        ),
    }

    def clean(self) -> dict[str, Any]:
        # Authentication runs first, so that axes counts every failed attempt, this one included.
        try:
            return super().clean()
        except forms.ValidationError as error:
            if error.code != "invalid_login" or getattr(self.request, "axes_locked_out", False):
                raise
            pending = self._pending_user()
            if pending is None:
                raise
        from accounts.services import user_send_confirmation

        user_send_confirmation(user=pending)
        raise forms.ValidationError(self.error_messages["unconfirmed"], code="unconfirmed")

    def _pending_user(self) -> User | None:
        """The account whose password was right but whose e-mail address is not confirmed."""
        email = (self.cleaned_data.get("username") or "").lower()
        password = self.cleaned_data.get("password") or ""
        pending = User.objects.filter(
            email__iexact=email, is_active=False, email_confirmed_at__isnull=True
        ).first()
        if pending is not None and pending.check_password(password):
            return pending
        return None


class SignUpForm(forms.Form):
    first_name = forms.CharField(label=_("Prénom"), max_length=150)
    last_name = forms.CharField(label=_("Nom"), max_length=150)
    email = forms.EmailField(
        label=_("Adresse e-mail"),
        help_text=_("Format attendu : nom@domaine.fr"),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password1 = forms.CharField(
        label=_("Mot de passe"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Au moins 12 caractères, pas uniquement des chiffres, ni un mot de passe courant."),
    )
    password2 = forms.CharField(
        label=_("Confirmation du mot de passe"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("Les deux mots de passe ne correspondent pas."))
        elif password1:
            candidate = User(
                email=cleaned.get("email", ""),
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
            )
            try:
                password_validation.validate_password(password1, candidate)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class ResetRequestForm(PasswordResetForm):
    email = forms.EmailField(
        label=_("Adresse e-mail"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        """Queue the reset e-mail as a row, like every other e-mail of the portal.

        The link starts with SITE_URL, as every link the portal e-mails, never with the Host
        header of the request that asked for it (which a client chooses).
        """
        from django.conf import settings
        from django.template.loader import render_to_string

        context = {**context, "site_url": settings.SITE_URL}

        from notifications.services import email_queue

        subject = "".join(render_to_string(subject_template_name, context).splitlines())
        body = render_to_string(email_template_name, context)
        email_queue(
            key=f"password-reset:{context['uid']}:{context['token']}",
            to=[to_email],
            subject=subject,
            body=body,
        )


class NewPasswordForm(_SetPasswordForm):
    new_password1 = forms.CharField(
        label=_("Nouveau mot de passe"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Au moins 12 caractères, pas uniquement des chiffres, ni un mot de passe courant."),
    )
    new_password2 = forms.CharField(
        label=_("Confirmation du nouveau mot de passe"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def save(self, commit: bool = True) -> Any:
        from accounts.services import user_password_save

        # Whoever holds the reset link acts as the account's owner.
        self.user.set_password(self.cleaned_data["new_password1"])
        return user_password_save(user=self.user, actor=self.user, reason="reset")


class TwoFactorCodeForm(forms.Form):
    """The code of the authenticator application (six digits) or a backup code."""

    code = forms.CharField(
        label=_("Code de vérification"),
        help_text=_("Les six chiffres affichés par votre application, ou l'un de vos codes de secours."),
        max_length=20,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "spellcheck": "false",
            }
        ),
        error_messages={"required": _("Saisissez le code à six chiffres de votre application.")},
    )


class NotificationPreferencesForm(forms.Form):
    """One choice per kind of notification of the person's roles: instantly, in the digest, never.

    The kinds whose e-mail is official (a letter, a notice) are not offered: listed apart."""

    def __init__(self, *args: Any, kinds: list[str], current: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for kind in kinds:
            self.fields[kind] = forms.ChoiceField(
                label=NotificationKind(kind).label,
                choices=Frequency.choices,
                initial=current[kind],
                widget=forms.RadioSelect,
            )
