"""A scripted browser for the sandbox's consent page: the demo and tests connect through the real flow.

It does what a person does: open the authorize URL, read the consent form, pick the company, press
"allow", and follow the redirect to the loopback listener. Only for the local sandbox (loopback URLs).
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx

from fortnox_connector.errors import AuthError


class _ConsentForm(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id") == "consent":
            self._in_form = True
            self.action = a.get("action", "")
        elif tag == "input" and self._in_form and a.get("type") == "hidden" and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def approve(
    authorize_url: str, *, company: str | int | None = None, allow: bool = True, follow: bool = True
) -> str:
    """Open ``authorize_url``, submit its consent form (allow or deny), follow the redirect once (unless
    ``follow`` is false: a redirect URI that is not served here). Returns where the browser was sent."""
    with httpx.Client(follow_redirects=False, timeout=10) as http:
        page = http.get(authorize_url)
        if page.status_code != 200:
            raise AuthError(
                f"the consent page answered HTTP {page.status_code}", hint="check the sandbox URL"
            )
        form = _ConsentForm()
        form.feed(page.text)
        if form.action is None:
            raise AuthError("the consent page has no consent form", hint="is this the Fortnox sandbox?")
        data = dict(form.fields)
        data["decision"] = "allow" if allow else "deny"
        if company is not None:
            data["tenant"] = str(company)
        answer = http.post(urljoin(authorize_url, form.action), data=data)
        location = str(answer.headers.get("location") or "")
        if answer.status_code not in (302, 303) or not location:
            raise AuthError(f"the consent form answered HTTP {answer.status_code}", hint="check the sandbox")
        if follow:
            http.get(location)  # the browser lands on the redirect URI: the loopback listener
        return location
