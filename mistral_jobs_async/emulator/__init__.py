"""A local emulator of Mistral's training-job service, for tests, demos and pipelines.

``Emulator`` starts a real aiohttp server on ``127.0.0.1`` that answers the Fine-Tuning
(``/v1/fine_tuning/jobs``), Forge (``/forge/training/jobs``), Files (``/v1/files``) and
Models (``/v1/models``, ``/v1/fine_tuning/models``) APIs like the real service: per-key
organisations, validation, job lifecycles on a simulated clock, model cards, rate limits
and injectable faults. See ``docs/emulator.md``.

Modules: ``_server`` (``Emulator``: start, stop, the Python controls), ``_app`` (the
middleware: auth, rate limit, faults, logs; signed URLs), ``_routes`` (the API's handlers),
``_control`` (the ``/_emulator`` path), ``_service`` (state and helpers they share),
``_store`` (jobs per key and the lifecycle engine), ``_rules`` (what a create is checked
for), ``_render`` (jobs as answered), ``_files`` (uploaded files, their bytes and token
counts), ``_models`` (model cards), ``_lifecycle`` (how jobs move, list filters), ``_clock``
(simulated time), ``_faults`` (fault rules, rate limiter), ``_schemas`` (strict wire shapes),
``_uploads`` (JSONL checks), ``_errors`` (the API's error), ``pytest_plugin`` (fixtures).
"""

from __future__ import annotations

from mistral_jobs_async.emulator._clock import SimClock
from mistral_jobs_async.emulator._faults import Fault, FaultKind
from mistral_jobs_async.emulator._lifecycle import FINE_TUNING_TERMINAL, FORGE_TERMINAL, Timings
from mistral_jobs_async.emulator._server import Emulator
from mistral_jobs_async.emulator._service import Exchange, RequestRecord

__all__ = [
    "FINE_TUNING_TERMINAL",
    "FORGE_TERMINAL",
    "Emulator",
    "Exchange",
    "Fault",
    "FaultKind",
    "RequestRecord",
    "SimClock",
    "Timings",
]
