"""The exception tree of mistral_jobs_async.

Every error the library raises derives from :class:`MistralJobsError`::

    MistralJobsError
    ├── ConfigurationError           no API key, bad base URL, a closed client (ValueError)
    ├── InvalidRequestError          a parameter outside the spec, before any I/O (ValueError)
    ├── EmulatorError                misuse of the emulator: bad option, unknown job (ValueError)
    ├── TransportError               no complete HTTP answer
    │   ├── ConnectError             the connection was refused or could not be made
    │   ├── RequestTimeoutError      no answer in time
    │   └── IncompleteResponseError  the connection broke while the answer came
    ├── ResponseDecodeError          an answer that is not the JSON the API promises
    │   └── ResponseTooLargeError    an answer past ``max_response_bytes`` (read or unpacked)
    ├── RedirectError                a redirect the client refuses (another host, a downgrade)
    ├── PaginationError              a list walk that stopped making progress
    ├── WaitTimeoutError             ``wait(timeout=...)`` ran out (also a TimeoutError)
    ├── JobEndedError                ``wait(until=...)``: the job ended in another status
    ├── InvalidTrainingDataError     ``upload(validate=True)``: the file breaks the format's rules
    └── APIStatusError               the server answered with an error status
        ├── BadRequestError          400
        ├── AuthenticationError      401
        ├── PermissionDeniedError    403
        ├── NotFoundError            404
        ├── ConflictError            409
        ├── UnprocessableEntityError 422
        ├── RateLimitError           429
        └── ServerError              5xx
    (every APIStatusError has status_code, message, type, code, request_id, retry_after)

An error raised after retries says how many attempts were made (``attempts``, and in its
message). No message, repr or attribute of these exceptions contains the API key.
"""

from __future__ import annotations

__all__ = [
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "EmulatorError",
    "IncompleteResponseError",
    "InvalidRequestError",
    "InvalidTrainingDataError",
    "JobEndedError",
    "MistralJobsError",
    "NotFoundError",
    "PaginationError",
    "PermissionDeniedError",
    "RateLimitError",
    "RedirectError",
    "RequestTimeoutError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "ServerError",
    "TransportError",
    "UnprocessableEntityError",
    "WaitTimeoutError",
    "status_error",
]


class MistralJobsError(Exception):
    """Root of every error raised by mistral_jobs_async."""

    #: How many attempts the request made before this error (retries add attempts).
    attempts: int = 1

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} [after {self.attempts} attempts]" if self.attempts > 1 else text


class ConfigurationError(MistralJobsError, ValueError):
    """Raised when the client is set up wrongly (no API key, bad base URL) or used after close."""


class InvalidRequestError(MistralJobsError, ValueError):
    """Raised before any I/O when a request parameter is outside the API's bounds."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class EmulatorError(MistralJobsError, ValueError):
    """Raised when the emulator is configured or steered wrongly (bad option, unknown job)."""


class TransportError(MistralJobsError):
    """Raised when no complete HTTP answer arrived (connection, timeout, broken body)."""

    def __init__(self, message: str, *, method: str, url: str) -> None:
        super().__init__(f"{message} ({method} {url})")
        self.method = method
        self.url = url


class ConnectError(TransportError):
    """Raised when the connection could not be made: the request never reached the server."""


class RequestTimeoutError(TransportError):
    """Raised when the server did not answer within the timeout."""


class IncompleteResponseError(TransportError):
    """Raised when the connection broke after the request was sent (it may have been handled)."""


class ResponseDecodeError(MistralJobsError):
    """Raised when a successful answer is not the JSON the API promises."""

    def __init__(self, message: str, *, status_code: int, request_id: str | None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.request_id = request_id


class ResponseTooLargeError(ResponseDecodeError):
    """Raised when an answer grows past ``max_response_bytes`` (as sent, or once unpacked)."""

    def __init__(self, message: str, *, limit: int, status_code: int, request_id: str | None):
        super().__init__(message, status_code=status_code, request_id=request_id)
        self.limit = limit


class RedirectError(MistralJobsError):
    """Raised on a redirect the client will not follow: to another host, scheme or port.

    The API does not redirect; following one would send the request (and its body) elsewhere.
    """

    def __init__(self, message: str, *, status_code: int, location: str, method: str, url: str):
        super().__init__(message)
        self.status_code = status_code
        self.location = location
        self.method = method
        self.url = url


class PaginationError(MistralJobsError):
    """Raised when a list walk stops making progress (pages of nothing new, a total that grows).

    The items yielded before it are real; the server's paging is what cannot be trusted.
    """


class WaitTimeoutError(MistralJobsError, TimeoutError):
    """Raised when ``jobs.wait(job_id, timeout=...)`` ends before the job (which keeps running)."""

    def __init__(self, message: str, *, job_id: str, last_status: str | None) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.last_status = last_status


class InvalidTrainingDataError(MistralJobsError, ValueError):
    """Raised by ``files.upload(path, validate=True)`` when the file has errors (not sent).

    ``report`` is the whole ``mistral_jobs_async.datasets.Report``; the message names the
    first problems with their line numbers.
    """

    def __init__(self, message: str, *, report: object) -> None:
        super().__init__(message)
        self.report = report


class JobEndedError(MistralJobsError):
    """Raised when ``wait(until=...)`` sees the job end in a status it was not waiting for."""

    def __init__(
        self, message: str, *, job_id: str, status: str, until: frozenset[str], job: object
    ) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.status = status
        self.until = until
        #: The job as last fetched (its API's job class).
        self.job = job


class APIStatusError(MistralJobsError):
    """Raised when the server answers with an error status; carries the spec's error body."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        type: str | None = None,  # noqa: A002 (the spec's field name)
        code: int | str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        method: str = "",
        url: str = "",
    ) -> None:
        where = f" ({method} {url})" if method else ""
        super().__init__(f"HTTP {status_code}: {message}{where}")
        self.message = message
        self.status_code = status_code
        self.type = type
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after
        self.method = method
        self.url = url


class BadRequestError(APIStatusError):
    """Raised on 400: the server refused the request's content."""


class AuthenticationError(APIStatusError):
    """Raised on 401: the API key is missing or not accepted."""


class PermissionDeniedError(APIStatusError):
    """Raised on 403: the key may not do this."""


class NotFoundError(APIStatusError):
    """Raised on 404: no such job or file for this key."""


class ConflictError(APIStatusError):
    """Raised on 409: the job is not in a state that allows this (start, cancel)."""


class UnprocessableEntityError(APIStatusError):
    """Raised on 422: the request is well-formed but its values are refused."""


class RateLimitError(APIStatusError):
    """Raised on 429 once retries are spent; ``retry_after`` is the server's hint in seconds."""


class ServerError(APIStatusError):
    """Raised on 5xx once retries are spent."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error(status_code: int) -> type[APIStatusError]:
    """The exception class for an HTTP error status."""
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, APIStatusError)
