from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest
from django.views.decorators.http import require_POST

from accounts.models import User
from core.responses import private_file_headers
from retention.exports import personal_data_export


@login_required
@require_POST
def personal_data_download(request: HttpRequest) -> FileResponse:
    """« Mon compte » : the zip of what the portal holds about the person asking, and only them."""
    assert isinstance(request.user, User)  # noqa: S101 (login_required)
    handle = personal_data_export(user=request.user, actor=request.user)
    response = FileResponse(
        handle, as_attachment=True, filename="mes-donnees-fabriques.zip", content_type="application/zip"
    )
    private_file_headers(response)
    return response
