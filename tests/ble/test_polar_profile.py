"""The Polar profile against the simulated device over an in-memory GATT connection:
start-up order, the settings it chooses, refusals that name the setting, stop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np
import pytest

from firmware_sim.devices.polar import H10, VERITY_SENSE, PolarDevice
from postured.adapters.ble.kinds import polar, profile_for
from postured.adapters.ble.kinds.polar import PROFILE, choose_range, nearest
from postured.adapters.ble.radio import Advert, Notify
from postured.adapters.ble.scan import Found, sensors_block
from postured.errors import SensorError
from postured.wire.pmd import (
    PMD_CONTROL_UUID,
    PMD_DATA_UUID,
    AccSettings,
    Opcode,
    PmdRefused,
    SettingType,
    Status,
    decode_request,
)
from postured.wire.protocol import BATTERY_LEVEL_UUID, FIRMWARE_REVISION_UUID, VibratePattern
from postured.wire.stream import Samples


@dataclass(eq=False)
class PolarGatt:
    """A connection to a simulated Polar device: control point writes are answered by
    indications on the next loop turn, as a BLE link would."""

    device: PolarDevice
    battery: int = 77
    subs: dict[str, Notify] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    silent: bool = False  # the control point never answers

    @property
    def is_connected(self) -> bool:
        return True

    def has(self, uuid: str) -> bool:
        return uuid in {PMD_CONTROL_UUID, PMD_DATA_UUID, BATTERY_LEVEL_UUID, FIRMWARE_REVISION_UUID}

    async def read(self, uuid: str) -> bytes:
        self.order.append(f"read {uuid[:8]}")
        if uuid == PMD_CONTROL_UUID:
            return self.device.feature_read()
        if uuid == BATTERY_LEVEL_UUID:
            return bytes([self.battery])
        return b"3.1.1"

    async def write(self, uuid: str, data: bytes) -> None:
        assert uuid == PMD_CONTROL_UUID
        self.order.append(f"write {data.hex()}")
        answer = self.device.handle_write(data)
        if not self.silent:
            asyncio.get_running_loop().call_soon(self.subs[PMD_CONTROL_UUID], answer)

    async def subscribe(self, uuid: str, callback: Notify) -> None:
        self.order.append(f"subscribe {uuid[:8]}")
        self.subs[uuid] = callback

    async def unsubscribe(self, uuid: str) -> None:
        self.order.append(f"unsubscribe {uuid[:8]}")
        self.subs.pop(uuid, None)

    async def disconnect(self) -> None:
        self.device.disconnected()


def test_the_kind_polar_names_this_profile() -> None:
    assert profile_for("polar") is PROFILE
    assert not PROFILE.can_buzz
    assert PROFILE.recognises(Advert("A0:9E:1A:00:00:01", "Polar H10 8C4CAD2D", -60))
    assert PROFILE.recognises(Advert("A0:9E:1A:00:00:02", "Polar Sense C36A972B", -60))
    assert not PROFILE.recognises(Advert("C0:FF:EE:50:00:00", "PostureClip-1A00", -60))
    assert not PROFILE.recognises(Advert("C0:FF:EE:50:00:01", "WT901BLE68", -60))


@pytest.mark.parametrize(("offered", "chosen"), [((2, 4, 8), 4), ((8,), 8), ((2,), 2)])
def test_range_choice(offered: tuple[int, ...], chosen: int) -> None:
    assert choose_range(offered) == chosen


@pytest.mark.asyncio
async def test_h10_start_follows_the_sdk_order_and_streams() -> None:
    gatt = PolarGatt(PolarDevice(H10))
    data: list[bytes] = []
    battery: list[bytes] = []
    started = await PROFILE.start(gatt, 50, data.append, battery.append)
    assert started.rate_hz == 50
    assert started.firmware == "3.1.1"
    assert started.battery == 77
    ctrl, dat = PMD_CONTROL_UUID[:8], PMD_DATA_UUID[:8]
    assert gatt.order[:3] == [f"subscribe {ctrl}", f"subscribe {dat}", f"read {ctrl}"]
    writes = [w.removeprefix("write ") for w in gatt.order if w.startswith("write")]
    assert writes == ["0102", "02020001320001011000020104" + "00"]
    assert gatt.device.streaming == AccSettings(50, 4, 16, None)
    # The START response went down the data path first, for the decoder.
    decoder = PROFILE.decoder("chest", 50)
    assert decoder.feed(data[0], 1000.0) == []
    t = np.arange(10, dtype=np.int64) * 20_000_000
    for frame in gatt.device.frames(t, np.tile([0.0, 0.0, 1000.0], (10, 1))):
        (chunk,) = decoder.feed(frame, 1000.5)
        assert isinstance(chunk, Samples)
        assert np.allclose(chunk.acc[:, 2], 1.0)
    assert PROFILE.battery(bytes([55])) == 55
    assert PROFILE.battery(bytes([155])) is None
    await PROFILE.stop(gatt)
    assert gatt.device.streaming is None
    assert gatt.order[-4:] == [
        "write 0302",
        f"unsubscribe {dat}",
        f"unsubscribe {ctrl}",
        f"unsubscribe {BATTERY_LEVEL_UUID[:8]}",
    ]


@pytest.mark.asyncio
async def test_verity_sense_gets_its_channels_and_the_nearest_rate() -> None:
    gatt = PolarGatt(PolarDevice(VERITY_SENSE))
    started = await PROFILE.start(gatt, 50, lambda _: None, lambda _: None)
    assert started.rate_hz == 52
    start = decode_request(bytes.fromhex(gatt.order[-1].removeprefix("write ")))
    assert start.opcode is Opcode.START
    assert start.settings == {
        SettingType.SAMPLE_RATE: 52,
        SettingType.RESOLUTION: 16,
        SettingType.RANGE: 8,
        SettingType.CHANNELS: 3,
    }


@pytest.mark.parametrize(("wanted", "got"), [(25, 25), (50, 50), (100, 100), (150, 200)])
def test_nearest_rate(wanted: int, got: int) -> None:
    assert nearest(wanted, (25, 50, 100, 200)) == got


@pytest.mark.asyncio
async def test_a_refused_setting_is_named_with_what_the_device_listed() -> None:
    # A device that lists 4 g but refuses it (as a real one may in a mode the list ignores).
    dev = PolarDevice(H10, refuse_next_start=Status.INVALID_RANGE)
    with pytest.raises(PmdRefused) as info:
        await PROFILE.start(PolarGatt(dev), 50, lambda _: None, lambda _: None)
    msg = str(info.value)
    assert "refused START: range 4 g is not one it offers" in msg
    assert "status 9 INVALID_RANGE" in msg
    assert msg.endswith("it listed range 2, 4, 8 g")
    assert info.value.setting is SettingType.RANGE


@pytest.mark.asyncio
async def test_a_device_in_its_charger_is_reported_as_such() -> None:
    dev = PolarDevice(H10, refuse_next_start=Status.DEVICE_IN_CHARGER)
    with pytest.raises(PmdRefused, match="out of its charger"):
        await PROFILE.start(PolarGatt(dev), 50, lambda _: None, lambda _: None)


@pytest.mark.asyncio
async def test_a_silent_control_point_times_out_as_a_sensor_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(polar, "RESPONSE_TIMEOUT_S", 0.05)
    gatt = PolarGatt(PolarDevice(H10), silent=True)
    with pytest.raises(SensorError, match=r"did not answer GET_SETTINGS within 0\.05 s"):
        await PROFILE.start(gatt, 50, lambda _: None, lambda _: None)


@pytest.mark.asyncio
async def test_buzz_is_refused() -> None:
    with pytest.raises(SensorError, match="no vibration motor"):
        await PROFILE.buzz(PolarGatt(PolarDevice(H10)), VibratePattern.SHORT)


def test_scan_suggests_the_chest_for_a_polar_sensor() -> None:
    block = sensors_block(Found("Polar H10 1A2B3C00", "A0:9E:1A:00:00:01", -60, "polar"), 0, "hci0")
    assert 'kind = "polar"' in block
    assert 'mount = "chest"' in block
