"""``AsyncClient``: configuration, the one HTTP session, and the API resources."""

from __future__ import annotations

import ipaddress
import math
import os
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from mistral_jobs_async._budget import RequestBudget
from mistral_jobs_async._exceptions import ConfigurationError
from mistral_jobs_async._http import HttpClient
from mistral_jobs_async._retry import RetryPolicy
from mistral_jobs_async.resources.files import Files
from mistral_jobs_async.resources.fine_tuning import FineTuning, FineTuningJobs
from mistral_jobs_async.resources.forge import Forge, ForgeJobs
from mistral_jobs_async.resources.models import Models

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "AsyncClient",
    "jobs_of",
]

DEFAULT_BASE_URL = "https://api.mistral.ai"
DEFAULT_TIMEOUT = 60.0
#: The most an answer may grow to, as sent and once unpacked: a page of 100 jobs is ~60 kB.
DEFAULT_MAX_RESPONSE_BYTES = 32 * 2**20


def _is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine: ``localhost`` (RFC 6761) or a loopback address."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AsyncClient:
    """The Fine-Tuning, Forge, Files and Models APIs over one aiohttp session.

    ``api_key`` defaults to ``$MISTRAL_API_KEY`` and ``base_url`` to ``$MISTRAL_BASE_URL``, then
    ``https://api.mistral.ai`` (fine-tuning and files are served under ``/v1``, Forge at the
    root). ``timeout`` bounds each attempt in seconds, reading, unpacking and decoding the answer
    included (an upload or a download: each connect and each read); retries follow
    ``retry`` (see ``RetryPolicy``), with ``max_retries`` as a shortcut. An answer larger
    than ``max_response_bytes`` (as sent or once unpacked) is
    refused with ``ResponseTooLargeError``. Plain ``http://`` is refused for anything but
    loopback unless ``allow_insecure_http=True``: the key would cross the network in clear.
    ``budget`` (a ``RequestBudget``, e.g. ``sharing.RedisBudget``) is asked before every
    attempt and told of every 429: the way several processes keep under one rate limit.
    Pass ``session`` to reuse your own ``aiohttp.ClientSession`` (the client then leaves it
    open). Use it as an async context manager, or call :meth:`aclose`. A client belongs to
    the event loop it is first used in.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        session: aiohttp.ClientSession | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        allow_insecure_http: bool = False,
        budget: RequestBudget | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("MISTRAL_API_KEY")
        if key is not None and not isinstance(key, str):
            raise ConfigurationError(f"api_key must be a string, not {type(key).__name__}")
        if not key or not key.strip():
            raise ConfigurationError(
                "no API key: pass AsyncClient(api_key=...) or set MISTRAL_API_KEY"
            )
        if not all(33 <= ord(char) < 127 for char in key.strip()):
            # Said without the key: a control character or space is a copy-paste accident.
            raise ConfigurationError("the API key holds spaces or non-printable characters")
        url = base_url or os.environ.get("MISTRAL_BASE_URL") or DEFAULT_BASE_URL
        if not isinstance(url, str):
            raise ConfigurationError(f"base_url must be a string, not {type(url).__name__}")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(f"base_url must be an http(s) URL, not {url!r}")
        if parts.path.rstrip("/").endswith("/v1"):
            raise ConfigurationError(
                f"base_url is the service root, without /v1 (e.g. {DEFAULT_BASE_URL}), "
                f"not {url!r}: the client adds /v1 where the API needs it"
            )
        if (
            parts.scheme == "http"
            and not allow_insecure_http
            and not _is_loopback(parts.hostname or "")
        ):
            raise ConfigurationError(
                f"base_url http://{parts.hostname} is plain HTTP to a host that is not "
                "this machine: the API key would cross the network unencrypted. Use https://, "
                "or pass AsyncClient(allow_insecure_http=True) (CLI: --allow-insecure-http) "
                "if you trust every network in between"
            )
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes < 1024
        ):
            raise ConfigurationError(
                f"max_response_bytes must be an int >= 1024, not {max_response_bytes!r}"
            )
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not 0 < timeout < math.inf
        ):
            raise ConfigurationError(
                f"timeout must be a finite number > 0 (seconds), not {timeout!r}"
            )
        if max_retries is not None and (
            isinstance(max_retries, bool) or not isinstance(max_retries, int)
        ):
            raise ConfigurationError(f"max_retries must be an int, not {max_retries!r}")
        policy = retry or RetryPolicy()
        if max_retries is not None:
            policy = replace(policy, max_retries=max_retries)
        self.base_url = url.rstrip("/")
        self._http = HttpClient(
            api_key=key.strip(), base_url=self.base_url, timeout=timeout, retry=policy,
            session=session, max_response_bytes=max_response_bytes, budget=budget,
        )  # fmt: skip
        self.models = Models(self._http)
        self.fine_tuning = FineTuning(self._http, self.models)
        self.forge = Forge(self._http)
        self.files = Files(self._http)

    def __repr__(self) -> str:
        state = " closed" if self._http.closed else ""
        return f"<AsyncClient {self.base_url}{state}>"

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy in force."""
        return self._http.retry

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._http.closed

    async def aclose(self) -> None:
        """Close the client's own session (not one passed in); later calls raise."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        if self._http.closed:
            raise ConfigurationError("this AsyncClient is closed; create a new one")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def jobs_of(client: AsyncClient, api: str) -> FineTuningJobs | ForgeJobs:
    """The jobs resource of an API named ``fine_tuning`` or ``forge`` (sweeps, MCP, CLI)."""
    if api == "fine_tuning":
        return client.fine_tuning.jobs
    if api == "forge":
        return client.forge.jobs
    raise ConfigurationError(f"api must be 'fine_tuning' or 'forge', not {api!r}")
