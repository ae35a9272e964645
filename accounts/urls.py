from django.urls import path

from accounts import views, views_notifications, views_proconnect, views_two_factor

app_name = "accounts"

urlpatterns = [
    path("connexion/", views.LoginView.as_view(), name="login"),
    path("deconnexion/", views.LogoutView.as_view(), name="logout"),
    path("connexion/proconnect/", views_proconnect.ProConnectLoginView.as_view(), name="proconnect-login"),
    path(
        "connexion/proconnect/retour/",
        views_proconnect.ProConnectCallbackView.as_view(),
        name="proconnect-callback",
    ),
    path("deconnexion/proconnect/", views_proconnect.proconnect_logout, name="proconnect-logout"),
    path(
        "deconnexion/proconnect/retour/",
        views_proconnect.proconnect_logged_out,
        name="proconnect-logged-out",
    ),
    path("inscription/", views.sign_up, name="sign-up"),
    path("inscription/envoyee/", views.sign_up_done, name="sign-up-done"),
    path("confirmer/<uidb64>/<token>/", views.confirm_email, name="confirm-email"),
    path("accueil/", views.home, name="home"),
    path("securite/", views_two_factor.security, name="security"),
    path("notifications/", views_notifications.notification_preferences, name="notification-preferences"),
    path("double-authentification/", views_two_factor.verify, name="two-factor-verify"),
    path("double-authentification/activer/", views_two_factor.setup, name="two-factor-setup"),
    path(
        "double-authentification/codes-de-secours/",
        views_two_factor.backup_codes,
        name="two-factor-backup-codes",
    ),
    path(
        "double-authentification/codes-de-secours/nouveaux/",
        views_two_factor.backup_codes_new,
        name="two-factor-backup-codes-new",
    ),
    path("mot-de-passe/oublie/", views.PasswordResetView.as_view(), name="password-reset"),
    path("mot-de-passe/envoye/", views.PasswordResetDoneView.as_view(), name="password-reset-done"),
    path(
        "mot-de-passe/nouveau/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path("mot-de-passe/modifie/", views.PasswordResetCompleteView.as_view(), name="password-reset-complete"),
]
