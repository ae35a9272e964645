"""Payments and yearly reports of a grant. Included by grants.urls, in the "grants" namespace."""

from django.urls import path

from grants import views_payments as views

grant = "mon-espace/dossiers/<str:reference>/subvention/"
manage = "instruction/dossiers/<str:reference>/versements/"

urlpatterns = [
    # The beneficiary's page (and downloads open to everyone who sees the dossier).
    path(grant, views.grant_detail, name="tranche-grant"),
    path(f"{grant}tranches/<int:year>/demande/", views.tranche_request_view, name="tranche-request"),
    path(
        f"{grant}tranches/<int:year>/demande-de-versement.pdf",
        views.tranche_request_pdf,
        name="tranche-request-pdf",
    ),
    path(f"{grant}rapports/<int:year>/<str:kind>/", views.report_upload_view, name="report-upload"),
    path(f"{grant}rapports/fichiers/<int:report_id>/", views.report_download, name="report-download"),
    # The instruction page.
    path(manage, views.grant_manage, name="tranche-manage"),
    path(f"{manage}tranches/<int:year>/valider/", views.tranche_validate_view, name="tranche-validate"),
    path(f"{manage}tranches/<int:year>/verser/", views.tranche_pay_view, name="tranche-pay"),
    path(f"{manage}tranches/<int:year>/annuler/", views.tranche_cancel_view, name="tranche-cancel"),
    path(f"{manage}echeancier/", views.schedule_update_view, name="tranche-schedule"),
    path(f"{manage}rapports/<int:report_id>/examen/", views.report_review_view, name="report-review"),
]
