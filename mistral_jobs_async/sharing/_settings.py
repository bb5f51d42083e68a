"""Where a shared watch lives in Redis, and its timings."""

from __future__ import annotations

from dataclasses import dataclass

from mistral_jobs_async._exceptions import ConfigurationError

__all__ = ["Keys", "SharingConfig"]


@dataclass(frozen=True)
class SharingConfig:
    """Timings and bounds of a shared watch (seconds throughout).

    ``lease_ttl`` is how long a leader that stopped answering keeps the lease: another process
    takes over within about that time. The leader renews it every third of it. Interest (the
    jobs a process follows) expires after ``interest_ttl`` unless renewed (every third), so
    jobs of a process that died stop being polled. The event stream keeps about
    ``stream_maxlen`` entries: a process further behind than that is told of a gap.
    """

    namespace: str = "mistral-jobs"
    lease_ttl: float = 10.0
    interest_ttl: float = 30.0
    stream_maxlen: int = 10_000
    #: How long one stream read waits for new entries before looking again.
    read_block: float = 1.0
    #: Whether the leader publishes checkpoints and estimates (then every running job it
    #: follows is polled by GET): what ``subscribe(progress=True)`` needs in a shared watch.
    progress: bool = False
    #: After Redis has been unreachable this long, each process follows its own jobs with a
    #: local watcher until it is back (None: wait for Redis instead).
    fallback_after: float | None = 5.0

    def __post_init__(self) -> None:
        if not self.namespace or any(c in self.namespace for c in " \n{}"):
            raise ConfigurationError(f"namespace {self.namespace!r}: no spaces or braces")
        if self.lease_ttl <= 0 or self.interest_ttl <= 0 or self.read_block <= 0:
            raise ConfigurationError("lease_ttl, interest_ttl and read_block must be > 0")
        if self.stream_maxlen < 100:
            raise ConfigurationError("stream_maxlen must be >= 100")


@dataclass(frozen=True)
class Keys:
    """The Redis keys of one API's shared watch under a namespace."""

    prefix: str

    @classmethod
    def of(cls, namespace: str, identity: str, api: str) -> Keys:
        """The keys of ``api``'s watch (``fine_tuning`` or ``forge``) under ``namespace``.

        ``identity`` (a hash of the service URL and the key, never the key) keeps apart
        organisations that share a Redis and a namespace. The prefix is one hash tag, so
        every key of a watch lands in one slot of a Redis Cluster (its scripts touch several).
        """
        return cls(f"{{{namespace}:{identity}:{api}}}")

    @property
    def lease(self) -> str:
        """The leader's lease: ``<fence>:<process id>``, with an expiry."""
        return f"{self.prefix}:lease"

    @property
    def fence(self) -> str:
        """The counter each new lease takes its fencing token from."""
        return f"{self.prefix}:fence"

    @property
    def members(self) -> str:
        """The processes that follow jobs, scored by when their registration expires (ms)."""
        return f"{self.prefix}:members"

    def interest(self, process: str) -> str:
        """The jobs one process follows (a set that expires unless renewed)."""
        return f"{self.prefix}:interest:{process}"

    @property
    def events(self) -> str:
        """The stream of events the leader publishes."""
        return f"{self.prefix}:events"

    @property
    def seq(self) -> str:
        """The counter numbering the stream's entries (a jump in it is a gap)."""
        return f"{self.prefix}:seq"

    @property
    def state(self) -> str:
        """A hash: each job's last published status (what a new leader resumes from)."""
        return f"{self.prefix}:state"
