"""The fault harness's command fuzz against a real Mosquitto: no traceback, bounded logs,
replies only on valid topics, nothing executed."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from postured.adapters.mqtt.bridge import MqttBridge
from postured.adapters.untrusted import MAX_TOPIC_BYTES, valid_topic_name
from tests.mqtt.fuzz import BASE, Sent, corpus, max_name
from tests.mqtt.helpers import SENSORS, Recorder, fast_config
from tests.support.mosquitto import Mosquitto
from tests.support.waiting import until

pytestmark = [pytest.mark.broker, pytest.mark.slow]


class Peer:
    """A paho client on the test's side: publishes the corpus, collects the replies."""

    def __init__(self, port: int) -> None:
        self.replies: list[tuple[str, bytes]] = []
        self.got = threading.Condition()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="fuzzer")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{BASE}/+/cmd/#", qos=1)
        self.client.loop_start()

    def _on_message(self, _c: object, _u: object, msg: paho.MQTTMessage) -> None:
        if msg.topic.endswith("/reply"):
            with self.got:
                self.replies.append((msg.topic, bytes(msg.payload)))
                self.got.notify_all()

    def send(self, items: list[Sent]) -> None:
        infos = [self.client.publish(m.topic, m.payload, qos=1, retain=m.retain) for m in items]
        for info in infos:
            info.wait_for_publish(30)
            assert info.is_published(), "the broker dropped the fuzzer"

    def wait_reply(self, pred: object, timeout: float = 30.0) -> None:
        with self.got:
            assert self.got.wait_for(lambda: any(pred(t, p) for t, p in self.replies), timeout)  # type: ignore[operator]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def peer(mosquitto: Mosquitto) -> Iterator[Peer]:
    p = Peer(mosquitto.port)
    yield p
    p.close()


def is_end(topic: str, payload: bytes) -> bool:
    return topic == f"{BASE}/sofa/cmd/pause/reply" and b'"end"' in payload


@pytest.mark.asyncio
async def test_the_fuzz_corpus_with_a_64_kib_topic_costs_no_traceback_and_few_log_lines(
    tmp_path: Path, mosquitto: Mosquitto, peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    items = corpus()
    assert len(items) == 1775
    assert len(items[0].topic.encode()) == MAX_TOPIC_BYTES
    recorder = Recorder()
    caplog.set_level(logging.DEBUG, logger="postured")
    async with MqttBridge(
        fast_config(mosquitto.port, discovery=False),
        SENSORS,
        state_dir=tmp_path / "state",
        on_command=recorder,
        sw_version="1",
    ) as bridge:
        await until(lambda: bridge.connected)
        await asyncio.to_thread(peer.send, items)
        # One valid command last: its reply says that everything before it was handled.
        end = Sent(f"{BASE}/sofa/cmd/pause", b'{"request_id": "end"}')
        await asyncio.to_thread(peer.send, [end])
        await asyncio.to_thread(peer.wait_reply, is_end)
        counters = bridge.counters
    to_configured = [
        m for m in items
        if (parsed := bridge.topics.parse_command(m.topic)) and parsed[0] in ("desk", "sofa")
        and m.payload
    ]  # fmt: skip
    assert counters["malformed_commands"] == len(to_configured)
    assert [c.request_id for c in recorder.commands] == ["end"]  # nothing else ran
    # No traceback, and the log stays small: the rejections are rate-limited.
    records = [r for r in caplog.records if r.name.startswith("postured")]
    assert [r for r in records if r.exc_info] == []
    rejected = [r for r in records if "rejected command" in r.getMessage()]
    assert len(rejected) == 1, [r.getMessage()[:200] for r in rejected]
    assert max(len(r.getMessage()) for r in records) < 1000
    assert sum(len(r.getMessage()) for r in records) < 300_000  # mostly debug lines
    warnings = [r for r in records if r.levelno >= logging.WARNING]
    assert sum(len(r.getMessage()) for r in warnings) < 2000
    # A reply only where its topic is valid: none for the 65,535-byte command topics.
    topics = [t for t, _ in peer.replies]
    assert all(valid_topic_name(t) for t in topics)
    assert not any(max_name() in t for t in topics)
    # ... and one where it is: 65,000 bytes of name still leave room for "/reply".
    assert sum("y" * 65000 in t for t in topics) == 1
    errors = [json.loads(p)["error"] for t, p in peer.replies if not is_end(t, p)]
    assert len(errors) == len(to_configured) - 2
    assert max(len(e) for e in errors) < 400  # long names are cut in replies too
    assert any("'\\u202egnp.exe'" in e for e in errors)  # and escaped
