"""The exception tree of mistral_jobs_async.

Every error the library raises derives from :class:`MistralJobsError`::

    MistralJobsError
    └── EmulatorError        misuse of the emulator: bad option, unknown job, bad fault rule
                             (also a ValueError, as bad arguments are)

The client's transport and HTTP status errors join this tree beside ``EmulatorError``.
"""

from __future__ import annotations

__all__ = ["EmulatorError", "MistralJobsError"]


class MistralJobsError(Exception):
    """Root of every error raised by mistral_jobs_async."""


class EmulatorError(MistralJobsError, ValueError):
    """Raised when the emulator is configured or steered wrongly (bad option, unknown job)."""
