"""Keep credentials out of what we print and store: database and storage URLs.

A URL can carry a secret in its password and in query parameters (``?password=``,
``sslpassword``, ``token``...). Everything shown to people or written to files goes through
:func:`redact_url`.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

_SECRET_PARAM = re.compile(r"pass|pwd|secret|token|key|credential|auth", re.IGNORECASE)
MASK = "***"


def secret_parts(url: str) -> list[str]:
    """The secret values a URL carries (its password, secret-looking query parameters)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return []
    found = [password] if password else []
    query = parse_qsl(parts.query, keep_blank_values=True)
    found += [v for k, v in query if _SECRET_PARAM.search(k) and v]
    return found


def has_secret(url: str) -> bool:
    return bool(secret_parts(url))


def redact_url(url: str | None) -> str:
    """``url`` with its password and secret query parameters replaced by ``***``."""
    if url is None:
        return "memory"
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if password:
        netloc = netloc.replace(f":{password}@", f":{MASK}@", 1)
    query = urlencode(
        [
            (k, MASK if _SECRET_PARAM.search(k) and v else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*/",
    )
    if not has_secret(url):
        return url
    # Composed by hand: urlunsplit drops the empty host of sqlite:///path.
    text = f"{parts.scheme}://{netloc}{parts.path}"
    text += f"?{query}" if query else ""
    return text + (f"#{parts.fragment}" if parts.fragment else "")


def scrub(text: str, url: str) -> str:
    """``text`` with every secret of ``url`` masked (for messages that may quote it)."""
    for secret in secret_parts(url):
        text = text.replace(secret, MASK)
    return text
