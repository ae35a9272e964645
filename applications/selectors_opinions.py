"""Reads on expert opinions: what an expert may see (only the dossiers they were asked about, only
while the request is open), what the instruction and the applicant see of them."""

from django.db.models import Prefetch, Q, QuerySet

from accounts.models import User
from applications.models import Application, Attachment, MessageFile, Opinion
from applications.selectors import applications_reviewable_by, applications_visible_to

OS = Opinion.Status


def opinions_of_expert(user: User) -> QuerySet[Opinion]:
    """Every request asked of this account (their list): open ones first, by due date."""
    return (
        Opinion.objects.filter(expert=user)
        .select_related("application__call")
        .order_by(
            # Open first (« requested » sorts after the two final states: hence the explicit order).
            "-status",
            "due_on",
            "pk",
        )
    )


def open_opinions_of_expert(user: User) -> QuerySet[Opinion]:
    """The requests this account may open: asked of them and still open. Any other id is a 404."""
    return Opinion.objects.filter(expert=user, status=OS.REQUESTED)


def expert_attachments(opinion: Opinion) -> QuerySet[Attachment]:
    """The dossier's supporting documents, as its expert downloads them."""
    return opinion.application.attachments.select_related("required_document").order_by(
        "required_document__position", "uploaded_at", "pk"
    )


def opinions_for_review(application: Application) -> list[Opinion]:
    """The dossier's requests on its review page, each with its files both ways (three queries)."""
    return list(
        application.opinions.select_related("requested_by", "expert")
        .prefetch_related(
            Prefetch("request_files", queryset=MessageFile.objects.order_by("pk")),
            Prefetch("answer_files", queryset=MessageFile.objects.order_by("pk")),
        )
        .order_by("requested_at", "pk")
    )


def opinions_shared_with_applicant(application: Application) -> list[Opinion]:
    """The opinions the applicant reads on their dossier: given, and shared by the instruction."""
    return list(
        application.opinions.filter(status=OS.GIVEN, confidential=False)
        .prefetch_related(Prefetch("answer_files", queryset=MessageFile.objects.order_by("pk")))
        .order_by("given_at", "pk")
    )


def opinion_file_for(user: User, *, reference: str, opinion_id: int, file_id: int) -> MessageFile | None:
    """A file of a request or of its answer, if this user may download it, else None (a 404).

    The instruction of the dossier: every file, both ways. The expert, while the request is open:
    the request's files (their answer's are not written yet). The applicant side: the answer's
    files of an opinion given and shared.
    """
    opinion = Opinion.objects.filter(pk=opinion_id, application__reference=reference).first()
    if opinion is None:
        return None
    if applications_reviewable_by(user).filter(pk=opinion.application_id).exists():
        files = MessageFile.objects.filter(
            Q(pk__in=opinion.request_files.values("pk")) | Q(pk__in=opinion.answer_files.values("pk"))
        )
    elif opinion.expert_id == user.pk and opinion.status == OS.REQUESTED:
        files = opinion.request_files.all()
    elif (
        opinion.status == OS.GIVEN
        and not opinion.confidential
        and applications_visible_to(user).filter(pk=opinion.application_id).exists()
    ):
        files = opinion.answer_files.all()
    else:
        return None
    return files.filter(pk=file_id).first()
