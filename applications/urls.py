from django.urls import path

from applications.views import (
    consortium,
    documents,
    dossiers,
    experts,
    exports,
    labels,
    messaging,
    review,
    saved_views,
    spaces,
    territory,
    workspace,
)

app_name = "applications"

dossier = "mon-espace/dossiers/<str:reference>/"
review_dossier = "instruction/dossiers/<str:reference>/"
call_labels = "pilotage/appels/<slug:slug>/etiquettes/"

urlpatterns = [
    path("mon-espace/", spaces.applicant_home, name="applicant-home"),
    path("instruction/", workspace.workspace, name="instructor-home"),
    # The list's exports (its filters in the query string), and those built in the background.
    path("instruction/export/<str:file_format>/", exports.workspace_export, name="workspace-export"),
    path(
        "instruction/export/<str:file_format>/arriere-plan/",
        exports.workspace_export_start,
        name="workspace-export-start",
    ),
    path("instruction/exports/<uuid:export_id>/", exports.export_job, name="export-job"),
    path("instruction/exports/<uuid:export_id>/etat/", exports.export_job_status, name="export-job-status"),
    path(
        "instruction/exports/<uuid:export_id>/telecharger/",
        exports.export_job_download,
        name="export-job-download",
    ),
    # Saved views of the instructors' list (« Mes vues »), each its owner's alone.
    path("instruction/vues/", saved_views.saved_view_list, name="saved-view-list"),
    path("instruction/vues/nouvelle/", saved_views.saved_view_create_view, name="saved-view-create"),
    path("instruction/vues/<int:view_id>/", saved_views.saved_view_open, name="saved-view-open"),
    path(
        "instruction/vues/<int:view_id>/renommer/",
        saved_views.saved_view_rename_view,
        name="saved-view-rename",
    ),
    path(
        "instruction/vues/<int:view_id>/supprimer/",
        saved_views.saved_view_delete_view,
        name="saved-view-delete",
    ),
    path("instruction/ecrire-aux-porteurs/", messaging.broadcast_compose, name="broadcast-compose"),
    path("mon-espace/dossiers/", dossiers.dossier_list, name="dossier-list"),
    path("mon-espace/dossiers/nouveau/", dossiers.dossier_create, name="dossier-create"),
    path(dossier, dossiers.dossier_detail, name="dossier-detail"),
    path(f"{dossier}projet/", dossiers.dossier_project, name="dossier-project"),
    path(f"{dossier}lieux/", dossiers.dossier_places, name="dossier-places"),
    path(f"{dossier}budget/", dossiers.dossier_budget, name="dossier-budget"),
    path(f"{dossier}deposer/", dossiers.dossier_submit, name="dossier-submit"),
    path(f"{dossier}retirer/", dossiers.dossier_withdraw, name="dossier-withdraw"),
    path(f"{dossier}acces/", dossiers.dossier_access, name="dossier-access"),
    path("invitation/<str:token>/", dossiers.access_accept, name="access-accept"),
    path(f"{dossier}consortium/", consortium.dossier_consortium, name="dossier-consortium"),
    path(f"{dossier}consortium/ajouter/", consortium.member_add_view, name="member-add"),
    path(
        f"{dossier}consortium/<int:member_id>/retirer/", consortium.member_remove_view, name="member-remove"
    ),
    path(
        f"{dossier}consortium/<int:member_id>/modifier/", consortium.member_update_view, name="member-update"
    ),
    path(f"{dossier}pieces/", documents.dossier_documents, name="dossier-documents"),
    path(f"{dossier}pieces/<int:attachment_id>/", documents.attachment_download, name="attachment-download"),
    path(
        f"{dossier}pieces/<int:attachment_id>/supprimer/",
        documents.attachment_remove_view,
        name="attachment-remove",
    ),
    path(f"{dossier}documents/<int:change_id>/", documents.issued_document_download, name="issued-document"),
    # Instruction
    path(f"{review_dossier}", review.review_detail, name="review-detail"),
    path(f"{review_dossier}affecter/", review.review_assign, name="review-assign"),
    path(f"{review_dossier}conflit/", review.review_conflict, name="review-conflict"),
    path(f"{review_dossier}attestation/", review.review_attest, name="review-attest"),
    path(f"{review_dossier}notation/", review.review_scores, name="review-scores"),
    path(f"{review_dossier}eligibilite/", review.review_eligibility, name="review-eligibility"),
    path(f"{review_dossier}avis/", experts.review_opinion_request, name="review-opinion-request"),
    path(
        f"{review_dossier}avis/<int:opinion_id>/annuler/",
        experts.review_opinion_cancel,
        name="review-opinion-cancel",
    ),
    path(
        f"{review_dossier}avis/<int:opinion_id>/relancer/",
        experts.review_opinion_remind,
        name="review-opinion-remind",
    ),
    path(f"{review_dossier}annotations/", review.review_annotate, name="review-annotate"),
    path(f"{review_dossier}messages/", review.review_message, name="review-message"),
    path(f"{review_dossier}complements/", review.review_corrections, name="review-corrections"),
    path(f"{review_dossier}territoire/", territory.review_territory, name="review-territory"),
    path(f"{review_dossier}etiquettes/", labels.review_labels, name="review-labels"),
    path(f"{review_dossier}archive/", exports.review_archive, name="review-archive"),
    path(f"{review_dossier}comite/", exports.review_committee, name="review-committee"),
    path(
        f"{review_dossier}comite/<int:document_id>/",
        exports.review_committee_document,
        name="review-committee-document",
    ),
    path(
        f"{review_dossier}comite/<int:document_id>/etat/",
        exports.review_committee_status,
        name="review-committee-status",
    ),
    path(
        f"{review_dossier}comite/<int:document_id>/telecharger/",
        exports.review_committee_download,
        name="review-committee-download",
    ),
    # The invitation's link (its name kept from the token page it replaces).
    path("avis/<str:token>/", experts.opinion_entry, name="opinion-give"),
    # The expert's space.
    path("expertise/", experts.expert_home, name="expert-home"),
    path("expertise/<int:opinion_id>/", experts.expert_request, name="expert-request"),
    path(
        "expertise/<int:opinion_id>/pieces/<int:attachment_id>/",
        experts.expert_attachment,
        name="expert-attachment",
    ),
    path(
        "avis/<str:reference>/<int:opinion_id>/fichiers/<int:file_id>/",
        experts.opinion_file,
        name="opinion-file",
    ),
    path(f"{dossier}messages/", review.dossier_messages, name="dossier-messages"),
    path(
        f"{dossier}messages/fichiers/<int:file_id>/",
        messaging.message_file_download,
        name="message-file",
    ),
    # A call's labels, managed by the programme admins (programme space).
    path(f"{call_labels}", labels.label_list, name="label-list"),
    path(f"{call_labels}<int:label_id>/modifier/", labels.label_update_view, name="label-update"),
    path(f"{call_labels}<int:label_id>/supprimer/", labels.label_delete_view, name="label-delete"),
]
