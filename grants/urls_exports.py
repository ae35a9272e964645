"""The exports' addresses, included by grants.urls in the `grants` namespace (no app_name here).

Paths are complete (pilotage/exports/…, laureats/…): include this module at "".
"""

from django.urls import path

from grants import views_exports as views

urlpatterns = [
    path("pilotage/exports/", views.export_index, name="export-index"),
    path(
        "pilotage/exports/<slug:slug>/donnees-essentielles.csv",
        views.export_open_data,
        name="export-open-data",
    ),
    path("pilotage/exports/<slug:slug>/<slug:rows>.csv", views.export_csv, name="export-csv"),
    path("pilotage/exports/<slug:slug>/classeur/", views.export_xlsx_start, name="export-xlsx-start"),
    path("pilotage/exports/<slug:slug>/synthese/", views.export_pdf_start, name="export-pdf-start"),
    path("pilotage/exports/classeurs/<uuid:job_id>/", views.export_job, name="export-job"),
    path("pilotage/exports/classeurs/<uuid:job_id>/etat/", views.export_job_status, name="export-job-status"),
    path(
        "pilotage/exports/classeurs/<uuid:job_id>/telecharger/",
        views.export_job_download,
        name="export-job-download",
    ),
    path("pilotage/exports/syntheses/<int:document_id>/", views.export_pdf, name="export-pdf"),
    path(
        "pilotage/exports/syntheses/<int:document_id>/etat/",
        views.export_pdf_status,
        name="export-pdf-status",
    ),
    path(
        "pilotage/exports/syntheses/<int:document_id>/telecharger/",
        views.export_pdf_download,
        name="export-pdf-download",
    ),
    path("laureats/<slug:slug>/", views.laureates, name="export-laureates"),
]
