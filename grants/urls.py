"""Every address of the grants, in the `grants` namespace, by subject as the views are."""

from django.urls import path

from grants.views import (
    agreements,
    bulk,
    committees,
    dashboard,
    decisions,
    exports,
    open_data,
    payments,
    steering,
    sub_envelopes,
    times,
)

app_name = "grants"

review_dossier = "instruction/dossiers/<str:reference>/"
agreement = "conventions/<str:number>/"
grant = "mon-espace/dossiers/<str:reference>/subvention/"
manage = f"{review_dossier}versements/"
committee = "pilotage/comites/<int:session_id>/"

open_data_call = "donnees-ouvertes/<uuid:open_data_id>/"

urlpatterns = [
    path("pilotage/", steering.admin_home, name="admin-home"),
    # Decisions, from the dossier's instruction page.
    path(f"{review_dossier}decision/", decisions.review_decide, name="review-decide"),
    path(f"{review_dossier}rouvrir/", decisions.review_reopen, name="review-reopen"),
    path("instruction/decisions-groupees/", bulk.review_bulk, name="review-bulk"),
    # The envelope's dashboard and its public summary.
    path("pilotage/appels/<slug:slug>/tableau-de-bord/", dashboard.dashboard, name="dashboard"),
    path("appels/<slug:slug>/enveloppe/", dashboard.public_summary, name="public-summary"),
    # The envelope delegated to régions and départements (programme admins).
    path(
        "pilotage/appels/<slug:slug>/enveloppes-deleguees/",
        sub_envelopes.sub_envelopes_view,
        name="sub-envelopes",
    ),
    # How long dossiers stay in each state (programme admins).
    path("pilotage/appels/<slug:slug>/delais/", times.processing_times, name="processing-times"),
    # Selection committee sessions (programme admins; invited instructors read their sessions).
    path("pilotage/appels/<slug:slug>/comites/", committees.committee_list, name="committee-list"),
    path(committee, committees.committee_detail, name="committee-detail"),
    path(f"{committee}etape/", committees.committee_move, name="committee-move"),
    path(f"{committee}membres/", committees.committee_members_view, name="committee-members"),
    path(f"{committee}presences/", committees.committee_attendance_view, name="committee-attendance"),
    path(f"{committee}ordre-du-jour/", committees.committee_agenda_build_view, name="committee-agenda-build"),
    path(
        f"{committee}ordre-du-jour/inscrire/",
        committees.committee_agenda_add_view,
        name="committee-agenda-add",
    ),
    path(f"{committee}dossiers/<int:item_id>/", committees.committee_item, name="committee-item"),
    path(f"{committee}appliquer/", committees.committee_apply_view, name="committee-apply"),
    path(f"{committee}proces-verbal/", committees.committee_minutes, name="committee-minutes"),
    # The public open data: the page, each call's files at stable addresses, the payments' schema.
    path("donnees-ouvertes/", open_data.open_data_index, name="open-data"),
    path(
        "donnees-ouvertes/schemas/versements.schema.json",
        open_data.payments_schema,
        name="open-data-payments-schema",
    ),
    path(
        f"{open_data_call}subventions.csv",
        open_data.open_data_file,
        {"kind": "subventions.csv"},
        name="open-data-subsidies-csv",
    ),
    path(
        f"{open_data_call}subventions.json",
        open_data.open_data_file,
        {"kind": "subventions.json"},
        name="open-data-subsidies-json",
    ),
    path(
        f"{open_data_call}versements.csv",
        open_data.open_data_file,
        {"kind": "versements.csv"},
        name="open-data-payments-csv",
    ),
    path(
        f"{open_data_call}versements.json",
        open_data.open_data_file,
        {"kind": "versements.json"},
        name="open-data-payments-json",
    ),
    path(
        f"{open_data_call}dispositif-aide.json",
        open_data.open_data_file,
        {"kind": "dispositif-aide.json"},
        name="open-data-scheme-json",
    ),
    # Exports (programme admins) and the public list of laureates.
    path("pilotage/exports/", exports.export_index, name="export-index"),
    path(
        "pilotage/exports/<slug:slug>/donnees-essentielles.csv",
        exports.export_open_data,
        name="export-open-data",
    ),
    path("pilotage/exports/<slug:slug>/<slug:rows>.csv", exports.export_csv, name="export-csv"),
    path("pilotage/exports/<slug:slug>/classeur/", exports.export_xlsx_start, name="export-xlsx-start"),
    path("pilotage/exports/<slug:slug>/synthese/", exports.export_pdf_start, name="export-pdf-start"),
    path("pilotage/exports/classeurs/<uuid:job_id>/", exports.export_job, name="export-job"),
    path(
        "pilotage/exports/classeurs/<uuid:job_id>/etat/", exports.export_job_status, name="export-job-status"
    ),
    path(
        "pilotage/exports/classeurs/<uuid:job_id>/telecharger/",
        exports.export_job_download,
        name="export-job-download",
    ),
    path("pilotage/exports/syntheses/<int:document_id>/", exports.export_pdf, name="export-pdf"),
    path(
        "pilotage/exports/syntheses/<int:document_id>/etat/",
        exports.export_pdf_status,
        name="export-pdf-status",
    ),
    path(
        "pilotage/exports/syntheses/<int:document_id>/telecharger/",
        exports.export_pdf_download,
        name="export-pdf-download",
    ),
    path("laureats/<slug:slug>/", exports.laureates, name="export-laureates"),
    # Payments and yearly reports: the beneficiary's page (downloads open to whoever sees the dossier).
    path(grant, payments.grant_detail, name="tranche-grant"),
    path(f"{grant}tranches/<int:year>/demande/", payments.tranche_request_view, name="tranche-request"),
    path(
        f"{grant}tranches/<int:year>/demande-de-versement.pdf",
        payments.tranche_request_pdf,
        name="tranche-request-pdf",
    ),
    path(f"{grant}rapports/<int:year>/<str:kind>/", payments.report_upload_view, name="report-upload"),
    path(f"{grant}rapports/fichiers/<int:report_id>/", payments.report_download, name="report-download"),
    # ... and the instruction page.
    path(manage, payments.grant_manage, name="tranche-manage"),
    path(f"{manage}tranches/<int:year>/valider/", payments.tranche_validate_view, name="tranche-validate"),
    path(f"{manage}tranches/<int:year>/verser/", payments.tranche_pay_view, name="tranche-pay"),
    path(f"{manage}tranches/<int:year>/annuler/", payments.tranche_cancel_view, name="tranche-cancel"),
    path(f"{manage}echeancier/", payments.schedule_update_view, name="tranche-schedule"),
    path(f"{manage}rapports/<int:report_id>/examen/", payments.report_review_view, name="report-review"),
    # Agreements: the page of each, its downloads, the programme's actions (admins only).
    path("conventions/", agreements.agreement_list, name="agreement-list"),
    path(agreement, agreements.agreement_detail, name="agreement-detail"),
    path(f"{agreement}telecharger/", agreements.agreement_download, name="agreement-download"),
    path(f"{agreement}accepter/", agreements.agreement_accept_view, name="agreement-accept"),
    path(
        f"{agreement}exemplaire-signe/", agreements.agreement_signed_copy_view, name="agreement-signed-copy"
    ),
    path(
        f"{agreement}exemplaire-signe/telecharger/",
        agreements.agreement_signed_copy_download,
        name="agreement-signed-copy-download",
    ),
    path(
        f"{agreement}resiliation/telecharger/",
        agreements.agreement_termination_download,
        name="agreement-termination-download",
    ),
    path(
        f"{agreement}avenants/<int:amendment_number>/telecharger/",
        agreements.agreement_amendment_download,
        name="agreement-amendment-download",
    ),
    path(f"{agreement}activer/", agreements.agreement_activate_view, name="agreement-activate"),
    path(f"{agreement}solder/", agreements.agreement_complete_view, name="agreement-complete"),
    path(f"{agreement}resilier/", agreements.agreement_terminate_view, name="agreement-terminate"),
    path(f"{agreement}avenant/", agreements.agreement_amend_view, name="agreement-amend"),
]
