"""The error for an optional part of the package whose extra is not installed.

One wording for every extra (``sharing``, ``fastapi``, ``mcp``, ``sweeps``), raised when the part
is imported; the command line shows the same message (``_cli``).
"""

from __future__ import annotations

__all__ = ["missing_extra"]


def missing_extra(
    part: str, needs: str, extra: str, cause: ModuleNotFoundError
) -> ModuleNotFoundError:
    """``mistral_jobs_async.<part> needs <needs>: pip install 'mistral-jobs-async[<extra>]'``.

    ``cause`` is the import that failed: its module name is kept (``name``), so a caller can
    still tell which package is missing. Raise it ``from None``.
    """
    return ModuleNotFoundError(
        f"mistral_jobs_async.{part} needs {needs}: pip install 'mistral-jobs-async[{extra}]'",
        name=cause.name,
    )
