"""The double's encoder choice really runs the firmware's code."""

from __future__ import annotations

import numpy as np

from firmware_sim.devices import encoders


def test_firmware_encoder_is_the_firmware_file_and_agrees() -> None:
    counts = np.array([[8192, -8192, 1], [0, 4096, -32768]], dtype=np.int16)
    fw = encoders.encoder("firmware")
    assert fw is not encoders.encoder("daemon")
    mod = encoders._firmware_module()
    assert getattr(mod, "__file__", None) == str(encoders.FIRMWARE_WIRE)
    assert fw(7, 2**32 + 5, 100, 8, counts) == encoders.encoder("daemon")(7, 5, 100, 8, counts)
