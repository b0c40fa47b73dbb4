"""Where court orders and what was disclosed for them are kept: ``PRIVATE_STORAGE_ROOT``, a
folder outside ``MEDIA_ROOT`` and the static files (``sharing.E001`` refuses one inside them).

A file here has no URL: ``url()`` raises. Staff get one only through a view that checks they
are a Privacy Officer, records the download and sends it as an attachment (see
``sharing.admin_legal``). Files and folders are readable by the site's own user only.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage


class PrivateStorage(FileSystemStorage):
    """``FileSystemStorage`` rooted at ``PRIVATE_STORAGE_ROOT`` (read when used, so a changed
    setting applies), with no public URL."""

    def __init__(self) -> None:
        super().__init__(file_permissions_mode=0o600, directory_permissions_mode=0o700)

    @property
    def base_location(self) -> str:
        return str(settings.PRIVATE_STORAGE_ROOT)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    def url(self, name: str | None) -> str:
        raise ValueError(
            "A private file has no URL: it is handed out only by a permission-checked view."
        )


def private_storage() -> PrivateStorage:
    """The storage of ``FileField``s that must never be public (a callable, so migrations
    refer to it rather than to a folder)."""
    return PrivateStorage()
