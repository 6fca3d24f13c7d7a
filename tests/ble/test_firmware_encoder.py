"""End to end through the real bleak: the double packetises with the firmware's encoder."""

from __future__ import annotations

import numpy as np
import pytest

from postured.adapters.ble import BleSource
from postured.ports.source import Gap, Malformed, Samples
from tests.ble.conftest import StartDouble
from tests.ble.test_link import FAST, Collector, assert_even, cfg

pytestmark = pytest.mark.ble


@pytest.mark.asyncio
async def test_firmware_packets_reach_the_daemon_through_bleak(start_double: StartDouble) -> None:
    d = start_double(1, "--encoder", "firmware", "--samples-per-packet", "20")
    src = BleSource(cfg(address=d.addresses[0], rate_hz=50), timing=FAST)
    async with Collector(src) as c:
        await c.wait_for(lambda c: c.n_samples() >= 100)
    samples = c.of(Samples)
    t = np.concatenate([s.t for s in samples])
    acc = np.concatenate([s.acc for s in samples])
    assert_even(t, 0.02)
    assert np.allclose(np.linalg.norm(acc, axis=1), 1.0, atol=0.06)
    assert not c.of(Malformed)
    assert not c.of(Gap)
