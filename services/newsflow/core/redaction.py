"""Credentials out of anything a person may read: settings errors, store errors, /readyz,
/healthz and the logs. Store and broker URLs reach all of them, and a password typed into
one must never come back out.

    postgresql://sink:S3cret@db/news             -> postgresql://sink:***@db/news
    postgresql://db/news?password=S3cret         -> postgresql://db/news?password=***
    host=db user=sink password='S3 cret'         -> host=db user=sink password=***
"""

from __future__ import annotations

import re

HIDDEN = "***"

# scheme://user:password@ — any scheme, mistyped ones included; the password runs to the
# last @ before the end of the URL, as people type passwords with @ and / unescaped.
_USERINFO_PASSWORD = re.compile(
    r"(?P<start>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/?#@'\"]*:)(?P<password>[^\s'\"]*)@"
)

# password=…, sslpassword=…, client_secret=…, access_token=…, api_key=…: in a URL's query
# string or a libpq "key=value" string, where a value may be quoted ('…' with \' inside).
# A value hidden already stays as it is, with the punctuation after it.
_SECRET_PARAMETER = re.compile(
    r"(?P<start>\b[\w.-]*(?:password|passwd|pwd|secret|token|api_?key)\s*=\s*)"
    r"(?P<value>\*{3}(?=[:,.)]?(?:[\s&;#'\"]|$))|'(?:[^'\\]|\\.)*'?|[^\s&;#'\"]+)",
    re.IGNORECASE,
)


def redacted(text: str) -> str:
    """`text` with every password, secret and token in it replaced by ***."""
    text = _USERINFO_PASSWORD.sub(lambda m: f"{m['start']}{HIDDEN}@", text)
    return _SECRET_PARAMETER.sub(lambda m: f"{m['start']}{HIDDEN}", text)
