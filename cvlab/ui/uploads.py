"""Dataset uploads on the pages: who uploads (for the quota), what is kept, and a caption saying so.

Every zip or folder a page receives goes into ``cvlab.data.uploads.UploadStore``, counted
for the identity that uploaded it: the login when the server has one, else the id the
server gave this browser (``cvlab.ui.identity``), never a typed name, which anyone could
type to spend someone else's quota.
"""

from __future__ import annotations

import streamlit as st

from cvlab.data.uploads import UploadStore
from cvlab.settings import get_settings


def upload_owner() -> str:
    """The identity that owns runs (``cvlab.ui.identity.owner_id``): the login, else this browser's signed id."""
    try:
        from cvlab.ui.identity import owner_id

        return owner_id() or "local"
    except Exception:  # noqa: BLE001 - no Streamlit session (a script or a test): one shared owner
        return "local"


def save_zip(upload) -> str:
    """An uploaded file kept in the store under its own name; its path (the run's ``data``)."""
    return str(UploadStore().save_file(upload.getvalue(), upload.name, upload_owner()))


def save_folder(files: list) -> str:
    """A folder upload kept in the store, its total size checked before a byte of it is read; its folder."""
    return str(UploadStore().save_folder(files, upload_owner()))


def quota_caption() -> None:
    """One line under an uploader: how much of the quota this user's uploads take, and what is kept."""
    settings = get_settings()
    used = UploadStore(settings).usage(upload_owner())
    st.caption(f"Your uploads keep {used / 2**20:,.0f} of your {settings.user_disk_quota / 2**20:,.0f} MiB on this "
               f"server; the least recently used make room, and any unused for {settings.upload_keep_days:g} days "
               "are deleted.")
