"""Exit codes, the command line's own errors, and the one line each error is reported as."""

from __future__ import annotations

from mistral_jobs_async import (
    APIStatusError,
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    JobEndedError,
    NotFoundError,
    PermissionDeniedError,
    RedirectError,
    TransportError,
    WaitTimeoutError,
)

__all__ = [
    "EXIT_API",
    "EXIT_AUTH",
    "EXIT_INTERRUPTED",
    "EXIT_JOB_FAILED",
    "EXIT_NETWORK",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "NO_KEY",
    "CliError",
    "error_exit",
]

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_NETWORK = 5
EXIT_API = 6
EXIT_TIMEOUT = 124
EXIT_INTERRUPTED = 130

#: What a user of the command does about a missing key (the client's own message speaks of
#: ``AsyncClient(api_key=...)``, which a shell user cannot pass).
NO_KEY = (
    "no API key: set MISTRAL_API_KEY (e.g. export MISTRAL_API_KEY=...); for an emulator, "
    "any key with --base-url http://127.0.0.1:8000; `mistral-jobs demo` needs no key"
)


class CliError(Exception):
    """A problem the command line finds itself (after parsing), with its exit code."""

    def __init__(self, message: str, *, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def error_exit(error: BaseException) -> tuple[int, str]:
    """The exit code and the one line that describe an error (never with the key)."""
    code, message = _classify(error)
    return code, " ".join(message.split())


def _classify(error: BaseException) -> tuple[int, str]:
    if isinstance(error, CliError):
        return error.code, str(error)
    if isinstance(error, WaitTimeoutError):
        return EXIT_TIMEOUT, str(error)
    if isinstance(error, JobEndedError):
        return EXIT_JOB_FAILED, str(error)
    if isinstance(error, InvalidRequestError):
        return EXIT_USAGE, str(error)
    if isinstance(error, ConfigurationError):
        # A blank key is caught before the client is built (NO_KEY); what remains is a
        # malformed key (authentication) or a bad base URL or timeout (usage). The client's
        # messages name the key first when it is the key's fault.
        about_key = str(error).startswith(("the API key", "api_key", "no API key"))
        return (EXIT_AUTH if about_key else EXIT_USAGE), str(error)
    if isinstance(error, AuthenticationError | PermissionDeniedError):
        return EXIT_AUTH, f"{error.message} (HTTP {error.status_code}): check MISTRAL_API_KEY"
    if isinstance(error, NotFoundError):
        return EXIT_NOT_FOUND, error.message
    if isinstance(error, TransportError | RedirectError):
        # A refused redirect is the network path misbehaving (a proxy, a moved service).
        return EXIT_NETWORK, str(error)
    if isinstance(error, APIStatusError):
        return EXIT_API, f"{error.message} (HTTP {error.status_code})"
    # The rest: the service answered, but wrongly (ResponseDecodeError and its
    # ResponseTooLargeError, PaginationError), or an error no other code fits.
    return EXIT_API, str(error)
