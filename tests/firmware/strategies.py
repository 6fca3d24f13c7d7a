"""Random cases shared by the CPython and the MicroPython (WASM) comparisons."""

from __future__ import annotations

import random

from postured.wire.protocol import MAX_SAMPLES_244, RATES_HZ, SCALE_RANGES_G

Case = tuple[int, int, int, int, list[tuple[int, int, int]]]


def random_packet_case(rng: random.Random) -> Case:
    n = rng.randint(1, MAX_SAMPLES_244)
    edge = (-32768, -1, 0, 1, 32767)

    def value() -> int:
        return rng.choice(edge) if rng.random() < 0.1 else rng.randint(-32768, 32767)

    samples = [(value(), value(), value()) for _ in range(n)]
    seq = rng.choice((0, 65535, rng.randint(0, 65535)))
    t0 = rng.choice((0, 2**32 - 1, rng.randint(0, 2**32 - 1)))
    return seq, t0, rng.choice(RATES_HZ), rng.choice(SCALE_RANGES_G), samples


def random_control(rng: random.Random) -> bytes:
    if rng.random() < 0.5:  # mostly near-valid writes, so both branches get exercised
        op = rng.randint(0, 5)
        return bytes([op, *(rng.randint(0, 6) for _ in range(rng.randint(0, 3)))])
    return rng.randbytes(rng.randint(0, 4))
