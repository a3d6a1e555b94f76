"""Every exception leadgate raises on purpose, in one tree.

* LeadgateError
  * ConfigError: a setting is invalid; raised only while starting, printed as one line.
  * HttpError: answered to the caller by the one error handler in ``service.responses``.
    * BadRequest (400), Unauthorized (401), Forbidden (403), NotFound (404), Conflict (409),
      UnsupportedMediaType (415),
      InvalidInput (422, with ``{field: [message]}``), RateLimited (429) and StoreUnavailable (503),
      both with ``retry_after`` for the Retry-After header.
  * DeliveryError: a Rotor call did not deliver. ``core.rotor`` is the only place that turns
    HTTP answers and transport failures into these; ``workers.retry`` decides what each means.
    * RotorUnreachable: timeout or broken connection (Rotor may have applied and counted it).
      * RotorConnectFailed: the connection was refused; the request never reached Rotor.
    * RotorServerError: 5xx.
    * RotorRejected: 4xx with ``errors[]`` or another permanent 4xx; ``field_errors`` holds them.
    * RotorAuthFailed: 401/403, the key is wrong or lacks a scope.
    * RotorNotFound: 404, e.g. an update of a lead id Rotor no longer has.
    * RotorQuotaExceeded: ``error_code: RATE_LIMIT_EXCEEDED``, whatever the status number.
    * LeadReadUnavailable: a platform's lead read (Meta Graph, LinkedIn) failed for now: network,
      5xx, the platform's rate limit. Retried like RotorUnreachable.
    * LeadReadRefused: the platform refused the read (token invalid or expired, no permission,
      no such lead): a configuration problem, not retried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from core.vocabulary import ErrorClass


class LeadgateError(Exception):
    """Root of every error leadgate raises on purpose."""


class ConfigError(LeadgateError):
    """A configuration value is missing or invalid; the message names the setting."""


class HttpError(LeadgateError):
    """An error answered to the HTTP caller with ``status_code`` and a message."""

    status_code = 500
    retry_after: int | None = None  # seconds, sent as Retry-After

    def __init__(self, message: str, *, errors: Mapping[str, Sequence[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = dict(errors or {})


class BadRequest(HttpError):
    status_code = 400


class Unauthorized(HttpError):
    status_code = 401


class Forbidden(HttpError):
    status_code = 403


class NotFound(HttpError):
    status_code = 404


class Conflict(HttpError):
    status_code = 409


class UnsupportedMediaType(HttpError):
    status_code = 415


class InvalidInput(HttpError):
    status_code = 422


class RateLimited(HttpError):
    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreUnavailable(HttpError):
    status_code = 503
    retry_after = 5


class DeliveryError(LeadgateError):
    """A Rotor call (or a platform's lead read) did not deliver the lead."""

    # What ``leadgate failed list --error-class`` filters on.
    error_class: ClassVar[ErrorClass] = ErrorClass.UNAVAILABLE

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        error_code: str | None = None,
        field_errors: Sequence[Mapping[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.error_code = error_code
        self.field_errors = [dict(e) for e in field_errors]


class RotorUnreachable(DeliveryError):
    pass


class RotorConnectFailed(RotorUnreachable):
    pass


class RotorServerError(DeliveryError):
    pass


class RotorRejected(DeliveryError):
    error_class = ErrorClass.REJECTED


class RotorAuthFailed(DeliveryError):
    error_class = ErrorClass.AUTH


class RotorNotFound(DeliveryError):
    error_class = ErrorClass.NOT_FOUND


class RotorQuotaExceeded(DeliveryError):
    error_class = ErrorClass.QUOTA


class LeadReadUnavailable(DeliveryError):
    pass


class LeadReadRefused(DeliveryError):
    error_class = ErrorClass.READ_REFUSED
