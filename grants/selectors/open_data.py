"""What the public open-data page lists: each published call and its files as last published."""

from dataclasses import dataclass, field

from applications.models import Call
from grants.models import OpenDataFile


@dataclass
class CallFiles:
    call: Call
    files: list[OpenDataFile] = field(default_factory=list)


def open_data_listing() -> list[CallFiles]:
    """Every call out of preparation, newest first, with its published files in a fixed order."""
    calls = list(Call.objects.exclude(status=Call.Status.DRAFT).order_by("-opens_at", "-pk"))
    order = {kind: index for index, kind in enumerate(OpenDataFile.Kind.values)}
    by_pk = {call.pk: call for call in calls}
    by_call: dict[int, list[OpenDataFile]] = {}
    for record in OpenDataFile.objects.filter(call__in=calls):
        record.call = by_pk[record.call_id]  # its address names the call's identifier: no query each
        by_call.setdefault(record.call_id, []).append(record)
    return [
        CallFiles(call=call, files=sorted(by_call.get(call.pk, []), key=lambda record: order[record.kind]))
        for call in calls
    ]
