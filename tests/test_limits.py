"""Rate limits on public form endpoints, per address and per form, shared through Redis."""

from __future__ import annotations

import pytest

from core.config import Config
from service.app import create_app
from service.limits import client_bucket

PERSON = {"name": "Ann", "phone": "2015550123"}


def app_with(config: Config, **settings) -> object:
    return create_app(Config(**{**config.__dict__, **settings}))


def test_one_address_is_limited_and_told_when_to_come_back(config: Config, redis_conn) -> None:
    client = app_with(config, rate_limit_per_ip="3 per minute").test_client()
    answers = [client.post("/v1/forms/contact", json={**PERSON, "n": n}).status_code for n in range(4)]
    assert answers == [202, 202, 202, 429]
    refused = client.post("/v1/forms/contact", json=PERSON)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "3 per 1 minute" in refused.json["message"]
    other = client.post("/v1/forms/contact", json=PERSON, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 202  # another address has its own count


def test_limits_are_shared_by_every_web_process(config: Config, redis_conn) -> None:
    one = app_with(config, rate_limit_per_ip="2 per minute").test_client()
    two = app_with(config, rate_limit_per_ip="2 per minute").test_client()
    assert one.post("/v1/forms/contact", json={**PERSON, "n": 1}).status_code == 202
    assert two.post("/v1/forms/contact", json={**PERSON, "n": 2}).status_code == 202
    assert one.post("/v1/forms/contact", json={**PERSON, "n": 3}).status_code == 429


def test_one_form_is_limited_across_addresses(config: Config, redis_conn) -> None:
    client = app_with(config, rate_limit_per_form="2 per minute").test_client()
    for n in range(2):
        assert (
            client.post(
                "/v1/forms/contact", json={**PERSON, "n": n}, environ_base={"REMOTE_ADDR": f"10.0.0.{n}"}
            ).status_code
            == 202
        )
    assert client.post("/v1/forms/contact", json=PERSON, environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 429
    assert client.post("/v1/forms/quote", json=PERSON, environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 202


def test_behind_a_proxy_the_forwarded_address_counts(config: Config, redis_conn) -> None:
    client = app_with(config, rate_limit_per_ip="1 per minute", trusted_proxies=1).test_client()
    first = client.post("/v1/forms/contact", json=PERSON, headers={"X-Forwarded-For": "203.0.113.5"})
    second = client.post("/v1/forms/contact", json={**PERSON, "n": 2}, headers={"X-Forwarded-For": "203.0.113.6"})
    assert (first.status_code, second.status_code) == (202, 202)


def test_one_ipv6_client_is_counted_by_its_64(config: Config, redis_conn) -> None:
    # A host holds a whole /64: new addresses inside it are the same client, another /64 is not.
    client = app_with(config, rate_limit_per_ip="2 per minute").test_client()
    answers = [
        client.post("/v1/forms/contact", json={**PERSON, "n": n}, environ_base={"REMOTE_ADDR": f"2001:db8:1:2::{n}"})
        for n in range(1, 4)
    ]
    assert [answer.status_code for answer in answers] == [202, 202, 429]
    other = client.post("/v1/forms/contact", json=PERSON, environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"})
    assert other.status_code == 202


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("203.0.113.5", "203.0.113.5"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.5", "203.0.113.5"),
        (None, "unknown"),
        ("not-an-address", "not-an-address"),
    ],
)
def test_client_bucket(address: str | None, bucket: str) -> None:
    assert client_bucket(address) == bucket


def test_a_bad_rate_stops_start_up_naming_the_variable() -> None:

    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="LEADGATE_RATE_LIMIT_PER_IP: 'lots' is not a rate"):
        Config.from_env({"LEADGATE_RATE_LIMIT_PER_IP": "lots"})
