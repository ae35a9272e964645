"""The grant agreements' pages, included from grants/urls.py (namespace "grants", no app_name here)."""

from django.urls import path

from grants import views_agreements as views

agreement = "conventions/<str:number>/"

urlpatterns = [
    path("conventions/", views.agreement_list, name="agreement-list"),
    path(agreement, views.agreement_detail, name="agreement-detail"),
    path(f"{agreement}telecharger/", views.agreement_download, name="agreement-download"),
    path(f"{agreement}accepter/", views.agreement_accept_view, name="agreement-accept"),
    path(f"{agreement}exemplaire-signe/", views.agreement_signed_copy_view, name="agreement-signed-copy"),
    path(
        f"{agreement}exemplaire-signe/telecharger/",
        views.agreement_signed_copy_download,
        name="agreement-signed-copy-download",
    ),
    path(
        f"{agreement}resiliation/telecharger/",
        views.agreement_termination_download,
        name="agreement-termination-download",
    ),
    path(
        f"{agreement}avenants/<int:amendment_number>/telecharger/",
        views.agreement_amendment_download,
        name="agreement-amendment-download",
    ),
    # The programme's actions (programme admins only).
    path(f"{agreement}activer/", views.agreement_activate_view, name="agreement-activate"),
    path(f"{agreement}solder/", views.agreement_complete_view, name="agreement-complete"),
    path(f"{agreement}resilier/", views.agreement_terminate_view, name="agreement-terminate"),
    path(f"{agreement}avenant/", views.agreement_amend_view, name="agreement-amend"),
]
