"""ZIP archives streamed as they are written, with the standard library alone.

`zipfile` writes to a stream it cannot seek (since Python 3.5): each member's sizes and checksum
then follow its data (a data descriptor) instead of being patched into its header. Given a sink
that only collects what it is handed, the archive comes out in pieces that a
StreamingHttpResponse sends at once: memory holds one piece (64 KiB of a file) at a time, whatever
the size of the archive, and no temporary file is written. Members are stored, not compressed:
a dossier's files are PDFs and images, already compressed, and deflating them again would cost
the web worker's CPU for nothing.
"""

import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from django.utils import timezone

PIECE = 64 * 1024
# What no file system of the readers accepts in a name (Windows' list, the strictest), and controls.
FORBIDDEN = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
SPACES = re.compile(r"\s+")
NAME_MAX = 120


@dataclass(frozen=True)
class Member:
    """A file of the archive: its name there, and how to open its content."""

    name: str
    open: Callable[[], AbstractContextManager[IO[bytes]]]
    modified: datetime | None = None


class _Sink(io.RawIOBase):
    """A write-only stream that keeps what it is given until it is taken."""

    def __init__(self) -> None:
        self._pieces: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._pieces.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._pieces)
        self._pieces.clear()
        return data


def safe_name(name: str, *, fallback: str = "fichier") -> str:
    """A file name every system accepts: no path, no control or reserved character, NFC, at most
    NAME_MAX characters (the extension kept), never empty, never starting with a dot."""
    name = unicodedata.normalize("NFC", name)
    name = FORBIDDEN.sub(" ", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = SPACES.sub(" ", name).strip(" .")
    if not name:
        return fallback
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > 10:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    return stem[: NAME_MAX - len(suffix)].rstrip(" .") + suffix


def unique_names(names: Iterable[str]) -> list[str]:
    """The names made unique, case-insensitively: a second « Statuts.pdf » becomes « Statuts (2).pdf »."""
    taken: set[str] = set()
    unique = []
    for name in names:
        stem, dot, extension = name.rpartition(".")
        if not dot or not stem:
            stem, extension = name, ""
        suffix = f".{extension}" if extension else ""
        candidate, number = name, 1
        while candidate.casefold() in taken:
            number += 1
            candidate = f"{stem} ({number}){suffix}"
        taken.add(candidate.casefold())
        unique.append(candidate)
    return unique


def zip_stream(members: Iterable[Member]) -> Iterator[bytes]:
    """The ZIP archive of `members`, in pieces, each file read PIECE bytes at a time."""
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for member in members:
            moment = timezone.localtime(member.modified) if member.modified else timezone.localtime()
            info = zipfile.ZipInfo(member.name, date_time=moment.timetuple()[:6])
            info.compress_type = zipfile.ZIP_STORED
            with member.open() as source, archive.open(info, mode="w", force_zip64=True) as target:
                while piece := source.read(PIECE):
                    target.write(piece)
                    yield sink.take()
            yield sink.take()
    yield sink.take()
