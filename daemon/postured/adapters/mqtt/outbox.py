"""Alerts the broker has not acknowledged yet: bounded, ordered, kept in the state dir."""

from __future__ import annotations

import contextlib
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from postured.adapters.atomic import write_atomic

log = logging.getLogger(__name__)

_VERSION = 1


@dataclass(frozen=True, slots=True)
class Pending:
    """One alert message waiting for the broker's PUBACK."""

    id: str
    topic: str
    payload: str


class Outbox:
    """Oldest first; when full, ``add`` drops the oldest and counts it in ``dropped``."""

    def __init__(self, maxlen: int, items: list[Pending] | None = None) -> None:
        self.maxlen = maxlen
        self.dropped = 0
        self._items: OrderedDict[str, Pending] = OrderedDict()
        for it in items or []:
            self.add(it)

    def add(self, item: Pending) -> Pending | None:
        """Queue ``item`` (an id already queued is ignored); returns what was dropped."""
        if item.id in self._items:
            return None
        self._items[item.id] = item
        if len(self._items) > self.maxlen:
            _, old = self._items.popitem(last=False)
            self.dropped += 1
            return old
        return None

    def ack(self, item_id: str) -> bool:
        return self._items.pop(item_id, None) is not None

    def items(self) -> list[Pending]:
        return list(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def to_bytes(self) -> bytes:
        alerts = [
            {"id": p.id, "topic": p.topic, "payload": p.payload} for p in self._items.values()
        ]
        return json.dumps({"version": _VERSION, "alerts": alerts}, indent=1).encode()

    @classmethod
    def from_bytes(cls, data: bytes, maxlen: int) -> Outbox:
        """Parse a saved outbox; raises ValueError when it is not one."""
        doc = json.loads(data.decode("utf-8"))
        if not isinstance(doc, dict) or doc.get("version") != _VERSION:
            raise ValueError("not an outbox file of version 1")
        items = []
        for a in doc.get("alerts", []):
            if not (
                isinstance(a, dict)
                and all(isinstance(a.get(k), str) for k in ("id", "topic", "payload"))
            ):
                raise ValueError(f"bad entry {a!r}")
            items.append(Pending(a["id"], a["topic"], a["payload"]))
        return cls(maxlen, items)

    @classmethod
    def load(cls, path: Path, maxlen: int) -> Outbox:
        """The saved outbox, or an empty one; an unreadable file is set aside, not lost."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return cls(maxlen)
        except OSError as e:
            log.warning("cannot read pending alerts from %s (%s); starting empty", path, e)
            return cls(maxlen)
        try:
            box = cls.from_bytes(data, maxlen)
        except (ValueError, UnicodeDecodeError) as e:
            aside = path.with_suffix(path.suffix + ".corrupt")
            with contextlib.suppress(OSError):
                path.replace(aside)
            log.warning("pending alerts in %s are unreadable (%s); moved to %s", path, e, aside)
            return cls(maxlen)
        if box.dropped:
            log.warning("dropped %d saved alerts over the queue limit", box.dropped)
        return box

    def save(self, path: Path) -> None:
        write_atomic(path, self.to_bytes())
