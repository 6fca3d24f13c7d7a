"""The wire protocol of docs/protocol.md, written for MicroPython (no numpy, no enum).

Mirrors ``postured.wire.protocol`` byte for byte; tests/firmware compares the two.
"""

import struct

SERVICE_UUID = "7a1e0001-5c3d-4b8e-9f2a-1d6c0e8b9a01"
DATA_CHAR_UUID = "7a1e0002-5c3d-4b8e-9f2a-1d6c0e8b9a01"
CONTROL_CHAR_UUID = "7a1e0003-5c3d-4b8e-9f2a-1d6c0e8b9a01"
# 16-bit SIG UUIDs (Battery Service, Battery Level, Device Information and its strings).
BATTERY_SERVICE = 0x180F
BATTERY_LEVEL = 0x2A19
DEVICE_INFO_SERVICE = 0x180A
MANUFACTURER_NAME = 0x2A29
MODEL_NUMBER = 0x2A24
FIRMWARE_REVISION = 0x2A26
NAME_PREFIX = "PostureClip"

VERSION_BYTE = 1 << 4  # protocol version 1 in the high nibble
HEADER_FMT = "<BBHIBB"
HEADER_SIZE = 10
SAMPLE_SIZE = 6
MAX_PAYLOAD = 244  # ATT_MTU 247 minus the 3-byte ATT header; the decoder's upper bound
MIN_PAYLOAD = HEADER_SIZE + SAMPLE_SIZE
ATT_HEADER = 3
SCALE_RANGES_G = (2, 4, 8, 16)
RATES_HZ = (25, 50, 100)

OP_START = 0x01
OP_STOP = 0x02
OP_SET_RATE = 0x03
OP_VIBRATE = 0x04
PATTERN_SHORT = 1
PATTERN_DOUBLE = 2
PATTERN_LONG = 3
_LENGTHS = {OP_START: 2, OP_STOP: 1, OP_SET_RATE: 2, OP_VIBRATE: 3}


class WireError(ValueError):
    """A malformed control write (the daemon's PacketError)."""


def samples_per_packet(mtu):
    """How many samples fit one notification at an ATT MTU (at least 1, at most 39)."""
    payload = min(max(mtu - ATT_HEADER, MIN_PAYLOAD), MAX_PAYLOAD)
    return (payload - HEADER_SIZE) // SAMPLE_SIZE


def flags(range_g, rate_hz):
    """The flags byte: scale code in bits 0-1, rate code in bits 2-3."""
    return SCALE_RANGES_G.index(range_g) | (RATES_HZ.index(rate_hz) << 2)


def encode_into(buf, seq, t0_ms, flag_byte, samples, n):
    """Write a packet of the first ``n`` (x, y, z) samples into ``buf``; return its length.

    ``buf`` is a bytearray of at least HEADER_SIZE + SAMPLE_SIZE * n bytes, reused from
    packet to packet so the sampling loop allocates nothing.
    """
    struct.pack_into(
        HEADER_FMT, buf, 0, VERSION_BYTE, flag_byte, seq & 0xFFFF, t0_ms & 0xFFFFFFFF, n, 0
    )
    off = HEADER_SIZE
    for i in range(n):
        x, y, z = samples[i]
        struct.pack_into("<hhh", buf, off, x, y, z)
        off += SAMPLE_SIZE
    return off


def encode_packet(seq, t0_ms, rate_hz, range_g, samples):
    """One packet as bytes (the allocating form, for tests and the simulator)."""
    n = len(samples)
    if not 1 <= n <= (MAX_PAYLOAD - HEADER_SIZE) // SAMPLE_SIZE:
        raise ValueError("a packet holds 1..39 samples")
    buf = bytearray(HEADER_SIZE + SAMPLE_SIZE * n)
    encode_into(buf, seq, t0_ms, flags(range_g, rate_hz), samples, n)
    return bytes(buf)


def decode_control(data):
    """Decode a control write into (opcode, arg, repeat); raise WireError when malformed.

    ``arg`` is the rate in Hz for START/SET_RATE, the pattern for VIBRATE, None for STOP.
    """
    if not data:
        raise WireError("empty control write")
    op = data[0]
    expected = _LENGTHS.get(op)
    if expected is None:
        raise WireError("unknown control opcode")
    if len(data) != expected:
        raise WireError("wrong length")
    if op == OP_STOP:
        return op, None, 1
    if op in (OP_START, OP_SET_RATE):
        if data[1] >= len(RATES_HZ):
            raise WireError("unknown rate code")
        return op, RATES_HZ[data[1]], 1
    if not PATTERN_SHORT <= data[1] <= PATTERN_LONG:
        raise WireError("unknown vibrate pattern")
    if not 1 <= data[2] <= 5:
        raise WireError("repeat count outside 1..5")
    return op, data[1], data[2]


# Buzz timings in ms: (on, off) pairs per pattern, as docs/protocol.md describes them.
PATTERNS_MS = {
    PATTERN_SHORT: ((200, 0),),
    PATTERN_DOUBLE: ((150, 150), (150, 0)),
    PATTERN_LONG: ((800, 0),),
}
REPEAT_GAP_MS = 400
# The IMU still rings a little after the buzzer stops (idea from a peer project).
SETTLE_MS = 50


def buzz_plan(pattern, repeat):
    """The (on_ms, off_ms) steps of a VIBRATE and the total time samples are withheld."""
    steps = []
    for r in range(repeat):
        for on, off in PATTERNS_MS[pattern]:
            steps.append((on, off))
        if r < repeat - 1:
            on, off = steps[-1]
            steps[-1] = (on, off + REPEAT_GAP_MS)
    total = SETTLE_MS
    for on, off in steps:
        total += on + off
    return steps, total


def name_for(mac):
    """The advertised name from the last two bytes of the MAC, e.g. PostureClip-1A2B."""
    return "%s-%02X%02X" % (NAME_PREFIX, mac[-2], mac[-1])
