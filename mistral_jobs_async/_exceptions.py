"""The exception tree of mistral_jobs_async.

Every error the library raises derives from :class:`MistralJobsError`::

    MistralJobsError
    └── EmulatorError        misuse of the emulator's control handle (unknown job, bad fault)

The client's transport and HTTP status errors join this tree beside ``EmulatorError``.
"""

from __future__ import annotations

__all__ = ["EmulatorError", "MistralJobsError"]


class MistralJobsError(Exception):
    """Root of every error raised by mistral_jobs_async."""


class EmulatorError(MistralJobsError):
    """Raised when the emulator's control handle is used wrongly (unknown job, bad argument)."""
