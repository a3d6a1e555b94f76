"""A form tool as one object: what leadgate needs to take its webhook posts at a form's own URL.

Site owners build forms in Webflow, Elementor, Gravity Forms, WPForms, Jotform, Unbounce or Tally,
and buy leads on Thumbtack and Angi; each posts its own envelope to the URL it is given, which is
``/v1/forms/<form_key>``. Each tool's module (``webflow.py``, ``tally.py`` ...) defines one
``FormTool``: how to recognise its posts by their shape (or a header), how to check its signature
when the form names a secret, and how to unwrap its envelope into the flat fields the website
form mapping reads (``core.sources.forms``): labels as the tool shows them, or the lead field's own
name where the tool says what a field is (an email-type field, a name's first part). The registry
(``core.sources.form_tools``) lists them in the order they are tried. Pure: no I/O.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from core.sources.common import header_value


@dataclass(frozen=True)
class ToolPost:
    """What a tool's module sees of a post: its fields as read, headers, and the body as received.

    ``fields`` is the JSON object, or the urlencoded/multipart fields (a repeated key's values as a
    list), exactly as ``service.forms.read_fields`` read them.
    """

    fields: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""  # the raw bytes a signature covers

    def header(self, name: str) -> str | None:
        """The header called ``name``, in whatever case it was sent; None if absent."""
        return header_value(self.headers, name)


@dataclass(frozen=True)
class ToolSubmission:
    """One post unwrapped: the fields the form mapping reads, and what the tool says about them."""

    fields: dict[str, Any]  # label or lead-field name -> value, in the tool's order
    platform_id: str | None = None  # the tool's id for this submission: a resend of it is a duplicate
    test: str | None = None  # why this is a test or preview submission: kept, discarded
    ignored: str | None = None  # why this post is no lead at all (another event type): kept, discarded


class FormTool(ABC):
    """One form tool or lead marketplace: subclassed once in its module, listed once in the registry."""

    name: ClassVar[str]  # what a form pins with ``builder = "<name>"``
    title: ClassVar[str]  # how people call it, in messages and docs
    # The header its signature travels in; None for a tool that does not sign its posts.
    signature_header: ClassVar[str | None] = None

    @abstractmethod
    def recognises(self, post: ToolPost) -> bool:
        """True when ``post`` has this tool's shape (or its own header)."""

    @abstractmethod
    def unwrap(self, post: ToolPost) -> ToolSubmission:
        """The submission ``post`` carries; a ValidationError naming the field when its envelope
        cannot be read (the post is then kept ``failed``, not refused)."""

    def verify(self, post: ToolPost, *, secret: str, now: float) -> bool:
        """True when ``post`` is signed with ``secret`` (``now``: Unix seconds, for timestamped schemes)."""
        raise NotImplementedError(f"{self.title} does not sign its posts")
