"""Config parsing: defaults, every variable checked, failures name the setting. Pure."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from core.config import Config, FormConfig
from core.errors import ConfigError
from leadgate import main


def test_defaults_match_the_interface() -> None:
    config = Config.from_env({})
    assert config.port == 8000
    assert config.redis_url == "redis://localhost:6379/0"
    assert config.rotor_base_url == "https://api.getrotor.com/open-api"
    assert config.rotor_api_key is None and config.admin_token is None
    assert config.rotor_daily_limit == 1000
    assert config.default_phone_region == "US"
    assert config.sources["meta"].settings["graph_url"] == "https://graph.facebook.com/v21.0"
    assert config.forms == {}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "eighty"}, "PORT: 'eighty' is not a whole number"),
        ({"PORT": "70000"}, "PORT: 70000 is out of range (must be from 1 to 65535)"),
        ({"ROTOR_DAILY_LIMIT": "0"}, "ROTOR_DAILY_LIMIT: 0 is out of range (must be at least 1)"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL: 'localhost:6379' is not a redis/rediss/unix URL"),
        ({"ROTOR_BASE_URL": "ftp://x"}, "ROTOR_BASE_URL: 'ftp://x' is not a http/https URL"),
        ({"DEFAULT_PHONE_REGION": "XX"}, "DEFAULT_PHONE_REGION: 'XX' is not a two-letter region"),
        ({"LEADGATE_CONFIG": "/nonexistent.toml"}, "LEADGATE_CONFIG: cannot read /nonexistent.toml"),
    ],
)
def test_invalid_values_name_the_variable(env: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_env(env)
    assert str(caught.value).startswith(message)


def test_forms_from_toml(tmp_path) -> None:
    path = tmp_path / "leadgate.toml"
    path.write_text(
        '[forms.contact]\ntags = ["website"]\nallowed_origins = ["https://example.com"]\n'
        'redirect_url = "https://example.com/thanks"\npriority = "high"\n'
    )
    config = Config.from_env({"LEADGATE_CONFIG": str(path), "ROTOR_API_KEY": " key ", "DEFAULT_PHONE_REGION": "gb"})
    assert config.forms == {
        "contact": FormConfig(
            key="contact",
            tags=("website",),
            allowed_origins=("https://example.com",),
            redirect_url="https://example.com/thanks",
            priority="high",
        )
    }
    assert config.rotor_api_key == "key" and config.default_phone_region == "GB"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[forms.contact]\ntags = 'website'",
            "LEADGATE_CONFIG: forms.contact.tags must be a list of non-empty strings",
        ),
        ("[forms.contact]\npriority = 'urgent'", "LEADGATE_CONFIG: forms.contact.priority must be one of low, medium"),
        ("[forms.contact]\ncolour = 'red'", "LEADGATE_CONFIG: forms.contact.colour: unknown setting"),
        (
            "[forms.contact]\nredirect_url = 'thanks.html'",
            "LEADGATE_CONFIG: forms.contact.redirect_url must be an http",
        ),
        ("[forms.'a b']\n", "LEADGATE_CONFIG: forms.a b: a form key may only use"),
        ("[forms.contact\n", "LEADGATE_CONFIG: "),
    ],
)
def test_invalid_form_settings_name_the_setting(tmp_path, toml: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        Config.from_env({"LEADGATE_CONFIG": str(path)})
    assert str(caught.value).startswith(message)


def test_a_form_tool_pinned_with_its_secret_and_field_map(tmp_path) -> None:
    path = tmp_path / "leadgate.toml"
    path.write_text(
        '[forms.site]\nbuilder = "webflow"\nsecret_env = "WEBFLOW_SECRET"\n'
        '[forms.site.fields]\nname = "Nome completo"\nphone = "payload.data.Telefone"\n'
    )
    form = Config.from_env({"LEADGATE_CONFIG": str(path), "WEBFLOW_SECRET": "s3cret"}).forms["site"]
    assert (form.builder, form.secret) == ("webflow", "s3cret")
    assert form.fields == {"name": "Nome completo", "phone": "payload.data.Telefone"}
    assert "s3cret" not in repr(form)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("builder = 'wix'", "LEADGATE_CONFIG: forms.site.builder must be one of "),
        ("secret_env = 'WEBFLOW_SECRET'", "LEADGATE_CONFIG: forms.site.secret_env needs builder set to a tool that"),
        ("builder = 'webflow'\nsecret_env = 'NOT_SET'", "NOT_SET: required by forms.site.secret_env"),
        (
            "builder = 'webflow'\ncaptcha = 'turnstile'\ncaptcha_secret_env = 'WEBFLOW_SECRET'",
            "LEADGATE_CONFIG: forms.site.builder: a form with a captcha takes browsers' posts only",
        ),
        ("fields = 'name'", "LEADGATE_CONFIG: forms.site.fields must be a table of lead field = label"),
        ("fields = {colour = 'Farbe'}", "LEADGATE_CONFIG: forms.site.fields.colour: not a lead field"),
        ("fields = {name = ''}", "LEADGATE_CONFIG: forms.site.fields.name must be a non-empty label or dotted path"),
    ],
)
def test_invalid_form_tool_settings_name_the_setting(tmp_path, toml: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f"[forms.site]\n{toml}\n")
    with pytest.raises(ConfigError) as caught:
        Config.from_env({"LEADGATE_CONFIG": str(path), "WEBFLOW_SECRET": "s3cret"})
    assert str(caught.value).startswith(message)


def test_cli_stops_with_one_line_naming_the_setting() -> None:
    result = CliRunner().invoke(main, ["status", "x"], env={"ROTOR_DAILY_LIMIT": "lots"})
    assert result.exit_code == 1
    assert result.output == "Error: ROTOR_DAILY_LIMIT: 'lots' is not a whole number\n"


def test_worker_needs_a_rotor_key() -> None:
    result = CliRunner().invoke(main, ["worker", "--burst"], env={"ROTOR_API_KEY": ""})
    assert result.exit_code == 1
    assert result.output.startswith("Error: ROTOR_API_KEY: required by the worker")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ACME_KEY": "k1", "GLOBEX_KEY": " k1 "}, "accounts 'acme' (ACME_KEY) and 'globex' (GLOBEX_KEY) use the same"),
        ({"ROTOR_API_KEY": "k2", "GLOBEX_KEY": "k2"}, "accounts 'globex' (GLOBEX_KEY) and 'default' (ROTOR_API_KEY)"),
    ],
)
def test_two_accounts_with_one_rotor_key_are_refused(tmp_path, env: dict, message: str) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text('[accounts.acme]\napi_key_env = "ACME_KEY"\n[accounts.globex]\napi_key_env = "GLOBEX_KEY"\n')
    with pytest.raises(ConfigError) as caught:
        Config.from_env({"LEADGATE_CONFIG": str(path), **env})
    assert str(caught.value).startswith(f"LEADGATE_CONFIG: {message}")
    assert "k1" not in str(caught.value) and "k2" not in str(caught.value)  # the key itself stays secret
    distinct = Config.from_env({"LEADGATE_CONFIG": str(path), "ROTOR_API_KEY": "k0", "ACME_KEY": "k1"})
    assert distinct.account("acme").api_key == "k1" and distinct.account("globex").api_key is None


KNOWN_SOURCE_SETTINGS = (
    "access_token_env, account, api_url, deliver_test_leads, fields, id_path, secret_env, signature_encoding, "
    "signature_header, signature_prefix, source, tags, type"
)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[sources]\nx = 1", "sources.x: must be a table named with letters"),
        (
            "[sources.x]\ntype = 'fax'",
            "sources.x.type must be one of meta, google, tiktok, linkedin, typeform, generic",
        ),
        ("[sources.tiktok]\nsecret_env = 'T'", "sources.tiktok.type must be one of meta, google, tiktok"),
        (
            "[sources.x]\ntype = 'tiktok'\ncolour = 'red'",
            f"sources.x.colour: unknown setting (known: {KNOWN_SOURCE_SETTINGS})",
        ),
        ("[sources.x]\ntype = 'tiktok'", "sources.x.secret_env must name the environment variable holding its secret"),
        ("[sources.x]\ntype = 'tiktok'\nsecret_env = 'T'\ntags = 'a'", "sources.x.tags must be a list of non-empty"),
        (
            "[sources.x]\ntype = 'tiktok'\nsecret_env = 'T'\naccount = ' '",
            "sources.x.account must be a non-empty string",
        ),
        (
            "[sources.x]\ntype = 'typeform'\nsecret_env = 'T'\ndeliver_test_leads = 1",
            "sources.x.deliver_test_leads must",
        ),
        (
            "[sources.x]\ntype = 'linkedin'\nsecret_env = 'T'\napi_url = 5",
            "sources.x.api_url must be a non-empty string",
        ),
        ("[sources.meta]\naccount = 'acme'", "sources.meta.account: no account named 'acme'"),
        ("[sources.x]\ntype = 'generic'\nsecret_env = 'T'", "sources.x.fields must map Rotor fields to payload paths"),
        (
            "[sources.x]\ntype = 'generic'\nsecret_env = 'T'\nsignature_encoding = 'rot13'\nfields = {name = 'n'}",
            "sources.x.signature_encoding must be hex or base64",
        ),
        (
            "[sources.x]\ntype = 'generic'\nsecret_env = 'T'\nid_path = ''\nfields = {name = 'n'}",
            "sources.x.id_path must be a non-empty string",
        ),
        (
            "[sources.x]\ntype = 'generic'\nsecret_env = 'T'\nsignature_prefix = 1\nfields = {name = 'n'}",
            "sources.x.signature_prefix must be a non-empty string",
        ),
    ],
)
def test_invalid_source_settings_name_the_setting(tmp_path, toml: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        Config.from_env({"LEADGATE_CONFIG": str(path)})
    assert str(caught.value).startswith(f"LEADGATE_CONFIG: {message}")


def test_a_platform_variable_is_checked_even_with_no_source_using_it() -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_env({"META_GRAPH_URL": "graph.facebook.com"})
    assert str(caught.value) == "META_GRAPH_URL: 'graph.facebook.com' is not a http/https URL"


def test_meta_and_google_exist_without_a_table_and_answer_only_with_their_secret() -> None:
    config = Config.from_env({"META_APP_SECRET": " s1 ", "GOOGLE_LEAD_FORM_KEY": "k2"})
    assert [(s.name, s.type, s.secret_env, s.secret) for s in config.sources.values()] == [
        ("meta", "meta", "META_APP_SECRET", "s1"),
        ("google", "google", "GOOGLE_LEAD_FORM_KEY", "k2"),
    ]
    assert "s1" not in repr(config) and "k2" not in repr(config)


def test_an_empty_signature_prefix_is_allowed(tmp_path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text("[sources.x]\ntype = 'generic'\nsecret_env = 'T'\nsignature_prefix = ''\nfields = {name = 'n'}")
    assert Config.from_env({"LEADGATE_CONFIG": str(path), "T": "t"}).sources["x"].secret == "t"
