"""Answers in the caller's language, and the one error handler that uses them.

Scripts and ``fetch()`` get JSON; a person whose browser posted a plain HTML form gets a small
readable page. No error, expected or not, ever answers with a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from core.errors import HttpError

log = logging.getLogger(__name__)

FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
TITLES = {
    422: "Please check the form",
    413: "The form is too large",
    429: "Please try again later",
    503: "Please try again shortly",
}


def wants_html() -> bool:
    """True for a browser's plain form post: form-encoded, and text/html preferred over JSON."""
    if request.mimetype not in FORM_CONTENT_TYPES:
        return False
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def html_page(title: str, message: str, *, status: int, errors: Mapping[str, Sequence[str]] | None = None) -> Response:
    back_url = _link_back(request.referrer)
    page = render_template("message.html", title=title, message=message, errors=errors or {}, back_url=back_url)
    return Response(page, status=status, mimetype="text/html")


def _link_back(referrer: str | None) -> str | None:
    """The page to offer a way back to: the Referer, if it is a well-formed http(s) URL."""
    try:
        return referrer if referrer and urlsplit(referrer).scheme in ("http", "https") else None
    except ValueError:  # "http://[x/": a header the client wrote, not a reason to fail the answer
        return None


def error_response(status: int, message: str, errors: Mapping[str, Sequence[str]] | None = None) -> Response:
    if wants_html():
        return html_page(TITLES.get(status, "Something went wrong"), message, status=status, errors=errors)
    body: dict = {"errors": dict(errors)} if errors else {}
    body["message"] = message
    response = jsonify(body)
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HttpError, _handle_http_error)
    app.register_error_handler(HTTPException, _handle_werkzeug_error)
    app.register_error_handler(Exception, _handle_unexpected)


def _handle_http_error(error: HttpError) -> Response:
    response = error_response(error.status_code, error.message, error.errors)
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _handle_werkzeug_error(error: HTTPException) -> Response:
    code = error.code or 500
    response = error_response(code, error.description or error.name)
    if code == 405 and error.get_response().headers.get("Allow"):
        response.headers["Allow"] = error.get_response().headers["Allow"]
    return response


def _handle_unexpected(error: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.path)
    return error_response(500, "Internal error; the request was not processed.")
