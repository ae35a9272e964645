"""A file built in the background and stored whole: the step the background exports share (the
budget workbook of grants, the instructors' long exports of applications).

The file is written to a local temporary file, then saved whole into the media storage (a folder
shared by the web and the workers, or an S3 bucket): a download never sees half a file. A
database error is raised as is (the task retries, the job stays running); any other error is
recorded on the job by `fail`, in a transaction of its own, then raised.
"""

import tempfile
from collections.abc import Callable
from typing import IO

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import OperationalError, transaction


def build_and_store(
    *, name: str, suffix: str, write: Callable[[IO[bytes]], None], fail: Callable[[Exception], None]
) -> str:
    """`write` the file, then store it under `name`; the name the storage gave it."""
    with tempfile.TemporaryFile(suffix=suffix) as handle:
        try:
            write(handle)
        except OperationalError:
            raise
        except Exception as error:
            with transaction.atomic():
                fail(error)
            raise
        handle.seek(0)
        # A redelivered task may find the file of a build that stopped before its state was saved.
        default_storage.delete(name)
        return default_storage.save(name, File(handle))
