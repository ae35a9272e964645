from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from accounts.forms import LoginForm, NewPasswordForm, ResetRequestForm, SignUpForm
from accounts.models import User, normalise_login
from accounts.proconnect import (
    METHOD_PASSWORD,
    METHOD_SESSION_KEY,
    end_session,
    is_proconnect_session,
    proconnect_enabled,
    user_login_audit,
)
from accounts.roles import home_url_for
from accounts.services import user_confirm_email, user_sign_up
from accounts.tokens import email_confirmation_token
from core.refusals import apply_refusal


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True
    extra_context = {"title": gettext_lazy("Connexion")}

    def get_default_redirect_url(self) -> str:
        return home_url_for(self.request.user)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["proconnect"] = proconnect_enabled()
        return context

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        # As the ProConnect login (accounts/proconnect.py): the method on the session, and an
        # audit row.
        self.request.session[METHOD_SESSION_KEY] = METHOD_PASSWORD
        user_login_audit(user=form.get_user(), method=METHOD_PASSWORD, details={}, actor=form.get_user())
        return response


class LogoutView(auth_views.LogoutView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # A ProConnect session ends at the provider too (accounts/proconnect.py).
        if is_proconnect_session(request.session, request.user):
            provider_url = end_session(request)
            if provider_url:
                return HttpResponseRedirect(provider_url)
        return super().post(request, *args, **kwargs)


@require_http_methods(["GET", "POST"])
def sign_up(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(home_url_for(request.user))
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user_sign_up(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
            )
        except ValidationError as error:
            apply_refusal(form, error)
        else:
            return redirect("accounts:sign-up-done")
    return render(request, "accounts/sign_up.html", {"form": form, "title": _("Créer un compte")})


def sign_up_done(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/sign_up_done.html", {"title": _("Vérifiez votre messagerie")})


def confirm_email(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    try:
        user = User.objects.get(pk=force_str(urlsafe_base64_decode(uidb64)))
    except (User.DoesNotExist, ValueError, TypeError, OverflowError):
        user = None
    if user is not None and user.is_active and user.email_confirmed_at is not None:
        messages.info(request, _("Votre adresse e-mail est déjà confirmée. Vous pouvez vous connecter."))
        return redirect("accounts:login")
    if user is None or not email_confirmation_token.check_token(user, token):
        return render(
            request,
            "accounts/confirm_email_invalid.html",
            {"title": _("Lien de confirmation invalide")},
            status=400,
        )
    user_confirm_email(user=user)
    messages.success(request, _("Votre adresse e-mail est confirmée. Vous pouvez vous connecter."))
    return redirect("accounts:login")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send each user to the home page of their role."""
    return redirect(home_url_for(request.user))


class PasswordResetView(auth_views.PasswordResetView):
    form_class = ResetRequestForm
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/emails/password_reset.txt"
    subject_template_name = "accounts/emails/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password-reset-done")
    extra_context = {"title": gettext_lazy("Mot de passe oublié")}


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"
    extra_context = {"title": gettext_lazy("Vérifiez votre messagerie")}


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = NewPasswordForm
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password-reset-complete")
    extra_context = {"title": gettext_lazy("Choisir un nouveau mot de passe")}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", None)
        return context


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
    extra_context = {"title": gettext_lazy("Mot de passe modifié")}


def lockout_username(request: HttpRequest, credentials: dict[str, Any] | None = None) -> str:
    """The address django-axes counts failures under: stripped and lower-cased, as the login does.

    Logins ignore the case of the address (User.objects.get_by_natural_key), so a counter per
    spelling would give « Someone@Example.org » a fresh set of attempts while « someone@… » is
    locked out. Every path into authenticate() (the login page, the admin's) goes through here.
    """
    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials is not None:
        value = credentials.get(field)
    else:
        value = getattr(request, "data", request.POST).get(field)
    return normalise_login(value)


def locked_out(request: HttpRequest, credentials: Any = None, *args: Any, **kwargs: Any) -> HttpResponse:
    """Shown by django-axes instead of the login page while a client cools off."""
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    return render(
        request,
        "accounts/locked_out.html",
        {"title": _("Connexion temporairement suspendue"), "cooloff_minutes": minutes},
        status=429,
    )
