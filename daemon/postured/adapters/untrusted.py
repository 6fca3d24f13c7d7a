"""Text that came from the network, made safe to log and checked before it is reused.

Anyone on the broker can publish to a command topic, so a topic level can be 64 KiB of
anything: it is cut and escaped before it reaches a log line or a reply, and a topic built
from it (the reply topic) is checked against MQTT's rules before it is published to.
"""

from __future__ import annotations

#: Characters of untrusted text a log line shows; the rest is counted, not printed.
SHOWN_CHARS = 64
#: MQTT's limit on a topic name: a two-byte length prefix (MQTT 3.1.1 and 5, 1.5.3).
MAX_TOPIC_BYTES = 65535


def shown(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` quoted, with control and non-ASCII characters escaped and cut to ``limit``
    characters, saying how many were left out: safe for one log line."""
    cut = text[:limit]
    escaped = cut.encode("ascii", "backslashreplace").decode("ascii")
    escaped = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in escaped)
    rest = len(text) - len(cut)
    return f"'{escaped}'" + (f"... ({rest} more characters)" if rest else "")


def valid_topic_name(topic: str) -> bool:
    """True when ``topic`` may be published to: 1 to 65,535 bytes of UTF-8, no wildcards
    and no U+0000 (MQTT 3.1.1 and 5, sections 1.5.3 and 4.7)."""
    if not topic or "+" in topic or "#" in topic or "\x00" in topic:
        return False
    try:
        size = len(topic.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate is not UTF-8
        return False
    return size <= MAX_TOPIC_BYTES
