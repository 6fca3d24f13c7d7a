"""`postured notify`'s loop on the in-memory broker and the in-memory desktop."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from postured.adapters.mqtt.connection import Message
from postured.adapters.mqtt.memory import MemoryBroker
from postured.app.notify import Notifier, sensor_of
from postured.config.loader import Config, from_mapping
from postured.ports.desktop import MemoryDesktop
from tests.notify.test_notices import alert_json
from tests.support.waiting import until


def config(**notify: int) -> Config:
    return from_mapping({"notify": notify} if notify else {})


@pytest_asyncio.fixture
async def setup() -> AsyncIterator[tuple[MemoryBroker, MemoryDesktop, Notifier]]:
    broker = MemoryBroker()
    desktop = MemoryDesktop()
    transport = await broker.transport().__aenter__()
    notifier = Notifier(config(snooze_minutes=20), desktop, transport)
    task = asyncio.create_task(notifier.run())
    await until(lambda: transport._subs, what="subscribed")
    yield broker, desktop, notifier
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await transport.close()


def publish(broker: MemoryBroker, sensor: str, payload: bytes) -> None:
    broker.publish(Message(f"posture/{sensor}/alert", payload, 1))


def commands(broker: MemoryBroker) -> list[tuple[str, dict[str, object]]]:
    return [(m.topic, json.loads(m.payload)) for m in broker.published("posture/+/cmd/+")]


async def shown(broker: MemoryBroker, desktop: MemoryDesktop, sensor: str, alert_id: str) -> int:
    """Publish an alert and wait until the desktop shows it; its notification id."""
    publish(broker, sensor, alert_json(alert_id))
    await until(lambda: desktop.on_screen, what=f"alert {alert_id} on screen")
    return desktop.notice(sensor)[0]


async def sent(broker: MemoryBroker) -> list[tuple[str, dict[str, object]]]:
    """The commands on the broker, once there is one."""
    await until(lambda: commands(broker), what="a command")
    return commands(broker)


@pytest.mark.asyncio
async def test_an_alert_is_shown_and_done_goes_back_with_its_id(
    setup: tuple[MemoryBroker, MemoryDesktop, Notifier],
) -> None:
    broker, desktop, _ = setup
    nid = await shown(broker, desktop, "desk", "a1")
    notice = desktop.notice("desk")[1]
    assert notice.actions == (("done", "Done"), ("snooze", "Snooze 20 min"))
    desktop.click(nid, "done")
    assert await sent(broker) == [("posture/desk/cmd/done", {"alert_id": "a1"})]
    await until(lambda: not desktop.on_screen, what="the answered notification closed")


@pytest.mark.asyncio
async def test_snooze_sends_the_configured_minutes(
    setup: tuple[MemoryBroker, MemoryDesktop, Notifier],
) -> None:
    broker, desktop, _ = setup
    desktop.click(await shown(broker, desktop, "chair", "b1"), "snooze")
    assert await sent(broker) == [("posture/chair/cmd/snooze", {"minutes": 20})]


@pytest.mark.asyncio
async def test_malformed_alerts_are_logged_and_the_next_one_is_shown(
    setup: tuple[MemoryBroker, MemoryDesktop, Notifier], caplog: pytest.LogCaptureFixture
) -> None:
    broker, desktop, notifier = setup
    for bad in (b"", b"{", b"[]", b'{"id": 5}', b"\xff" * 70_000):
        publish(broker, "desk", bad)
    broker.publish(Message("posture/desk/alerts/extra", alert_json("x"), 1))
    publish(broker, "desk", alert_json("good"))
    await until(lambda: desktop.on_screen)
    assert [n.alert_id for n in desktop.shown] == ["good"]
    assert notifier.counters["malformed"] == 5
    # The first is told with its reason; the rest are counted, not logged one by one.
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [
        "alert from 'desk' is not JSON: Expecting value: line 1 column 1 (char 0); not shown"
    ]


@pytest.mark.asyncio
async def test_a_newer_alert_replaces_the_sensors_notification(
    setup: tuple[MemoryBroker, MemoryDesktop, Notifier],
) -> None:
    broker, desktop, _ = setup
    publish(broker, "desk", alert_json("a1"))
    await until(lambda: len(desktop.shown) == 1)
    publish(broker, "desk", alert_json("a1"))  # a second delivery of the same alert
    publish(broker, "desk", alert_json("a2"))
    await until(lambda: len(desktop.shown) == 2)
    assert [n.alert_id for n in desktop.shown] == ["a1", "a2"]
    nid, notice = desktop.notice("desk")
    assert (nid, notice.alert_id) == (1, "a2")


@pytest.mark.asyncio
async def test_an_alert_while_the_server_is_gone_is_shown_by_the_next_server(
    setup: tuple[MemoryBroker, MemoryDesktop, Notifier],
) -> None:
    broker, desktop, _ = setup
    await shown(broker, desktop, "desk", "a1")
    desktop.stop()
    publish(broker, "chair", alert_json("b1"))
    await asyncio.sleep(0)  # nothing to wait for: the alert finds no server
    desktop.start()
    await until(lambda: len(desktop.on_screen) == 2)
    # Both open notices are on the new server, with its ids; a click there works.
    desktop.click(desktop.notice("desk")[0], "done")
    assert await sent(broker) == [("posture/desk/cmd/done", {"alert_id": "a1"})]


@pytest.mark.asyncio
async def test_a_click_while_the_broker_is_down_is_sent_when_it_is_back(
    setup: tuple[MemoryBroker, MemoryDesktop, Notifier],
) -> None:
    broker, desktop, notifier = setup
    nid = await shown(broker, desktop, "desk", "a1")
    broker.stop()
    desktop.click(nid, "done")
    await until(lambda: notifier._pending == 1)
    assert commands(broker) == []
    broker.start()
    assert await sent(broker) == [("posture/desk/cmd/done", {"alert_id": "a1"})]


def test_only_alert_topics_name_a_sensor() -> None:
    assert sensor_of("posture", "posture/desk/alert") == "desk"
    assert sensor_of("posture", "posture/desk/state") is None
    assert sensor_of("posture", "posture/a/b/alert") is None
    assert sensor_of("posture", "other/desk/alert") is None
    assert sensor_of("posture", "posture//alert") is None
    assert sensor_of("posture", "posture/" + "x" * 33 + "/alert") is None
    assert sensor_of("posture", "posture/de\x1bsk/alert") is None
    assert sensor_of("posture", "posture/Desk_2-b/alert") == "Desk_2-b"


def test_the_command_line_loads_dbus_only_when_notify_runs() -> None:
    # A fresh interpreter: this one has imported everything already.
    code = (
        "import sys; import postured.app.notify; "
        "print(sorted(m for m in sys.modules if m.startswith(('dbus_fast', 'paho', "
        "'postured.adapters.desktop'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
