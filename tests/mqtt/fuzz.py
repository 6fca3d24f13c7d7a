"""A fixed corpus of hostile command messages (the fault harness's shape, reproducible)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from postured.adapters.untrusted import MAX_TOPIC_BYTES

BASE = "posture"


@dataclass(frozen=True, slots=True)
class Sent:
    topic: str
    payload: bytes
    retain: bool = False


def max_name(sensor: str = "desk") -> str:
    """A command name that makes the command topic exactly 65,535 bytes long."""
    prefix = f"{BASE}/{sensor}/cmd/"
    return "x" * (MAX_TOPIC_BYTES - len(prefix))


_NAMES = [
    "calibrate", "snooze", "pause", "resume", "selfdestruct", "SNOOZE", "snooze ", " ",
    "\u202egnp.exe", "caf\u00e9", "\U0001f600", "a" * 300, "b" * 5000, "%s%s%s", "{}",
    "../../etc", "\ufeffbom", "'quoted'", "\\x41",
]  # fmt: skip
_PAYLOADS = [
    b"", b"{}", b"[]", b"null", b"0", b'"x"', b"{", b'{"minutes": 30', b"\xff\xfe\x00",
    b'{"minutes": 1e999}', b'{"minutes": -1}', b'{"minutes": true}', b'{"minutes": 30.5}',
    b'{"paused": "yes"}', b'{"request_id": ""}', b'{"request_id": "' + b"r" * 65 + b'"}',
    b'{"request_id": "\\u0000"}', b'{"extra": 1}', b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 400 + b"1" + b"}" * 400, b"x" * 1025,
    b'{"minutes": 5, "pad": "' + b"p" * 2000 + b'"}',
]  # fmt: skip


def corpus(n: int = 1775, seed: int = 19) -> list[Sent]:
    """``n`` messages: every name with every payload, then random mixes, plus the
    65,535-byte topic; none of them a valid command."""
    rng = random.Random(seed)
    out = [Sent(f"{BASE}/desk/cmd/{max_name()}", b"{}")]
    out.append(Sent(f"{BASE}/desk/cmd/{max_name()}", b'{"request_id": "long"}', retain=False))
    out.append(Sent(f"{BASE}/sofa/cmd/{'y' * 65000}", b"{}"))
    for name in _NAMES:
        for payload in _PAYLOADS:
            if name in ("calibrate", "pause", "resume") and payload in (b"{}", b'{"extra": 1}'):
                payload = b'{"extra": 1}'  # noqa: PLW2901 - keep every message invalid
            if name in ("calibrate", "pause", "resume", "snooze") and payload == b"{}":
                payload = b'{"bad": 0}'  # noqa: PLW2901
            out.append(Sent(f"{BASE}/desk/cmd/{name}", payload))
    while len(out) < n:
        extra = (chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randrange(0, 12)))
        # Not "/", "+" or "#" (they change the topic's levels or make it a filter), nor
        # control characters, which Mosquitto refuses in a topic (it drops the client).
        name = rng.choice(_NAMES) + "".join(c for c in extra if c not in "/+#" and c.isprintable())
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
        payload = rng.choice([junk, json.dumps({"minutes": rng.randrange(-5, 500)}).encode()])
        if name == "snooze" and b"minutes" in payload:
            payload = b'{"minutes": 0}'
        topic = f"{BASE}/{rng.choice(['desk', 'sofa', 'kitchen'])}/cmd/{name}"
        if rng.random() < 0.05:
            topic += "/extra/levels"
        out.append(Sent(topic, payload, retain=rng.random() < 0.02))
    return out
