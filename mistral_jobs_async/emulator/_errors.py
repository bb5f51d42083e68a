"""The emulated API's error answer, raised anywhere in the emulator and rendered by the app."""

from __future__ import annotations

from mistral_jobs_async._exceptions import EmulatorError

__all__ = ["ApiError"]


class ApiError(EmulatorError):
    """An error answer of the emulated API: HTTP status, message and the spec's error type."""

    def __init__(self, status: int, message: str, type_: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_ or _ERROR_TYPES.get(status, "error")


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    429: "rate_limited",
    500: "internal_server_error",
    502: "bad_gateway",
    503: "service_unavailable",
}
