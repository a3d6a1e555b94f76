"""The registry of platforms (core.sources.registry): what every Source declares, and that config
takes the types, keys and variables it knows from there. Pure."""

from __future__ import annotations

from typing import Any

import pytest

from core.config import COMMON_SOURCE_KEYS, Config
from core.errors import ConfigError
from core.sources.common import PlatformLeadSchema
from core.sources.incoming import Incoming
from core.sources.lead_read import LeadAnswer
from core.sources.registry import SOURCES
from core.sources.source import (
    Setting,
    Source,
    SourceConfig,
    WebhookRequest,
    split_read_ref,
)

KINDS = ("text", "url", "secret", "choice", "paths")


@pytest.mark.parametrize("kind", SOURCES)
def test_every_source_declares_what_the_registry_needs(kind: str) -> None:
    source = SOURCES[kind]
    assert source.type == kind
    assert issubclass(source.schema_class, PlatformLeadSchema)
    names = [setting.name for setting in source.settings]
    assert len(names) == len(set(names))
    for setting in source.settings:
        assert setting.kind in KINDS
        assert (setting.env is None) != (setting.key is None), f"{setting.name}: env or key, not both"
        assert setting.key not in COMMON_SOURCE_KEYS, f"{setting.key} is a key every source has"
        assert setting.kind in (("secret", "url") if setting.env else ("secret", "text", "choice", "paths"))
        if setting.kind == "choice":
            assert setting.default in setting.choices
    # A platform that reads its leads says what the answers mean too.
    reads = type(source).read_request is not Source.read_request
    assert reads == (type(source).read_answer is not Source.read_answer)


def test_types_are_listed_in_the_order_config_names_them() -> None:
    assert list(SOURCES) == ["meta", "google", "tiktok", "linkedin", "typeform", "generic"]


def test_a_read_ref_names_its_source_type_and_lead() -> None:
    announced = SOURCES["meta"].announced("444", {"leadgen_id": "444"}, "444")
    assert announced.read_ref == "meta:444" and split_read_ref(announced.read_ref) == ("meta", "444")


def test_a_request_header_is_found_in_any_case_and_the_body_is_decoded_once() -> None:
    decoded: list[bytes] = []

    def read_json(body: bytes) -> Any:
        decoded.append(body)
        return {"ok": True}

    request = WebhookRequest(b"{}", {"x-hub-signature-256": "sha256=ab"}, {}, read_json=read_json)
    assert request.header("X-Hub-Signature-256") == "sha256=ab" and request.header("X-Other") is None
    assert decoded == []  # nothing is decoded before a source asks (after its signature check)
    assert request.payload == request.payload == {"ok": True} and decoded == [b"{}"]


class Board(Source):
    """A platform known only to this test: a URL token, and a read by id with a bearer token."""

    type = "board"
    schema_class = PlatformLeadSchema
    settings = (
        Setting("token", "secret", key="board_token_env"),
        Setting("region", "choice", key="region", default="eu", choices=("eu", "us")),
        Setting("region_url", "url", env="BOARD_URL", default="https://board.example/api/"),
    )

    def authenticate(self, source: SourceConfig, request: WebhookRequest) -> None:
        pass

    def parse(self, source: SourceConfig, request: WebhookRequest, schema: PlatformLeadSchema) -> list[Incoming]:
        return []

    def read_answer(self, answer: LeadAnswer) -> dict[str, Any]:
        return answer.payload


def test_config_reads_what_a_registered_source_declares(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SOURCES, "board", Board())
    path = tmp_path / "board.toml"
    path.write_text('[sources.jobs]\ntype = "board"\nsecret_env = "JOBS_SECRET"\nboard_token_env = "JOBS_TOKEN"\n')
    config = Config.from_env({"LEADGATE_CONFIG": str(path), "JOBS_SECRET": "s", "JOBS_TOKEN": " tok-123 "})
    jobs = config.sources["jobs"]
    assert (jobs.type, jobs.secret) == ("board", "s")
    assert jobs.settings == {"token": "tok-123", "region": "eu", "region_url": "https://board.example/api"}
    assert "tok-123" not in repr(config)  # settings hold tokens

    with pytest.raises(ConfigError, match=r"^BOARD_URL: 'board' is not a http/https URL$"):
        Config.from_env({"LEADGATE_CONFIG": str(path), "BOARD_URL": "board"})
    path.write_text('[sources.jobs]\ntype = "board"\nsecret_env = "S"\nregion = "mars"\n')
    with pytest.raises(ConfigError, match=r"^LEADGATE_CONFIG: sources\.jobs\.region must be eu or us$"):
        Config.from_env({"LEADGATE_CONFIG": str(path)})
