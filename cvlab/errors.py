"""Errors that cvlab raises on purpose; each message says what to do next.

A page shows a CvlabError with ``st.error(str(err))`` and the command line prints
it and exits with status 2, so the message must stand on its own: what was
wrong, the limit or rule that was broken, and how to fix it.
"""

from __future__ import annotations


class CvlabError(Exception):
    """Base class of every error cvlab raises for a user to read."""


class InvalidLayer(CvlabError, ValueError):
    """Layer parameters that PyTorch would reject, or that leave no output."""


class InvalidInput(CvlabError, ValueError):
    """A value typed by the user that cannot be used (range, list, number...)."""


class UnknownName(CvlabError, LookupError):
    """A name that is not in a registry; the message lists every valid choice."""
