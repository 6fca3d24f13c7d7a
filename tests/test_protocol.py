"""The wire protocol codec: round-trips, strict rejection, control commands."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from postured.errors import PacketError
from postured.wire.protocol import (
    ATT_PAYLOAD_244,
    ATT_PAYLOAD_DEFAULT,
    HEADER,
    HEADER_SIZE,
    MAX_SAMPLES_244,
    MAX_SAMPLES_DEFAULT,
    RATES_HZ,
    SAMPLE_SIZE,
    SCALE_RANGES_G,
    ControlCommand,
    DataPacket,
    Opcode,
    VibratePattern,
    decode_control,
    decode_packet,
    encode_control,
    encode_packet,
    rate_code,
    scale_code,
    seq_distance,
)

FAST = settings(max_examples=150, deadline=None)


@st.composite
def packets(draw: st.DrawFn) -> tuple[int, int, int, int, np.ndarray, int]:
    max_payload = draw(st.sampled_from([ATT_PAYLOAD_DEFAULT, ATT_PAYLOAD_244]))
    max_n = (max_payload - HEADER_SIZE) // SAMPLE_SIZE
    n = draw(st.integers(1, max_n))
    counts = draw(hnp.arrays(np.int16, (n, 3)))
    return (
        draw(st.integers(0, 2**16 - 1)),
        draw(st.integers(0, 2**32 - 1)),
        draw(st.sampled_from(RATES_HZ)),
        draw(st.sampled_from(SCALE_RANGES_G)),
        counts,
        max_payload,
    )


def test_packet_size_constants_fit_the_att_payloads() -> None:
    assert HEADER_SIZE == 10
    assert MAX_SAMPLES_DEFAULT == 1
    assert MAX_SAMPLES_244 == 39
    assert HEADER_SIZE + MAX_SAMPLES_244 * SAMPLE_SIZE <= ATT_PAYLOAD_244
    assert HEADER_SIZE + MAX_SAMPLES_DEFAULT * SAMPLE_SIZE <= ATT_PAYLOAD_DEFAULT


@FAST
@given(packets())
def test_encode_decode_round_trip(p: tuple[int, int, int, int, np.ndarray, int]) -> None:
    seq, t0_ms, rate, rng, counts, max_payload = p
    raw = encode_packet(seq, t0_ms, rate, rng, counts, max_payload=max_payload)
    assert len(raw) == HEADER_SIZE + SAMPLE_SIZE * counts.shape[0] <= max_payload
    pkt = decode_packet(raw)
    assert (pkt.seq, pkt.t0_ms, pkt.rate_hz, pkt.range_g) == (seq, t0_ms, rate, rng)
    assert pkt.counts.dtype == np.int16
    np.testing.assert_array_equal(pkt.counts, counts)
    np.testing.assert_allclose(pkt.acc_g(), counts / (32768.0 / rng))
    # Decoding a memoryview or bytearray gives the same packet.
    np.testing.assert_array_equal(decode_packet(memoryview(bytearray(raw))).counts, counts)


@FAST
@given(st.binary(max_size=300))
def test_random_bytes_give_packet_error_or_a_valid_packet(data: bytes) -> None:
    try:
        pkt = decode_packet(data)
    except PacketError:
        return
    assert isinstance(pkt, DataPacket)
    assert 1 <= pkt.n <= MAX_SAMPLES_244
    assert len(data) == HEADER_SIZE + SAMPLE_SIZE * pkt.n
    # A packet the decoder accepts re-encodes to the same bytes.
    assert encode_packet(pkt.seq, pkt.t0_ms, pkt.rate_hz, pkt.range_g, pkt.counts) == data


@FAST
@given(st.binary(min_size=HEADER_SIZE + SAMPLE_SIZE, max_size=ATT_PAYLOAD_244))
def test_random_body_with_valid_header_decodes(body: bytes) -> None:
    n = (len(body) - HEADER_SIZE) // SAMPLE_SIZE
    raw = HEADER.pack(0x10, 0b0101, 7, 1234, n, 0) + body[HEADER_SIZE : HEADER_SIZE + 6 * n]
    pkt = decode_packet(raw)
    assert (pkt.rate_hz, pkt.range_g, pkt.n) == (50, 4, n)


def _valid(n: int = 2) -> bytes:
    return encode_packet(5, 1000, 50, 4, np.arange(3 * n).reshape(n, 3))


def _with_header(**fields: int) -> bytes:
    raw = bytearray(_valid())
    ver, flags, seq, t0, n, res = HEADER.unpack_from(raw)
    values = {"ver": ver, "flags": flags, "seq": seq, "t0": t0, "n": n, "res": res} | fields
    struct.pack_into("<BBHIBB", raw, 0, *values.values())
    return bytes(raw)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "shorter than the minimum"),
        (_valid()[: HEADER_SIZE + SAMPLE_SIZE - 1], "shorter than the minimum"),
        (_valid(39) + bytes(6), "exceeds the 244-byte maximum"),
        (_with_header(ver=0x20), "version 2 is not supported"),
        (_with_header(ver=0x00), "version 0 is not supported"),
        (_with_header(ver=0x11), "reserved bits"),
        (_with_header(flags=0x15), "reserved bits"),
        (_with_header(res=1), "reserved bits"),
        (_with_header(flags=0b1100), "reserved rate code 3"),
        (_with_header(n=3), "header says 3 samples but the packet carries 2"),
        (_with_header(n=0), "header says 0 samples"),
        (_valid() + b"\x00", "carries 2.16667"),
    ],
    ids=[
        "empty",
        "short",
        "oversized",
        "version2",
        "version0",
        "reserved-version-nibble",
        "reserved-flags",
        "reserved-byte",
        "rate-code-3",
        "count-too-high",
        "count-zero",
        "trailing-byte",
    ],
)
def test_malformed_packets_raise_packet_error(data: bytes, message: str) -> None:
    with pytest.raises(PacketError, match=message):
        decode_packet(data)


def test_byte_layout_matches_the_documented_example() -> None:
    raw = encode_packet(0x1234, 0x0A0B0C0D, 50, 4, [[8192, -8192, 1]])
    assert raw.hex(" ") == "10 05 34 12 0d 0c 0b 0a 01 00 00 20 00 e0 01 00"
    np.testing.assert_allclose(decode_packet(raw).acc_g(), [[1.0, -1.0, 1 / 8192]])


def test_wrapping_fields_are_reduced_modulo() -> None:
    pkt = decode_packet(encode_packet(65536 + 3, 2**32 + 9, 25, 2, [[0, 0, 0]]))
    assert (pkt.seq, pkt.t0_ms) == (3, 9)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"counts": np.zeros((0, 3))}, "holds 1..39 samples, not 0"),
        ({"counts": np.zeros((40, 3))}, "holds 1..39 samples, not 40"),
        ({"counts": np.zeros((2, 3)), "max_payload": 20}, "holds 1..1 samples, not 2"),
        ({"counts": np.zeros((3,))}, r"shape \(N, 3\)"),
        ({"counts": [[40000, 0, 0]]}, "int16"),
        ({"counts": [[0, 0, 0]], "rate_hz": 60}, "rate must be one of"),
        ({"counts": [[0, 0, 0]], "range_g": 3}, "range must be one of"),
        ({"counts": [[0, 0, 0]], "max_payload": 300}, "max_payload must be 16..244"),
    ],
)
def test_encoder_rejects_what_the_decoder_would(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"rate_hz": 50, "range_g": 4} | kwargs
    with pytest.raises(ValueError, match=message):
        encode_packet(1, 0, **args)  # type: ignore[arg-type]


def test_codes() -> None:
    assert [rate_code(r) for r in RATES_HZ] == [0, 1, 2]
    assert [scale_code(r) for r in SCALE_RANGES_G] == [0, 1, 2, 3]


def test_saturated_flags_samples_at_the_rail() -> None:
    pkt = decode_packet(encode_packet(0, 0, 50, 2, [[32767, 0, 0], [0, 5, 0], [0, 0, -32768]]))
    assert pkt.saturated().tolist() == [True, False, True]


@pytest.mark.parametrize(
    ("prev", "new", "dist"), [(0, 1, 1), (65535, 0, 1), (65530, 4, 10), (5, 5, 0), (5, 4, 65535)]
)
def test_seq_distance(prev: int, new: int, dist: int) -> None:
    assert seq_distance(prev, new) == dist


# --- control commands -----------------------------------------------------------------------
controls = st.one_of(
    st.builds(ControlCommand, st.just(Opcode.START), rate_hz=st.sampled_from(RATES_HZ)),
    st.builds(ControlCommand, st.just(Opcode.SET_RATE), rate_hz=st.sampled_from(RATES_HZ)),
    st.builds(ControlCommand, st.just(Opcode.STOP)),
    st.builds(
        ControlCommand,
        st.just(Opcode.VIBRATE),
        pattern=st.sampled_from(VibratePattern),
        repeat=st.integers(1, 5),
    ),
)


@FAST
@given(controls)
def test_control_round_trip(cmd: ControlCommand) -> None:
    assert decode_control(encode_control(cmd)) == cmd


@FAST
@given(st.binary(max_size=6))
def test_random_control_bytes_give_packet_error_or_a_command(data: bytes) -> None:
    try:
        cmd = decode_control(data)
    except PacketError:
        return
    assert encode_control(cmd) == data


def test_control_bytes() -> None:
    assert encode_control(ControlCommand(Opcode.START, rate_hz=100)) == b"\x01\x02"
    assert encode_control(ControlCommand(Opcode.STOP)) == b"\x02"
    assert encode_control(ControlCommand(Opcode.SET_RATE, rate_hz=25)) == b"\x03\x00"
    vib = ControlCommand(Opcode.VIBRATE, pattern=VibratePattern.DOUBLE, repeat=3)
    assert encode_control(vib) == b"\x04\x02\x03"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty control write"),
        (b"\x09", "unknown control opcode 0x09"),
        (b"\x01", "START takes 2 bytes, got 1"),
        (b"\x02\x00", "STOP takes 1 bytes, got 2"),
        (b"\x01\x03", "unknown rate code 3"),
        (b"\x04\x07\x01", "unknown vibrate pattern 7"),
        (b"\x04\x01\x00", "repeat count 0 is outside 1..5"),
        (b"\x04\x01\x06", "repeat count 6 is outside 1..5"),
    ],
)
def test_malformed_control_raises(data: bytes, message: str) -> None:
    with pytest.raises(PacketError, match=message):
        decode_control(data)


@pytest.mark.parametrize(
    "cmd",
    [
        ControlCommand(Opcode.START),
        ControlCommand(Opcode.SET_RATE, rate_hz=60),
        ControlCommand(Opcode.VIBRATE),
        ControlCommand(Opcode.VIBRATE, pattern=VibratePattern.SHORT, repeat=6),
    ],
)
def test_encode_control_rejects_incomplete_commands(cmd: ControlCommand) -> None:
    with pytest.raises(ValueError, match=r"rate|repeat"):
        encode_control(cmd)
