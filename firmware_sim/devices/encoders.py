"""Which encoder packetises the double's samples: the daemon's or the real firmware's.

``firmware`` runs ``firmware/postureclip/wire.py`` (the MicroPython code flashed onto
boards) under CPython, so the real-bleak tests cover the firmware's packets end to end.
The firmware is not a Python package of this repository, so it is loaded by path.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from postured.wire.protocol import encode_packet

EncoderName = Literal["daemon", "firmware"]
ENCODER_NAMES: tuple[EncoderName, ...] = ("daemon", "firmware")
Encoder = Callable[[int, int, int, int, npt.NDArray[np.int16]], bytes]
FIRMWARE_WIRE = Path(__file__).resolve().parents[2] / "firmware" / "postureclip" / "wire.py"


def _daemon(seq: int, t0_ms: int, rate_hz: int, range_g: int, c: npt.NDArray[np.int16]) -> bytes:
    return encode_packet(seq, t0_ms, rate_hz, range_g, c)


@cache
def _firmware_module() -> object:
    spec = importlib.util.spec_from_file_location("postureclip_wire", FIRMWARE_WIRE)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"the firmware's encoder is missing: {FIRMWARE_WIRE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _firmware(seq: int, t0_ms: int, rate_hz: int, range_g: int, c: npt.NDArray[np.int16]) -> bytes:
    encode = getattr(_firmware_module(), "encode_packet")  # noqa: B009 - untyped module
    # The firmware takes plain (x, y, z) tuples, as its sampling loop makes them.
    samples = [tuple(row) for row in np.asarray(c).tolist()]
    return bytes(encode(seq, t0_ms % 2**32, rate_hz, range_g, samples))


def encoder(name: EncoderName) -> Encoder:
    return _firmware if name == "firmware" else _daemon
