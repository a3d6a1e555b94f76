"""``POST /v1/forms/<form_key>``: website forms and ``fetch()`` calls.

The view hands off to ``receive_form``, which reads the fields in whatever encoding the site
used, catches honeypot bots, validates and normalises through the form's schema, and stores
the submission durably before answering.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, redirect, request
from marshmallow import ValidationError
from werkzeug.wrappers import Response as BaseResponse

from core.config import FormConfig
from core.errors import BadRequest, Forbidden, InvalidInput, NotFound, UnsupportedMediaType
from core.sources.forms import is_bot
from service.intake import Intake
from service.jsonbody import parse_json
from service.responses import FORM_CONTENT_TYPES, html_page, wants_html

bp = Blueprint("forms", __name__)

# Request headers worth keeping with the raw submission (where it came from, who sent it).
KEPT_HEADERS = ("Content-Type", "User-Agent", "Referer", "Origin", "X-Forwarded-For")


@bp.post("/v1/forms/<form_key>", provide_automatic_options=False)
def submit_form(form_key: str) -> BaseResponse:
    return receive_form(current_app.extensions["leadgate"], form_key)


@bp.route("/v1/forms/<form_key>", methods=["OPTIONS"])
def preflight(form_key: str) -> Response:
    _form(current_app.extensions["leadgate"], form_key)
    return Response(status=204)


@bp.after_request
def allow_listed_origins(response: Response) -> Response:
    """CORS for ``fetch()`` from the form's own sites, and only those."""
    form = current_app.extensions["leadgate"].config.forms.get((request.view_args or {}).get("form_key", ""))
    origin = request.headers.get("Origin")
    if form and origin and origin in form.allowed_origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type, Accept"
        response.headers["Access-Control-Max-Age"] = "600"
    response.vary.add("Origin")
    return response


def receive_form(intake: Intake, form_key: str) -> BaseResponse:
    form = _form(intake, form_key)
    fields = read_fields()
    raw = {
        "content_type": request.mimetype,
        "fields": fields,
        "headers": {name: request.headers[name] for name in KEPT_HEADERS if name in request.headers},
        "remote_addr": request.remote_addr,
    }
    source = f"form:{form_key}"
    limits = intake.form_limits.for_post(form_key, request.remote_addr)
    if is_bot(fields, form):
        # Answered like a success so the bot learns nothing; kept as discarded in case it was a person.
        return _accepted(intake.discard(source=source, raw=raw, reason="honeypot field filled in", limits=limits), form)
    if form.captcha:
        # Counted before the provider is asked (up to 3 s a check): a flood of made-up tokens stops here.
        intake.count(limits)
        limits = []
        solved = intake.captcha.check(form, fields, request.remote_addr)
        if solved is False:
            raise InvalidInput("Please complete the captcha.", errors={"captcha": ["The captcha was not solved."]})
        raw["captcha"] = "verified" if solved else "unverified: the provider could not be asked"
    try:
        lead = intake.form_schemas[form_key].load(fields)
    except ValidationError as exc:
        raise InvalidInput("Some fields need fixing.", errors=exc.normalized_messages()) from exc
    return _accepted(intake.accept(source=source, raw=raw, lead=lead, account=form.account, limits=limits), form)


def read_fields() -> dict[str, Any]:
    """The posted fields as a dict; repeated form fields (checkboxes) become lists."""
    if request.is_json:
        data = parse_json(request.get_data(cache=False))
        if not isinstance(data, dict):
            raise BadRequest("The JSON body must be an object of form fields.")
        return data
    if request.mimetype in FORM_CONTENT_TYPES:
        # A multipart part without a name arrives under the key None: it is no field, so it is skipped.
        return {key: values[0] if len(values) == 1 else values for key, values in request.form.lists() if key}
    raise UnsupportedMediaType(
        "Send the form as application/x-www-form-urlencoded, multipart/form-data or application/json."
    )


def _form(intake: Intake, form_key: str) -> FormConfig:
    form = intake.config.forms.get(form_key)
    if form is None:
        raise NotFound(f"There is no form named {form_key!r}.")
    origin = request.headers.get("Origin")
    if form.allowed_origins and origin and origin not in form.allowed_origins:
        raise Forbidden(f"The form {form_key!r} does not accept posts from {origin}.")
    return form


def _accepted(submission_id: str, form: FormConfig) -> BaseResponse:
    if wants_html():
        if form.redirect_url:
            return redirect(form.redirect_url, code=303)
        return html_page("Thank you", "We received your request and will be in touch soon.", status=202)
    response = jsonify(submission_id=submission_id)
    response.status_code = 202
    return response
