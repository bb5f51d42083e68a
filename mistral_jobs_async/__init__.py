"""mistral_jobs_async: an asyncio-first client for Mistral's training-job APIs.

``AsyncClient`` reaches the Fine-Tuning, Forge and Files APIs; every error derives from
``MistralJobsError``. Models live in ``mistral_jobs_async.models`` and the local service in
``mistral_jobs_async.emulator``. Names that start with an underscore are private.
"""

from __future__ import annotations

__version__ = "0.1.0"

from mistral_jobs_async._budget import RequestBudget
from mistral_jobs_async._client import DEFAULT_BASE_URL, AsyncClient
from mistral_jobs_async._exceptions import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    ConnectError,
    EmulatorError,
    IncompleteResponseError,
    InvalidRequestError,
    InvalidTrainingDataError,
    JobEndedError,
    MistralJobsError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    RequestTimeoutError,
    ResponseDecodeError,
    ResponseTooLargeError,
    ServerError,
    TransportError,
    UnprocessableEntityError,
    WaitTimeoutError,
)
from mistral_jobs_async._pagination import AsyncPager
from mistral_jobs_async._retry import RetryPolicy
from mistral_jobs_async.models import (
    FINE_TUNING_TERMINAL,
    FORGE_TERMINAL,
    FineTuningStatus,
    ForgeStatus,
    Page,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "FINE_TUNING_TERMINAL",
    "FORGE_TERMINAL",
    "APIStatusError",
    "AsyncClient",
    "AsyncPager",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "EmulatorError",
    "FineTuningStatus",
    "ForgeStatus",
    "IncompleteResponseError",
    "InvalidRequestError",
    "InvalidTrainingDataError",
    "JobEndedError",
    "MistralJobsError",
    "NotFoundError",
    "Page",
    "PaginationError",
    "PermissionDeniedError",
    "RateLimitError",
    "RedirectError",
    "RequestBudget",
    "RequestTimeoutError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "RetryPolicy",
    "ServerError",
    "TransportError",
    "UnprocessableEntityError",
    "WaitTimeoutError",
    "__version__",
]
