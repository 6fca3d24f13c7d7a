"""A recording as the notification packets the sensor would send, paced or not.

Everything here also takes a recording in pieces (``simulate_iter``, ``Simulation.chunks``):
samples left over at the end of a piece open the next piece's first packet, and sequence
numbers run on, so the packets are the same as for the whole recording.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator

import numpy as np
import numpy.typing as npt

from firmware_sim.recording import Recording
from postured.wire.protocol import ATT_PAYLOAD_244, HEADER_SIZE, SAMPLE_SIZE, encode_packet


def packets(
    rec: Recording | Iterable[Recording], *, max_payload: int = ATT_PAYLOAD_244, t0_ms: int = 0
) -> Iterator[tuple[float, bytes]]:
    """Yield (time in s of the packet's last sample, packet bytes) for the whole recording.

    ``rec`` is a recording or its pieces in order. ``t0_ms`` is the device clock at the
    first sample; sequence numbers start at 0.
    """
    for times, raw in packet_batches(rec, max_payload=max_payload, t0_ms=t0_ms):
        yield from zip(times.tolist(), raw, strict=True)


def packet_batches(
    rec: Recording | Iterable[Recording], *, max_payload: int = ATT_PAYLOAD_244, t0_ms: int = 0
) -> Iterator[tuple[npt.NDArray[np.float64], list[bytes]]]:
    """The packets of each piece at once: (times of each packet's last sample, packets).

    A piece's batch holds the packets completed within it (possibly none); the samples left
    over go into the next batch, the last ones into a short final packet.
    """
    per = min((max_payload - HEADER_SIZE) // SAMPLE_SIZE, 255)
    if per < 1:
        raise ValueError(f"a payload of {max_payload} bytes holds no sample")
    pieces = (rec,) if isinstance(rec, Recording) else rec
    seq = 0
    rest_t = np.zeros(0)
    rest_c = np.zeros((0, 3), dtype=np.int16)
    fmt: tuple[int, int] | None = None
    for piece in pieces:
        if fmt is None:
            fmt = (piece.rate_hz, piece.range_g)
        elif (piece.rate_hz, piece.range_g) != fmt:
            raise ValueError(
                f"pieces of one recording must keep its rate and range {fmt}, "
                f"not {(piece.rate_hz, piece.range_g)}"
            )
        t = np.concatenate((rest_t, piece.t))
        counts = np.concatenate((rest_c, piece.counts))
        del piece  # a suspended generator should hold the packets, not the samples too
        full = len(t) // per * per
        times, raw = _encode(
            t[:full], counts[:full], per, seq=seq, fmt=fmt, max_payload=max_payload, t0_ms=t0_ms
        )
        seq += len(raw)
        rest_t, rest_c = t[full:].copy(), counts[full:].copy()
        del t, counts
        yield times, raw
    if len(rest_t) and fmt is not None:
        yield _encode(rest_t, rest_c, per, seq=seq, fmt=fmt, max_payload=max_payload, t0_ms=t0_ms)


def _encode(
    t: npt.NDArray[np.float64],
    counts: npt.NDArray[np.int16],
    per: int,
    *,
    seq: int,
    fmt: tuple[int, int],
    max_payload: int,
    t0_ms: int,
) -> tuple[npt.NDArray[np.float64], list[bytes]]:
    starts = np.arange(0, len(t), per)
    ms = (np.rint(t[starts] * 1000.0).astype(np.int64) + t0_ms).tolist()
    raw = [
        encode_packet(seq + k, ms[k], *fmt, counts[i : i + per], max_payload=max_payload)
        for k, i in enumerate(starts.tolist())
    ]
    times = t[np.minimum(starts + per, len(t)) - 1]
    return times, raw


async def stream_packets(
    rec: Recording | Iterable[Recording],
    *,
    speed: float | None = 1.0,
    start: float | None = None,
    max_payload: int = ATT_PAYLOAD_244,
    t0_ms: int = 0,
) -> AsyncIterator[tuple[float, bytes]]:
    """Yield (simulated time, bytes) paced at ``speed`` simulated seconds per second.

    ``rec`` is a recording or its pieces in order (made as they are needed).
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
