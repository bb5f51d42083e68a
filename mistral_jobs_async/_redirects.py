"""Which redirects the client follows, and how URLs are shown in errors.

Same origin only, and only where the request can be sent again as it was made. The API does
not redirect; anything else is refused, named, unsent.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from mistral_jobs_async._exceptions import RedirectError

__all__ = ["origin", "redirect_target", "shown"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int | None]:
    """A URL's scheme, host and port (the default port when none is written)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


def shown(url: str) -> str:
    """A URL as an error may show it: no credentials, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def redirect_target(
    method: str,
    url: str,
    status: int,
    location: str,
    *,
    allowed: tuple[str, str, int | None],
    base_url: str,
    replayable: bool,
) -> str:
    """Where a redirect may be followed to, or ``RedirectError`` if it may not.

    ``replayable`` is false for a request whose body or answer is a stream (an upload, a
    download): it is never followed.
    """
    target = urljoin(url, location)
    target_shown = shown(target)
    if origin(target) != allowed:
        raise RedirectError(
            f"{method} {shown(url)} was redirected (HTTP {status}) to {target_shown}, which is "
            f"not {base_url}: refused (the API does not redirect; nothing was sent there)",
            status_code=status, location=target_shown, method=method, url=url,
        )  # fmt: skip
    # 301/302/303 turn a POST into a GET; a stream cannot be replayed safely.
    same_request = status in (307, 308) or method in ("GET", "HEAD")
    if not replayable or not same_request:
        raise RedirectError(
            f"{method} {shown(url)} was redirected (HTTP {status}) to {target_shown}: not "
            "followed, since the request would not be sent again as it was made",
            status_code=status, location=target_shown, method=method, url=url,
        )  # fmt: skip
    return target
