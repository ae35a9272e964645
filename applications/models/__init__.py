"""The models of calls, dossiers and their review, split by subject."""

from applications.models.calls import Call, RequiredDocument, Wave
from applications.models.counts import DossierCount
from applications.models.dossiers import (
    Access,
    Application,
    Attachment,
    BudgetYear,
    Member,
    ReferenceCounter,
    StatusChange,
    TerritoryMove,
    attachment_path,
)
from applications.models.exports import DossierExport, DossierExportChange
from applications.models.labels import ApplicationLabel, Label, LabelColour
from applications.models.messaging import Broadcast, MessageFile
from applications.models.opinions import Opinion, OpinionChange
from applications.models.review import (
    Annotation,
    Assignment,
    Criterion,
    EligibilityAnswer,
    EligibilityCheck,
    Message,
    Score,
)
from applications.models.saved_views import SavedView

__all__ = [
    "Access",
    "Annotation",
    "Application",
    "ApplicationLabel",
    "Assignment",
    "Attachment",
    "Broadcast",
    "BudgetYear",
    "Call",
    "Criterion",
    "DossierCount",
    "DossierExport",
    "DossierExportChange",
    "EligibilityAnswer",
    "EligibilityCheck",
    "Label",
    "LabelColour",
    "Member",
    "Message",
    "MessageFile",
    "Opinion",
    "OpinionChange",
    "ReferenceCounter",
    "RequiredDocument",
    "SavedView",
    "Score",
    "StatusChange",
    "TerritoryMove",
    "Wave",
    "attachment_path",
]
