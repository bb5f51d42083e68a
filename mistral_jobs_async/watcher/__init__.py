"""Follow many training jobs at once and get their status transitions as an async iterator.

Usually reached through ``client.fine_tuning.jobs.watch(ids)`` / ``client.forge.jobs.watch``
and ``...jobs.wait(id)``; this package holds the machinery and the event types.

How it spends requests (see ``docs/watcher.md`` for the whole story):

* **One budget.** Every request of a watcher takes a token from one rate limiter
  (``requests_per_second``) and a slot from one ``CapacityLimiter`` (``max_in_flight``).
  A 429 pauses the whole watcher for its Retry-After: no per-job storm.
* **Sweep or GET, by cost.** When several jobs are due, one list sweep (pages of 100,
  newest first, bounded by ``created_after`` where the API has it) observes them all at once;
  it is chosen when the pages it needs are fewer than the GETs it replaces, and abandoned for
  GETs as soon as the remaining pages would cost more. Jobs a sweep cannot see get a GET.
* **Adaptive cadence per job.** Fast right after a change and in short-lived statuses
  (VALIDATING, STARTED, CANCELLATION_REQUESTED), growing while a job sits in QUEUED or
  RUNNING, capped, with jitter so jobs do not poll in lockstep.
* **Three clocks apart.** Poll cadence is the watcher's; retrying one failed request is the
  client's ``RetryPolicy`` (minus 429s, which pause the watcher), waiting on the watcher's
  clock and budget; deadlines are the caller's (``wait(timeout=...)`` or an anyio cancel
  scope). A failed request is never an observation.

Modules: ``_events`` (what is yielded), ``_config`` (settings and counters), ``_clock`` (the
time seam and a virtual clock), ``_budget`` (the request budget), ``_state`` (saved state),
``_fanout`` (subscribers), ``_observe`` (observations to events, cadence), ``_polling``
(sweeps and GETs), ``_discovery`` (watching by query), ``_engine`` (the ``Watcher``: jobs,
loop, lifecycle) and ``_session`` (``watch`` and ``wait``).
"""

from __future__ import annotations

from mistral_jobs_async.watcher._clock import AnyioClock, Clock, VirtualClock
from mistral_jobs_async.watcher._config import FAST_STATUSES, WatchConfig, WatchStats
from mistral_jobs_async.watcher._engine import Watcher
from mistral_jobs_async.watcher._events import (
    CheckpointReported,
    JobStalled,
    JobVanished,
    MetadataChanged,
    PollFailed,
    ProgressEvent,
    Transition,
    WatchEvent,
    event_record,
)
from mistral_jobs_async.watcher._fanout import Subscription
from mistral_jobs_async.watcher._polling import Target
from mistral_jobs_async.watcher._session import WatchSession

__all__ = [
    "FAST_STATUSES",
    "AnyioClock",
    "CheckpointReported",
    "Clock",
    "JobStalled",
    "JobVanished",
    "MetadataChanged",
    "PollFailed",
    "ProgressEvent",
    "Subscription",
    "Target",
    "Transition",
    "VirtualClock",
    "WatchConfig",
    "WatchEvent",
    "WatchSession",
    "WatchStats",
    "Watcher",
    "event_record",
]
