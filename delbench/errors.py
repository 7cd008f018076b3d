"""The one exception type the CLI turns into a one-line message and a non-zero exit."""
from __future__ import annotations


class DelbenchError(Exception):
    """A user-facing error: the message names the file, id or field at fault and says what to do."""
