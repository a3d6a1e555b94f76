"""JSON log lines carry the submission they concern and no personal data."""

from __future__ import annotations

import json
import logging

from core.logs import JsonFormatter, bound, redact


def test_personal_data_is_replaced_by_stable_hashes() -> None:
    text = redact("lead Ann <ann.lee@example.com> +1 (201) 555-0123 id 01a2081294acda7a at 2026-11-23")
    assert "ann.lee@example.com" not in text and "555-0123" not in text
    assert text.startswith("lead Ann <<email:") and "<phone:" in text
    assert "01a2081294acda7a" in text and "2026-11-23" in text  # ids and dates are not phones
    assert redact("ann.lee@example.com") == redact("ann.lee@example.com")


def test_lines_are_json_with_the_bound_submission() -> None:
    record = logging.LogRecord("workers.deliver", logging.INFO, __file__, 1, "sent %s", ("ann@example.com",), None)
    with bound(submission_id="s1", source="form:contact"):
        line = json.loads(JsonFormatter().format(record))
    assert line["submission_id"] == "s1" and line["source"] == "form:contact"
    assert line["level"] == "info" and line["logger"] == "workers.deliver"
    assert "ann@example.com" not in line["message"]
    assert "submission_id" not in json.loads(JsonFormatter().format(record))
