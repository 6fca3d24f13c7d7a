"""The firmware's pure modules under CPython, against postured.wire.protocol."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from postureclip import wire
from postureclip.clock import TICKS_PERIOD, DeviceClock, ticks_diff
from postureclip.packer import Packer

from postured.errors import PacketError
from postured.wire.protocol import (
    CONTROL_CHAR_UUID,
    DATA_CHAR_UUID,
    MAX_SAMPLES_244,
    RATES_HZ,
    SCALE_RANGES_G,
    SERVICE_UUID,
    decode_control,
    decode_packet,
    encode_packet,
)

int16 = st.integers(-32768, 32767)
samples = st.lists(st.tuples(int16, int16, int16), min_size=1, max_size=MAX_SAMPLES_244)


def test_uuids_match_the_daemon() -> None:
    assert (wire.SERVICE_UUID, wire.DATA_CHAR_UUID, wire.CONTROL_CHAR_UUID) == (
        SERVICE_UUID,
        DATA_CHAR_UUID,
        CONTROL_CHAR_UUID,
    )


def test_documented_example() -> None:
    pkt = wire.encode_packet(0x1234, 0x0A0B0C0D, 50, 4, [(8192, -8192, 1)])
    assert pkt.hex(" ") == "10 05 34 12 0d 0c 0b 0a 01 00 00 20 00 e0 01 00"


@pytest.mark.slow
@settings(max_examples=5000, deadline=None)
@given(
    seq=st.integers(0, 65535),
    t0=st.integers(0, 2**32 - 1),
    rate=st.sampled_from(RATES_HZ),
    range_g=st.sampled_from(SCALE_RANGES_G),
    counts=samples,
)
def test_packets_equal_the_daemons(
    seq: int, t0: int, rate: int, range_g: int, counts: list[tuple[int, int, int]]
) -> None:
    ours = wire.encode_packet(seq, t0, rate, range_g, counts)
    assert ours == encode_packet(seq, t0, rate, range_g, np.array(counts))
    assert decode_packet(ours).n == len(counts)


def _daemon_control(raw: bytes) -> tuple[int, int | None, int] | None:
    try:
        cmd = decode_control(raw)
    except PacketError:
        return None
    arg = cmd.rate_hz if cmd.rate_hz is not None else cmd.pattern
    return int(cmd.opcode), None if arg is None else int(arg), cmd.repeat


def _firmware_control(raw: bytes) -> tuple[int, int | None, int] | None:
    try:
        op, arg, repeat = wire.decode_control(raw)
    except wire.WireError:
        return None
    return op, arg, repeat


@settings(max_examples=2000, deadline=None)
@given(
    st.binary(max_size=4)
    | st.tuples(st.integers(0, 5), st.binary(max_size=2)).map(lambda t: bytes([t[0]]) + t[1])
)
def test_control_decoding_agrees(raw: bytes) -> None:
    assert _firmware_control(raw) == _daemon_control(raw)


def test_clock_carries_over_the_ticks_wrap_and_wraps_at_u32() -> None:
    start = TICKS_PERIOD - 10
    clock = DeviceClock(start, start_ms=2**32 - 5)
    assert clock.now((start + 4) % TICKS_PERIOD) == 2**32 - 1
    assert clock.now((start + 20) % TICKS_PERIOD) == 15  # ticks wrapped, u32 wrapped
    assert ticks_diff(3, TICKS_PERIOD - 2) == 5


@settings(max_examples=300, deadline=None)
@given(st.integers(0, TICKS_PERIOD - 1), st.lists(st.integers(0, 2**28), max_size=30))
def test_clock_counts_every_millisecond(start: int, steps: list[int]) -> None:
    clock = DeviceClock(start)
    ticks, total = start, 0
    for step in steps:
        ticks = (ticks + step) % TICKS_PERIOD
        total += step
        assert clock.now(ticks) == total % 2**32


def test_packer_fills_the_mtu_within_the_latency_bound() -> None:
    assert wire.samples_per_packet(23) == 1
    assert wire.samples_per_packet(247) == 39
    assert wire.samples_per_packet(512) == 39
    packer = Packer(25, 4, mtu=247)
    assert packer.per_packet == 10  # 25 Hz x 0.4 s, not 39
    packer.configure(100, 247)
    assert packer.per_packet == 39
    packer.configure(100, 100)
    assert packer.per_packet == 14  # (97 - 10) // 6


def test_packer_packets_decode_in_sequence_with_their_times() -> None:
    rng = random.Random(3)
    packer = Packer(50, 8, mtu=185)
    got = []
    for i in range(205):
        length = packer.add(i * 20, rng.randint(-9, 9), 0, 4096)
        if length:
            got.append(decode_packet(bytes(packer.buf[:length])))
    length = packer.flush()
    got.append(decode_packet(bytes(packer.buf[:length])))
    assert [p.seq for p in got] == list(range(len(got)))
    assert [p.t0_ms for p in got[:3]] == [0, 20 * 20, 40 * 20]
    assert sum(p.n for p in got) == 205
    assert {p.rate_hz for p in got} == {50}
    assert {p.range_g for p in got} == {8}


def test_buzz_plan_withholds_samples_for_the_buzz_and_the_settling() -> None:
    steps, total = wire.buzz_plan(wire.PATTERN_DOUBLE, 2)
    assert steps == [(150, 150), (150, 400), (150, 150), (150, 0)]
    assert total == 150 * 6 + 400 + wire.SETTLE_MS
    assert wire.name_for(b"\x24\x0a\xc4\x00\x1a\x2b") == "PostureClip-1A2B"
