"""Network failures that retrying cannot fix: an untrusted certificate, a host name that does not resolve."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import NameResolutionError


def _causes(error: BaseException) -> list[BaseException]:
    """``error`` and what it wraps: requests hides urllib3's reason inside a MaxRetryError argument."""
    seen: list[BaseException] = []
    pending: list[object] = [error]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or any(current is known for known in seen):
            continue
        seen.append(current)
        pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None), *current.args])
    return seen


def network_error_describe(
    *, error: requests.RequestException, url: str, ca_setting: str, url_setting: str
) -> str | None:
    """The message for a failure that the same request will meet again, or None when it may pass later.

    A retry schedule would spend hours on a certificate the client does not trust or a host that
    does not exist; the message names the host and the setting that fixes it instead.
    """
    host = urlsplit(url).hostname or url
    if isinstance(error, requests.exceptions.SSLError):
        return (
            f"The TLS certificate of {host} is not trusted ({type(error).__name__}): if the server is right, set "
            f"{ca_setting} to the CA bundle that signed its certificate."
        )
    if any(isinstance(cause, NameResolutionError | socket.gaierror) for cause in _causes(error)):
        return f"The host name {host} does not resolve: check {url_setting} (and the DNS of this machine)."
    return None
