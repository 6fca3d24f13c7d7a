"""A recording as the notification packets the sensor would send, paced or not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import numpy as np

from firmware_sim.recording import Recording
from postured.protocol import ATT_PAYLOAD_244, HEADER_SIZE, SAMPLE_SIZE, encode_packet


def packets(
    rec: Recording, *, max_payload: int = ATT_PAYLOAD_244, t0_ms: int = 0
) -> Iterator[tuple[float, bytes]]:
    """Yield (time in s of the packet's last sample, packet bytes) for the whole recording.

    ``t0_ms`` is the device clock at the first sample; sequence numbers start at 0.
    """
    per = min((max_payload - HEADER_SIZE) // SAMPLE_SIZE, 255)
    if per < 1:
        raise ValueError(f"a payload of {max_payload} bytes holds no sample")
    ms = np.rint(rec.t * 1000.0).astype(np.int64) + t0_ms
    for seq, i in enumerate(range(0, len(rec.t), per)):
        chunk = rec.counts[i : i + per]
        raw = encode_packet(
            seq, int(ms[i]), rec.rate_hz, rec.range_g, chunk, max_payload=max_payload
        )
        yield float(rec.t[i + len(chunk) - 1]), raw


async def stream_packets(
    rec: Recording,
    *,
    speed: float | None = 1.0,
    start: float | None = None,
    max_payload: int = ATT_PAYLOAD_244,
    t0_ms: int = 0,
) -> AsyncIterator[tuple[float, bytes]]:
    """Yield (simulated time, bytes) paced at ``speed`` simulated seconds per second.

    ``speed=None`` yields as fast as the consumer takes them (still letting other tasks
    run); ``start`` skips the packets before that simulated time.
    """
    if speed is not None and speed <= 0:
        raise ValueError(f"speed must be positive, not {speed}")
    loop = asyncio.get_running_loop()
    wall0: float | None = None
    sim0 = 0.0
    for sim_t, raw in packets(rec, max_payload=max_payload, t0_ms=t0_ms):
        if start is not None and sim_t < start:
            continue
        if speed is None:
            await asyncio.sleep(0)
        else:
            if wall0 is None:
                wall0, sim0 = loop.time(), sim_t
            delay = wall0 + (sim_t - sim0) / speed - loop.time()
            # Sleeping for tiny delays costs more than it paces; catch up in a burst.
            await asyncio.sleep(delay if delay > 0.002 else 0)
        yield sim_t, raw
