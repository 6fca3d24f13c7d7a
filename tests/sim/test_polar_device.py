"""The simulated Polar devices: control point answers and the frames they send, read back
by our decoder and by polar-python."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from polar_python.parsers import polar

from firmware_sim.devices.polar import H10, VERITY_SENSE, PolarDevice, model_named
from postured.wire.pmd import (
    MAX_NOTIFICATION,
    NS_PER_S,
    AccFrameType,
    AccSettings,
    ControlResponse,
    FrameClock,
    MeasurementStopped,
    MeasurementType,
    PmdRefused,
    SettingType,
    Status,
    check_response,
    decode_acc_frame,
    decode_control_notification,
    decode_features,
    decode_request,
    get_settings_request,
    start_request,
    stop_request,
)

FAST = settings(max_examples=60, deadline=None)


def answer(dev: PolarDevice, write: bytes) -> ControlResponse:
    resp = decode_control_notification(dev.handle_write(write))
    assert isinstance(resp, ControlResponse)
    return resp


def test_h10_offers_acc_and_its_documented_settings() -> None:
    dev = PolarDevice(H10)
    assert MeasurementType.ACC in decode_features(dev.feature_read())
    got = check_response(answer(dev, get_settings_request()))
    assert got == {
        SettingType.SAMPLE_RATE: (25, 50, 100, 200),
        SettingType.RESOLUTION: (16,),
        SettingType.RANGE: (2, 4, 8),
    }
    assert dev.name == "Polar H10 1A2B3C4D"


def test_h10_refuses_a_rate_it_does_not_offer_naming_it() -> None:
    dev = PolarDevice(H10)
    write = start_request(AccSettings(sample_rate_hz=52, range_g=4))
    resp = answer(dev, write)
    assert resp.status is Status.INVALID_SAMPLE_RATE
    with pytest.raises(PmdRefused, match="sample rate 52 Hz is not one it offers"):
        check_response(resp, decode_request(write))
    assert dev.streaming is None


@pytest.mark.parametrize(
    ("acc", "status"),
    [
        (AccSettings(50, 16), Status.INVALID_RANGE),
        (AccSettings(50, 4, resolution_bits=12), Status.INVALID_RESOLUTION),
        (AccSettings(50, 4, channels=3), Status.INVALID_PARAMETER),  # the H10 has no channels
    ],
)
def test_h10_refuses_each_setting_with_its_own_status(acc: AccSettings, status: Status) -> None:
    assert answer(PolarDevice(H10), start_request(acc)).status is status


def test_verity_sense_starts_with_the_field_request_and_answers_as_seen() -> None:
    dev = PolarDevice(VERITY_SENSE)
    write = bytes.fromhex("02 02 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03")
    assert dev.handle_write(write) == bytes.fromhex("F0 02 02 00 00")
    assert dev.streaming == AccSettings(52, 8, 16, 3)


def test_start_twice_stop_twice_and_a_forced_refusal() -> None:
    dev = PolarDevice(H10)
    start = start_request(AccSettings(50, 4))
    assert answer(dev, start).status is Status.SUCCESS
    assert answer(dev, start).status is Status.ALREADY_IN_STATE
    assert answer(dev, stop_request()).status is Status.SUCCESS
    assert answer(dev, stop_request()).status is Status.ALREADY_IN_STATE
    dev.refuse_next_start = Status.DEVICE_IN_CHARGER
    assert answer(dev, start).status is Status.DEVICE_IN_CHARGER
    assert answer(dev, start).status is Status.SUCCESS


def test_bad_writes_and_other_measurements_are_answered_not_dropped() -> None:
    dev = PolarDevice(H10)
    assert answer(dev, b"\x07\x02").status is Status.INVALID_OP_CODE
    assert answer(dev, b"\x02\x02\x00").status is Status.INVALID_PARAMETER
    assert answer(dev, b"\x01\x01").status is Status.NOT_SUPPORTED  # the H10 has no PPG
    assert answer(dev, b"\x01\x00").status is Status.INVALID_STATE  # ECG: not simulated


def test_no_frames_unless_streaming_and_a_device_side_stop() -> None:
    dev = PolarDevice(H10)
    t = np.arange(5, dtype=np.int64) * 20_000_000
    assert dev.frames(t, np.zeros((5, 3))) == []
    dev.handle_write(start_request(AccSettings(50, 4)))
    assert len(dev.frames(t, np.zeros((5, 3)))) == 1
    assert decode_control_notification(dev.device_stop()) == MeasurementStopped((2,))
    assert dev.frames(t, np.zeros((5, 3))) == []


@st.composite
def motion_mg(draw: st.DrawFn) -> np.ndarray:
    n = draw(st.integers(1, 400))
    step = draw(st.sampled_from([2.0, 30.0, 400.0, 9000.0]))
    start = draw(hnp.arrays(np.float64, (1, 3), elements=st.floats(-9000, 9000)))
    steps = draw(hnp.arrays(np.float64, (n - 1, 3), elements=st.floats(-step, step)))
    return np.concatenate([start, start + np.cumsum(steps, axis=0)])


@FAST
@given(motion_mg(), st.sampled_from(["h10", "verity"]), st.integers(0, 2**40))
def test_frames_carry_the_samples_and_times_exactly(
    mg: np.ndarray, model: str, start_ns: int
) -> None:
    m = model_named(model)
    dev = PolarDevice(m)
    rate, rng = (50, 4) if model == "h10" else (52, 8)
    assert answer(dev, start_request(AccSettings(rate, rng))).status is Status.SUCCESS
    t_ns = start_ns + np.rint(np.arange(len(mg)) * (NS_PER_S / rate)).astype(np.int64)
    frames = dev.frames(t_ns, mg)
    assert all(len(f) <= MAX_NOTIFICATION for f in frames)
    decoded = [decode_acc_frame(f) for f in frames]
    assert {d.frame_type for d in decoded} == {m.frame_type}
    want = np.rint(np.clip(mg, -rng * 1000, rng * 1000 - 1))
    assert np.array_equal(np.concatenate([d.mg for d in decoded]), want)
    # The oracle reads the same samples from every frame.
    oracle = [polar.parse_polar_data(bytearray(f), lambda _: 1.0).data for f in frames]
    assert np.array_equal(np.concatenate([np.array(o) for o in oracle]), want)
    # Stamps are each frame's last sample; the SDK's spacing rule gives back every time.
    clock = FrameClock(rate, tolerance=0.5)
    times = np.concatenate([clock.times(d.timestamp_ns, d.n)[0] for d in decoded])
    assert np.allclose(times, t_ns, rtol=0, atol=2.0)


def test_delta_frames_in_g_with_a_factor() -> None:
    model = replace(VERITY_SENSE, frame_type=AccFrameType.DELTA_G, factor=1 / 4096)
    dev = PolarDevice(model)
    resp = answer(dev, start_request(AccSettings(52, 8, channels=3)))
    factor = check_response(resp)[SettingType.FACTOR][0]
    assert factor == 1 / 4096
    mg = np.array([[0.0, 0.0, 1000.0], [244.140625, -488.28125, 1000.0]])
    (frame,) = dev.frames(np.array([1, 2], dtype=np.int64), mg)
    assert decode_acc_frame(frame, factor=factor).mg.tolist() == mg.tolist()
