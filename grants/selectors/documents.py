"""The PDFs the portal issued for a dossier's grant, for the dossier's archive (applications.archives)."""

from django.db.models import Q, QuerySet

from applications.models import Application
from grants.models import Agreement, Amendment
from notifications.models import Document


def dossier_grant_documents(application: Application) -> QuerySet[Document]:
    """The agreement and the amendments of the dossier's grants (one query when evaluated)."""
    agreements = Agreement.objects.filter(grant__application=application, document__isnull=False)
    amendments = Amendment.objects.filter(grant__application=application, document__isnull=False)
    return Document.objects.filter(
        Q(pk__in=agreements.values("document_id")) | Q(pk__in=amendments.values("document_id"))
    )
