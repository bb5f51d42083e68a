"""mistral_jobs_async: an asyncio-first client for Mistral's training-job APIs.

Public names live here and in the public submodules (``emulator``); everything whose
name starts with an underscore is private.
"""

from __future__ import annotations

from mistral_jobs_async._exceptions import EmulatorError, MistralJobsError

__version__ = "0.1.0"

__all__ = ["EmulatorError", "MistralJobsError", "__version__"]
