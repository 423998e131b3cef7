"""Scrubbing cassettes on record, and spotting anything token-like that slipped through.

Every secret value (access and refresh tokens, codes, the client secret) is replaced by a numbered
placeholder such as ``<REFRESH_TOKEN_2>``, the same real value always by the same placeholder within one
cassette. Because request bodies and response bodies are scrubbed alike, a replayed test that hands back
the refresh token it was given (``<REFRESH_TOKEN_2>``) sends exactly what the cassette recorded, so
rotation and reuse replay without any real value. vcrpy applies ``before_record_request`` to requests when
matching as well, so a placeholder maps to itself and a real value to its placeholder on both paths.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Form fields and JSON keys whose values are secrets, and the placeholder kind each one gets.
SECRET_FIELDS = {
    "access_token": "ACCESS_TOKEN",
    "refresh_token": "REFRESH_TOKEN",
    "id_token": "ID_TOKEN",
    "code": "CODE",
    "client_secret": "CLIENT_SECRET",
    "token": "TOKEN",  # the revoke endpoint's field
}
# In JSON only OAuth answers carry secrets; "code"/"token" there would be Fortnox error codes or the like.
JSON_SECRET_FIELDS = {k: v for k, v in SECRET_FIELDS.items() if k not in ("code", "token")}
SCRUBBED_HEADER = "<SCRUBBED>"
SCRUBBED_HEADERS = ("authorization", "cookie", "set-cookie")
DROPPED_RESPONSE_HEADERS = ("date",)  # changes on every recording; nothing reads it

PLACEHOLDER = re.compile(r"^<[A-Z_]+(_\d+)?>$")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")


class Scrubber:
    """Maps real secret values to stable placeholders for one cassette."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def name(self, value: str, placeholder: str) -> None:
        """Give a value the test knows up front (e.g. the first refresh token) a fixed placeholder."""
        if value and not PLACEHOLDER.match(value):
            self._names[value] = placeholder

    def placeholder(self, value: str, kind: str) -> str:
        """``value``'s placeholder (a new numbered one on first sight); placeholders map to themselves."""
        if not value or PLACEHOLDER.match(value):
            return value
        known = self._names.get(value)
        if known is None:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            known = f"<{kind}_{self._counts[kind]}>"
            self._names[value] = known
        return known

    def text(self, text: str) -> str:
        """Every known secret and every JWT-shaped string in ``text`` replaced."""
        for real, placeholder in sorted(self._names.items(), key=lambda kv: -len(kv[0])):
            if real in text:
                text = text.replace(real, placeholder)
        return JWT.sub(lambda m: self.placeholder(m.group(0), "JWT"), text)

    # -- bodies --------------------------------------------------------------------------------
    def form(self, body: str) -> str:
        pairs = parse_qsl(body, keep_blank_values=True)
        out = [(k, self.placeholder(v, SECRET_FIELDS[k]) if k in SECRET_FIELDS else v) for k, v in pairs]
        return urlencode(out)

    def json_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: self.placeholder(v, JSON_SECRET_FIELDS[k])
                if k in JSON_SECRET_FIELDS and isinstance(v, str)
                else self.json_value(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.json_value(v) for v in value]
        return value

    def body(self, raw: bytes | str | None, content_type: str) -> bytes | str | None:
        """A scrubbed copy of a body; untouched (byte for byte) when it holds no secret."""
        if raw is None or raw in (b"", ""):
            return raw
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        new = self._structured(text, content_type)
        new = self.text(new)
        if new == text:
            return raw
        return new.encode() if isinstance(raw, bytes) else new

    def _structured(self, text: str, content_type: str) -> str:
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict | list):
            scrubbed = self.json_value(data)
            return text if scrubbed == data else json.dumps(scrubbed)
        if "x-www-form-urlencoded" in content_type or _looks_like_form(text):
            before = parse_qsl(text, keep_blank_values=True)
            after = self.form(text)
            return text if parse_qsl(after, keep_blank_values=True) == before else after
        return text

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        if not parts.query:
            return self.text(url)
        query = self.form(parts.query)
        same = parse_qsl(query, keep_blank_values=True) == parse_qsl(parts.query, keep_blank_values=True)
        return self.text(url if same else urlunsplit(parts._replace(query=query)))

    # -- vcr hooks -----------------------------------------------------------------------------
    def before_record_request(self, request: Any) -> Any:
        """vcrpy hook (on a copy of the request): scrub headers, URL and body."""
        for name in list(request.headers):
            if name.lower() in SCRUBBED_HEADERS:
                request.headers[name] = SCRUBBED_HEADER
        request.uri = self.url(request.uri)
        content_type = _header(request.headers, "content-type")
        body = self.body(request.body, content_type)
        if body is not request.body and body is not None:
            request.body = body
            for name in list(request.headers):
                if name.lower() == "content-length":
                    request.headers[name] = str(len(body.encode() if isinstance(body, str) else body))
        return request

    def before_record_response(self, response: dict[str, Any]) -> dict[str, Any]:
        """vcrpy hook: scrub the body and secret-bearing headers, drop ``Date``, fix ``Content-Length``."""
        headers: dict[str, list[str]] = response["headers"]
        for name in list(headers):
            low = name.lower()
            if low in DROPPED_RESPONSE_HEADERS:
                del headers[name]
            elif low in SCRUBBED_HEADERS:
                headers[name] = [SCRUBBED_HEADER]
            elif low == "location":
                headers[name] = [self.url(v) for v in headers[name]]
        body = response["body"].get("string")
        new = self.body(body, _header(headers, "content-type"))
        if new is not body:
            response["body"]["string"] = new
            for name in list(headers):
                if name.lower() == "content-length" and new is not None:
                    size = len(new.encode() if isinstance(new, str) else new)
                    headers[name] = [str(size)]
        return response


def _header(headers: Any, name: str) -> str:
    for key, value in dict(headers).items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) else value)
    return ""


def _looks_like_form(text: str) -> bool:
    return "=" in text and " " not in text and "\n" not in text


# -- leak detection (tests/cassettes/test_no_secrets.py) ---------------------------------------
# The lead's before-stop hook greps cassettes with this pattern; a test applies it too.
HOOK_PATTERN = re.compile(
    r"(Bearer [A-Za-z0-9._~+/=-]{16,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"
    r"|\"(access_token|refresh_token|client_secret)\"[\s]*:[\s]*\"[^\"<*]{16,}\")"
)
BEARER = re.compile(r"Bearer\s+(?!<)[A-Za-z0-9._~+/=-]{8,}")
BASIC = re.compile(r"Basic\s+(?!<)[A-Za-z0-9+/=]{8,}")
_FORM_SECRET = re.compile(
    r"(?:^|[?&\s'\"])(" + "|".join(SECRET_FIELDS) + r")=(?!%3C|<)([^&\s'\"]+)", re.IGNORECASE
)


def leaks(text: str) -> Iterator[str]:
    """Why ``text`` (a whole cassette file or one body) looks like it holds a secret; nothing if clean."""
    checks: list[tuple[str, Callable[[str], Iterator[str]]]] = [
        ("JWT-shaped string", lambda t: (m.group(0) for m in JWT.finditer(t))),
        ("Bearer credential", lambda t: (m.group(0) for m in BEARER.finditer(t))),
        ("Basic credential", lambda t: (m.group(0) for m in BASIC.finditer(t))),
        ("the before-stop hook's pattern", lambda t: (m.group(0) for m in HOOK_PATTERN.finditer(t))),
        ("secret form field", lambda t: (f"{m.group(1)}=" for m in _FORM_SECRET.finditer(t))),
    ]
    for why, find in checks:
        for hit in find(text):
            yield f"{why}: {hit[:12]}…"
    for key, value in _json_secrets(text):
        if not PLACEHOLDER.match(value):
            yield f"non-placeholder JSON {key!r}"


def _json_secrets(text: str) -> Iterator[tuple[str, str]]:
    try:
        data = json.loads(text)
    except ValueError:
        return
    stack: list[Any] = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for k, v in item.items():
                if k in JSON_SECRET_FIELDS and isinstance(v, str):
                    yield k, v
                else:
                    stack.append(v)
        elif isinstance(item, list):
            stack.extend(item)
