"""MqttConnection: credentials, TLS, publish/subscribe, refusal and backoff, real broker."""

from __future__ import annotations

import asyncio
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from postured.adapters.credentials import read_password
from postured.adapters.mqtt.connection import Message, MqttConnection, NotConnectedError
from postured.config.loader import is_loopback
from postured.errors import BrokerError, ConfigError
from tests.mqtt.helpers import fast_config
from tests.mqtt.tls import make_certs
from tests.support.mosquitto import Mosquitto, running_broker
from tests.support.waiting import until

SECRET = "s3cret-Pa55"  # noqa: S105 - the password of a throwaway test broker


# -- credentials (no broker) ------------------------------------------------------------


def test_password_from_file_strips_the_newline(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    f.write_text(SECRET + "\n")
    cfg = fast_config(1, username="alice", password_file=str(f))
    assert read_password(cfg, {}) == SECRET


def test_only_the_first_line_of_the_password_file_is_the_password(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text(f"{SECRET}\r\n# rotated 2026-11, ask Sam\n")
    secret.chmod(0o600)
    assert read_password(fast_config(1, username="alice", password_file=str(secret)), {}) == SECRET


def test_a_password_file_others_can_read_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = tmp_path / "pw"
    secret.write_text(SECRET)
    cfg = fast_config(1, username="alice", password_file=str(secret))
    secret.chmod(0o600)
    with caplog.at_level(logging.WARNING, "postured.adapters.credentials"):
        read_password(cfg, {})
        assert caplog.records == []
        secret.chmod(0o644)
        assert read_password(cfg, {}) == SECRET
    assert [r.getMessage() for r in caplog.records] == [
        f"MQTT password: {secret} can be read by other users (mode 0644); chmod 600 it"
    ]


def test_password_from_systemd_credentials(tmp_path: Path) -> None:
    (tmp_path / "mqtt-password").write_text(SECRET)
    cfg = fast_config(1, username="alice")
    assert read_password(cfg, {"CREDENTIALS_DIRECTORY": str(tmp_path)}) == SECRET
    empty = tmp_path / "empty"
    empty.mkdir()
    assert read_password(cfg, {"CREDENTIALS_DIRECTORY": str(empty)}) is None
    assert read_password(cfg, {}) is None


@pytest.mark.parametrize(
    ("content", "username", "reason"),
    [(None, "alice", "cannot read"), ("\n", "alice", "empty"), (SECRET, "", "no user name")],
)
def test_bad_password_setups_are_config_errors(
    tmp_path: Path, content: str | None, username: str, reason: str
) -> None:
    f = tmp_path / "pw"
    if content is not None:
        f.write_text(content)
    with pytest.raises(ConfigError, match=reason) as e:
        read_password(fast_config(1, username=username, password_file=str(f)), {})
    assert SECRET not in str(e.value)


def test_clear_text_password_to_remote_host_warns_without_the_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    f = tmp_path / "pw"
    f.write_text(SECRET)
    f.chmod(0o600)  # this test is about the clear-text warning alone
    with caplog.at_level(logging.DEBUG):
        MqttConnection(fast_config(1, host="192.0.2.7", username="alice", password_file=str(f)))
        MqttConnection(fast_config(1, host="localhost", username="alice", password_file=str(f)))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "CLEAR" in warnings[0].getMessage()
    assert "192.0.2.7" in warnings[0].getMessage()
    assert SECRET not in caplog.text


def test_loopback_detection() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.3.4.5", "::1", "localhost"]))
    assert not any(map(is_loopback, ["192.168.1.2", "broker.lan", "::2"]))


def test_tls_files_that_do_not_load_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot load the CA certificates") as e:
        MqttConnection(fast_config(1, tls=True, ca_file=str(tmp_path / "missing.pem")))
    assert e.value.key == "mqtt.ca_file"
    assert "No such file" in e.value.reason


# -- against mosquitto --------------------------------------------------------------------


@pytest.mark.broker
@pytest.mark.asyncio
async def test_publish_subscribe_and_ack(mosquitto: Mosquitto) -> None:
    sub = mosquitto.sub("t/#")
    try:
        async with MqttConnection(fast_config(mosquitto.port), client_id="conn-a") as conn:
            with pytest.raises(NotConnectedError):
                conn.publish("t/early", "x")
            conn.subscribe("in/+", qos=1)
            await asyncio.wait_for(conn.wait_connected(), 10)
            assert conn.protocol == "5"
            await asyncio.wait_for(conn.publish("t/one", b"\x00\x01", qos=1, retain=True), 5)
            await asyncio.wait_for(conn.publish("t/two", "zwei"), 5)
            mosquitto.pub("in/x", "hello", "-q", "1")
            msgs = conn.messages()
            got = await asyncio.wait_for(anext(msgs), 5)
            await msgs.aclose()
            assert got == Message("in/x", b"hello", 1, False)
        assert sub.wait_for(count=2) == [("t/one", "\x00\x01"), ("t/two", "zwei")]
        assert mosquitto.retained("t/one") == [("t/one", "\x00\x01")]
    finally:
        sub.close()


@pytest.mark.broker
@pytest.mark.asyncio
async def test_mqtt_311_by_config(mosquitto: Mosquitto) -> None:
    async with MqttConnection(fast_config(mosquitto.port, protocol="3.1.1")) as conn:
        await asyncio.wait_for(conn.wait_connected(), 10)
        assert conn.protocol == "3.1.1"
        await asyncio.wait_for(conn.publish("t", "x", qos=1), 5)


@pytest.mark.broker
@pytest.mark.asyncio
async def test_unreachable_broker_is_retried_with_backoff(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "b")  # a free port with nothing listening yet
    conn = MqttConnection(fast_config(broker.port, reconnect_min_s=0.2, reconnect_max_s=0.8))
    try:
        async with conn:
            # The attempts made in 1.5 s are what is tested (a handful, not a tight loop),
            # so this wait is the measuring window, not a wait for an event.
            await asyncio.sleep(1.5)
            assert conn.last_error is not None
            assert "is the broker running?" in str(conn.last_error)
            # 0.1-0.2, 0.2-0.4, 0.4-0.8, 0.4-0.8 ... : a handful of attempts, not a tight loop
            assert 2 <= conn.counters["failures"] <= 6
            broker.start()
            await asyncio.wait_for(conn.wait_connected(), 10)
            assert conn.last_error is None
    finally:
        broker.stop()


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[tuple[Mosquitto, Path]]:
    certs = make_certs(tmp_path / "tls")
    pwfile = tmp_path / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(pwfile), "alice", SECRET], check=True, timeout=10
    )
    conf = (
        "user root\n"  # when the suite runs as root, keep it able to read the temp files
        "allow_anonymous false\n"
        f"password_file {pwfile}\n"
        f"cafile {certs.ca}\ncertfile {certs.cert}\nkeyfile {certs.key}\n"
    )
    with running_broker(tmp_path / "broker", conf) as broker:
        yield broker, certs.ca


@pytest.mark.broker
@pytest.mark.asyncio
async def test_tls_with_the_right_password_connects(
    secure_broker: tuple[Mosquitto, Path], tmp_path: Path
) -> None:
    broker, ca = secure_broker
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "mqtt-password").write_text(SECRET + "\n")
    cfg = fast_config(broker.port, tls=True, ca_file=str(ca), username="alice")
    conn = MqttConnection(cfg, environ={"CREDENTIALS_DIRECTORY": str(tmp_path / "creds")})
    async with conn:
        await asyncio.wait_for(conn.wait_connected(), 10)
        await asyncio.wait_for(conn.publish("secure/t", "ok", qos=1), 5)


@pytest.mark.broker
@pytest.mark.asyncio
async def test_wrong_password_is_refused_clearly_and_retried_with_backoff(
    secure_broker: tuple[Mosquitto, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker, ca = secure_broker
    pw = tmp_path / "wrong"
    pw.write_text("not-the-password")
    cfg = fast_config(
        broker.port,
        tls=True,
        ca_file=str(ca),
        username="alice",
        password_file=str(pw),
        reconnect_min_s=0.2,
        reconnect_max_s=0.8,
    )
    with caplog.at_level(logging.WARNING):
        async with MqttConnection(cfg) as conn:
            await until(lambda: conn.counters["failures"] >= 2)
            # A second of refusals is the window tested: it keeps retrying, paced by the
            # backoff, and never connects; a fixed wait, as nothing happens to await.
            await asyncio.sleep(1.0)
            assert not conn.connected
            failures = conn.counters["failures"]
    assert 2 <= failures <= 6
    assert isinstance(conn.last_error, BrokerError)
    msg = str(conn.last_error)
    assert "refused user 'alice'" in msg
    assert "password" in msg
    assert "not-the-password" not in caplog.text
    assert "retrying in" in caplog.text


@pytest.mark.broker
@pytest.mark.asyncio
async def test_tls_with_an_unknown_ca_fails_verification(
    secure_broker: tuple[Mosquitto, Path], tmp_path: Path
) -> None:
    broker, _ = secure_broker
    other = make_certs(tmp_path / "other", cn="someone-else")
    cfg = fast_config(broker.port, tls=True, ca_file=str(other.ca), reconnect_min_s=0.2)
    async with MqttConnection(cfg) as conn:
        await until(lambda: conn.last_error is not None)
        assert "TLS verification" in str(conn.last_error)
        assert not conn.connected


@pytest.mark.asyncio
async def test_falls_back_to_311_when_the_broker_refuses_mqtt_5(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from postured.app.embedded_broker import EmbeddedBroker  # noqa: PLC0415 - amqtt is heavy

    async with EmbeddedBroker() as broker:
        cfg = fast_config(broker.port)
        assert cfg.protocol == "5"
        with caplog.at_level(logging.WARNING):
            async with MqttConnection(cfg, client_id="fallback") as conn:
                await asyncio.wait_for(conn.wait_connected(), 10)
                assert conn.protocol == "3.1.1"
                await asyncio.wait_for(conn.publish("t/x", "y", qos=1), 5)
                assert conn.counters["failures"] == 0
    assert "does not speak MQTT 5" in caplog.text
