"""`postured notify` as a process, against dunst (a real notification server) and Mosquitto.

An alert goes in with ``mosquitto_pub``; what dunst shows is read from dunst itself; a
click is dunst's own ``ActionInvoked`` (``dunstctl action``, see tests/support/desktop.py);
the command the click sends is read by an independent ``mosquitto_sub``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.notify.test_notices import alert_json
from tests.service.procs import Proc, running, write_config
from tests.support.desktop import Dunst, desktop
from tests.support.mosquitto import Mosquitto, Subscriber
from tests.support.waiting import until_sync

pytestmark = pytest.mark.broker


@pytest.fixture
def dunst(tmp_path: Path) -> Iterator[Dunst]:
    with desktop(tmp_path / "desktop") as d:
        yield d


def notifier_config(path: Path, port: int, extra: str = "") -> Path:
    path.write_text(
        f"""
[service]
state_dir = "{path.parent / "state"}"

[mqtt]
host = "127.0.0.1"
port = {port}
reconnect_min_s = 0.2
reconnect_max_s = 1

[notify]
snooze_minutes = 15
{extra}
"""
    )
    return path


def start_notifier(tmp_path: Path, broker: Mosquitto, dunst: Dunst) -> Iterator[Proc]:
    cfg = notifier_config(tmp_path / "postured.toml", broker.port)
    with running(
        tmp_path / "notify",
        "-v",
        "notify",
        "-c",
        str(cfg),
        env={"DBUS_SESSION_BUS_ADDRESS": dunst.bus.address},
    ) as proc:
        proc.wait_output("MQTT: connected", stream="stderr")
        proc.wait_output("notifications shown by dunst", stream="stderr")
        yield proc


@pytest.fixture
def notifier(tmp_path: Path, mosquitto: Mosquitto, dunst: Dunst) -> Iterator[Proc]:
    yield from start_notifier(tmp_path, mosquitto, dunst)


@pytest.fixture
def commands(mosquitto: Mosquitto, subscribers: list[Subscriber]) -> Subscriber:
    sub = mosquitto.sub("posture/+/cmd/#")
    subscribers.append(sub)
    return sub


def test_an_alert_on_screen_and_done_clicked_sends_cmd_done_with_its_id(
    mosquitto: Mosquitto, dunst: Dunst, notifier: Proc, commands: Subscriber
) -> None:
    assert dunst.server_information()[0] == "dunst"
    mosquitto.pub("posture/desk/alert", alert_json("4f1c9a0e"), "-q", "1")
    until_sync(lambda: dunst.displayed() == 1, 10, "dunst shows the alert")
    dunst.choose("Done")
    dunst.click_first()
    [(topic, payload)] = commands.wait_for()
    assert topic == "posture/desk/cmd/done"
    assert json.loads(payload) == {"alert_id": "4f1c9a0e"}
    # Answered, the notification is closed, so dunst keeps it in its history.
    until_sync(lambda: dunst.displayed() == 0, 10, "the notifier closed it")
    nid = dunst.history()[0]["id"]
    # dunst offered both buttons, under the alert's summary.
    assert dunst.menu() == [
        f"#Done (Time to stand up: desk) [{nid},done]",
        f"#Snooze 15 min (Time to stand up: desk) [{nid},snooze]",
    ]
    # What dunst showed, from its own history.
    [shown] = dunst.history()
    assert shown["appname"] == "postured"
    assert shown["summary"] == "Time to stand up: desk"
    assert shown["body"] == "You have been sitting for 46 min: stand up.\nStretch: Chest opener"
    assert "sent done" in notifier.stderr()


@pytest.mark.slow
def test_snooze_clicked_sends_the_configured_minutes_to_that_sensor(
    mosquitto: Mosquitto, dunst: Dunst, notifier: Proc, commands: Subscriber
) -> None:
    mosquitto.pub("posture/chair/alert", alert_json("b7"), "-q", "1")
    until_sync(lambda: dunst.displayed() == 1, 10, "dunst shows the alert")
    dunst.choose("Snooze 15 min")
    dunst.click_first()
    [(topic, payload)] = commands.wait_for()
    assert (topic, json.loads(payload)) == ("posture/chair/cmd/snooze", {"minutes": 15})


@pytest.mark.slow
def test_malformed_alerts_are_skipped_and_a_good_one_still_shows(
    mosquitto: Mosquitto, dunst: Dunst, notifier: Proc
) -> None:
    for bad in (b"{", b"[]", b'{"id": "a"}', b"\x00\xff" * 100):
        mosquitto.pub("posture/desk/alert", bad, "-q", "1")
    mosquitto.pub(
        "posture/desk/alert", alert_json("good", message="Sit <tall> & breathe"), "-q", "1"
    )
    until_sync(lambda: dunst.displayed() == 1, 10, "dunst shows the good alert")
    dunst.close_all()
    [shown] = dunst.history()
    # dunst reads no markup by default here, so the text arrives as written.
    assert shown["body"].startswith("Sit <tall> & breathe")
    assert notifier.proc.poll() is None
    # One warning with the reason; the other three are held back and counted.
    assert notifier.stderr().count("; not shown") == 1


@pytest.mark.slow
def test_the_notifier_survives_dunst_restarting(
    mosquitto: Mosquitto, dunst: Dunst, notifier: Proc, commands: Subscriber
) -> None:
    mosquitto.pub("posture/desk/alert", alert_json("before"), "-q", "1")
    until_sync(lambda: dunst.displayed() == 1, 10, "dunst shows the first alert")
    dunst.stop()
    notifier.wait_output("notification server gone", stream="stderr")
    # With no server on the bus, an alert waits in the notifier.
    mosquitto.pub("posture/chair/alert", alert_json("during"), "-q", "1")
    notifier.wait_output("alert during of chair not shown yet", stream="stderr")
    dunst.start()
    # The new dunst shows both open alerts (its ids start again at 1) ...
    until_sync(lambda: dunst.displayed() == 2, 10, "the new dunst shows both alerts")
    assert notifier.stderr().count("notifications shown by dunst") == 2
    # ... and its clicks reach the broker: the notifier listens to the new server.
    dunst.choose("Snooze 15 min")
    dunst.click_first()
    commands.wait_for()
    until_sync(lambda: dunst.displayed() == 1, 10, "the answered one closed")
    dunst.choose("Done")
    dunst.click_first()
    got = {(t, p) for t, p in commands.wait_for(count=2)}
    # Which of the two dunst lists first is its business; each got one click.
    assert got in (
        {
            ("posture/desk/cmd/snooze", '{"minutes":15}'),
            ("posture/chair/cmd/done", '{"alert_id":"during"}'),
        },
        {
            ("posture/chair/cmd/snooze", '{"minutes":15}'),
            ("posture/desk/cmd/done", '{"alert_id":"before"}'),
        },
    )
    assert notifier.proc.poll() is None


@pytest.mark.slow
def test_the_notifier_reconnects_after_the_broker_restarts(
    mosquitto: Mosquitto, dunst: Dunst, notifier: Proc, commands: Subscriber
) -> None:
    mosquitto.restart()
    until_sync(lambda: notifier.stderr().count("MQTT: connected") == 2, 15, "reconnected")
    mosquitto.pub("posture/desk/alert", alert_json("after"), "-q", "1")
    until_sync(lambda: dunst.displayed() == 1, 10, "dunst shows an alert after the restart")


def test_without_a_session_bus_it_says_so_and_exits_69(
    tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = notifier_config(tmp_path / "postured.toml", mosquitto.port)
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    # A runtime directory without a bus socket in it.
    proc = Proc.start(
        tmp_path / "run", "notify", "-c", str(cfg), env={"XDG_RUNTIME_DIR": str(tmp_path)}
    )
    try:
        assert proc.wait(15) == 69
    finally:
        proc.close()
    assert "no session bus: DBUS_SESSION_BUS_ADDRESS is not set" in proc.stderr()
    assert "Traceback" not in proc.stderr()


@pytest.mark.slow
def test_the_notifier_reconnects_after_the_session_bus_restarts(
    mosquitto: Mosquitto, dunst: Dunst, notifier: Proc, commands: Subscriber
) -> None:
    mosquitto.pub("posture/desk/alert", alert_json("open"), "-q", "1")
    until_sync(lambda: dunst.displayed() == 1, 10, "dunst shows the alert")
    dunst.close()  # dunst exits with its bus; both come back on the same address
    dunst.bus.stop()
    notifier.wait_output("lost the session bus", stream="stderr")
    dunst.bus.start()
    dunst.start()
    notifier.wait_output("connected to the session bus", stream="stderr")
    # The alert still open is shown on the new bus's dunst, and its click is heard.
    until_sync(lambda: dunst.displayed() == 1, 15, "the open alert is shown again")
    dunst.click_first()
    [(topic, payload)] = commands.wait_for()
    assert (topic, json.loads(payload)) == ("posture/desk/cmd/done", {"alert_id": "open"})
    assert notifier.stderr().count("connected to the session bus") == 2


@pytest.mark.slow
def test_the_daemons_alert_on_screen_and_snooze_snoozes_the_daemon(
    tmp_path: Path,
    mosquitto: Mosquitto,
    dunst: Dunst,
    notifier: Proc,
    subscribers: list[Subscriber],
) -> None:
    replies = mosquitto.sub("posture/desk/cmd/snooze/reply")
    subscribers.append(replies)
    cfg = write_config(tmp_path / "daemon.toml", port=mosquitto.port, state_dir=tmp_path / "d")
    with running(tmp_path / "daemon", "run", "-c", str(cfg)):
        # The simulator's demo slouches; the daemon's own alert comes to the screen.
        until_sync(lambda: dunst.displayed() >= 1, 30, "the daemon's alert is shown")
        dunst.choose("Snooze 15 min")
        dunst.click_first()
        [(_, payload)] = replies.wait_for(timeout=15)
    reply = json.loads(payload)
    assert reply["ok"] is True, reply
    assert reply["command"] == "snooze"
    # 15 minutes of the sensor's clock from the moment the daemon took the command; a fast
    # simulator's times are published on the wall clock, so they span 15 min / speed.
    state = reply["state"]
    speed = 120.0  # write_config's default
    assert state["snoozed_until"] - state["t"] == pytest.approx(15 * 60 / speed, abs=0.5)
    assert "Sit tall: desk" in dunst.menu()[0]
