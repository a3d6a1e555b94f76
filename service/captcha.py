"""Cloudflare Turnstile and Google reCAPTCHA checks for forms that ask for one.

The widget puts a token in the form; the provider's siteverify endpoint says whether a person
solved it. A refused token is a 422 the person can fix by trying again. A provider that cannot
be asked (timeout, 5xx) must not cost a lead: the submission is accepted and marked unverified.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from core.config import FormConfig

VERIFY_URLS = {
    "turnstile": "https://challenges.cloudflare.com/turnstile/v0/siteverify",
    "recaptcha": "https://www.google.com/recaptcha/api/siteverify",
}
TOKEN_FIELDS = {"turnstile": "cf-turnstile-response", "recaptcha": "g-recaptcha-response"}
TIMEOUT = httpx.Timeout(3.0)


class CaptchaChecker:
    """One HTTP client per web process, created on the first check."""

    def __init__(self, *, transport: httpx.BaseTransport | None = None) -> None:
        self._transport = transport
        self._http: httpx.Client | None = None

    def check(self, form: FormConfig, fields: Mapping[str, Any], remote_ip: str | None) -> bool | None:
        """True: solved. False: refused or missing. None: the provider could not be asked."""
        assert form.captcha and form.captcha_secret
        token = fields.get(TOKEN_FIELDS[form.captcha])
        if not isinstance(token, str) or not token:
            return False
        if self._http is None:
            self._http = httpx.Client(timeout=TIMEOUT, transport=self._transport)
        data = {"secret": form.captcha_secret, "response": token, **({"remoteip": remote_ip} if remote_ip else {})}
        try:
            response = self._http.post(form.captcha_verify_url or VERIFY_URLS[form.captcha], data=data)
        except httpx.HTTPError:
            return None
        if response.status_code >= 500:
            return None
        try:
            return response.json().get("success") is True
        except ValueError:
            return None
