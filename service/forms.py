"""``POST /v1/forms/<form_key>``: website forms and ``fetch()`` calls.

The view hands off to ``receive_form``, which reads the fields in whatever encoding the site
used, catches honeypot bots, validates and normalises through the form's schema, and stores
the submission durably before answering.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from flask import Blueprint, Response, current_app, jsonify, redirect, request
from marshmallow import ValidationError
from werkzeug.wrappers import Response as BaseResponse

from core.config import FormConfig
from core.errors import BadRequest, Forbidden, InvalidInput, NotFound, Unauthorized, UnsupportedMediaType
from core.jsonbody import parse_json
from core.sources.form_tool import FormTool, ToolPost
from core.sources.form_tools import form_submission, tool_for
from core.sources.forms import is_bot
from core.store.identity import content_id
from core.store.intake import Limit
from service.intake import Intake
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
    # The raw bytes only where a signature covers them: a signing tool's post.
    body = request.get_data(cache=True) if form.secret else b""
    post = ToolPost(read_fields(), dict(request.headers.items()), body)
    # A form with a captcha takes browsers only: a tool's shape must not walk a bot past it.
    tool = None if form.captcha else tool_for(post, builder=form.builder)
    if form.secret and tool is not None and not tool.verify(post, secret=form.secret, now=time.time()):
        raise Unauthorized(f"{tool.signature_header} does not match this body and secret.")
    raw = {
        "content_type": request.mimetype,
        "fields": post.fields,
        "headers": {name: request.headers[name] for name in KEPT_HEADERS if name in request.headers},
        "remote_addr": request.remote_addr,
        **({"tool": tool.name} if tool else {}),
    }
    limits = intake.form_limits.for_post(form_key, request.remote_addr, signed=bool(form.secret and tool))
    arrival = Arrival(intake, form, raw, limits)
    if tool is None:
        return _from_a_page(arrival, post)
    return _from_a_tool(arrival, tool, post)


@dataclass
class Arrival:
    """One post to a form, on its way into the store."""

    intake: Intake
    form: FormConfig
    raw: dict[str, Any]
    limits: Sequence[Limit]

    @property
    def source(self) -> str:
        return f"form:{self.form.key}"

    def load(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The Rotor body the form's schema makes of ``fields``; ValidationError naming the fields."""
        return cast(dict[str, Any], self.intake.form_schemas[self.form.key].load(fields))

    def accept(self, lead: dict[str, Any], platform_id: str | None) -> str:
        return self.intake.accept(
            source=self.source,
            raw=self.raw,
            lead=lead,
            account=self.form.account,
            platform_id=platform_id,
            limits=self.limits,
        )

    def discard(self, reason: str) -> str:
        return self.intake.discard(source=self.source, raw=self.raw, reason=reason, limits=self.limits)

    def reject(self, problem: str, exc: ValidationError, key: str) -> str:
        """Keep it ``failed``, with why: a sender that cannot read a 4xx would lose the lead."""
        reason = f"{problem}: " + json.dumps(exc.normalized_messages(), sort_keys=True, default=str)
        return self.intake.reject(
            source=self.source,
            raw=self.raw,
            reason=reason,
            account=self.form.account,
            platform_id=key,
            limits=self.limits,
        )


def _from_a_page(arrival: Arrival, post: ToolPost) -> BaseResponse:
    """A website's own form: a browser's post, a ``fetch()`` call, or a script."""
    form = arrival.form
    if is_bot(post.fields, form):
        # Answered like a success so the bot learns nothing; kept as discarded in case it was a person.
        return _accepted(arrival.discard("honeypot field filled in"), form)
    if form.captcha:
        # Counted before the provider is asked (up to 3 s a check): a flood of made-up tokens stops here.
        arrival.intake.count(arrival.limits)
        arrival.limits = ()
        solved = arrival.intake.captcha.check(form, post.fields, request.remote_addr)
        if solved is False:
            raise InvalidInput("Please complete the captcha.", errors={"captcha": ["The captcha was not solved."]})
        arrival.raw["captcha"] = "verified" if solved else "unverified: the provider could not be asked"
    fields = form_submission(post, None, form.fields).fields
    try:
        lead = arrival.load(fields)
    except ValidationError as exc:
        if _from_a_browser():
            raise InvalidInput("Some fields need fixing.", errors=exc.normalized_messages()) from exc
        # A server's post: nobody reads a 422 there, so the lead is kept for a fix and a replay.
        submission_id = arrival.reject("cannot make a lead of it", exc, content_id(post.fields))
        return _json(202, submission_id=submission_id, status="failed", errors=exc.normalized_messages())
    return _accepted(arrival.accept(lead, None), form)


def _from_a_tool(arrival: Arrival, tool: FormTool, post: ToolPost) -> BaseResponse:
    """A form tool's or marketplace's webhook: always a 2xx, as a tool drops a lead it got a 4xx for."""
    unreadable = content_id(post.fields)
    try:
        submission = form_submission(post, tool, arrival.form.fields)
    except ValidationError as exc:
        return _tool_answer(arrival.reject(f"cannot read this {tool.title} post", exc, unreadable))
    if submission.ignored or submission.test:
        return _tool_answer(arrival.discard(submission.ignored or submission.test or ""))
    try:
        lead = arrival.load(submission.fields)
    except ValidationError as exc:
        return _tool_answer(arrival.reject("cannot make a lead of it", exc, submission.platform_id or unreadable))
    return _tool_answer(arrival.accept(lead, submission.platform_id))


def _from_a_browser() -> bool:
    """A browser's post or ``fetch()`` call (they send ``Origin``, or prefer an HTML answer), whose
    person can fix what the 422 names; anything else is a server that cannot."""
    return "Origin" in request.headers or wants_html()


def _tool_answer(submission_id: str) -> Response:
    # Public receivers of Angi's leads answer {"status": "success"} (intake-formats.md 6.2); others take any 2xx.
    return _json(200, status="success", submission_id=submission_id)


def _json(code: int, **body: Any) -> Response:
    response = jsonify(body)
    response.status_code = code
    return response


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
    return _json(202, submission_id=submission_id)
