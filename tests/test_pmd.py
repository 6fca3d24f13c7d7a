"""The Polar PMD codec: golden vectors from the SDK's issue threads, round trips, strict
rejection of cut or garbled frames, refusals that name the setting, and frame times."""

from __future__ import annotations

import contextlib
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from postured.errors import PacketError, SensorError
from postured.wire.pmd import (
    FRAME_HEADER_SIZE,
    NS_PER_S,
    AccFrameType,
    AccSettings,
    ControlRequest,
    ControlResponse,
    FrameClock,
    MeasurementStopped,
    MeasurementType,
    Opcode,
    PmdRefused,
    SettingType,
    Status,
    check_response,
    decode_acc_frame,
    decode_control_notification,
    decode_features,
    decode_request,
    decode_settings,
    encode_acc_frame,
    encode_device_stopped,
    encode_features,
    encode_request,
    encode_response,
    encode_settings,
    get_settings_request,
    join_responses,
    polar_ns_to_unix,
    start_request,
    stop_request,
)

FAST = settings(max_examples=150, deadline=None)

# polar-ble-sdk issue #443: a Verity Sense ACC frame (type 0x81) as the thread shows it;
# the thread cuts it after 188 of its 227 bytes, inside the third delta block.
ISSUE_443_FRAME = bytes.fromhex(
    "02 00 41 6F C4 12 45 93 0A 81 EE 02 1F FE 82 FF 08 0A 10 DA 20 D6 A3 0B D9 CB E7 D6"
    " F6 C4 E6 F1 E1 F3 E0 15 1A FE 28 1B F8 37 2C 25 20 13 19 11 0A 2F ED 4F C0 7E F4 E9"
    " BB 6E 80 0D C8 2F B0 3E 14 D1 AF B0 7F 16 C4 CC 20 87 34 03 54 12 8B FF 8D 00 C1 42"
    " FB E6 D3 DF B5 E1 91 53 2F BE F9 ED 43 B0 3E FD DB 9B 90 3D F5 03 60 5F 7B FA D9 DF"
    " AE 00 0B 24 64 70 40 12 CC CF BF 04 E4 C5 33 B0 38 08 41 80 EF C2 12 EC 17 81 46 FD"
    " FE 5B B0 01 F3 D1 D7 6F 81 FF CD 7B 0F C2 01 36 60 7F 43 D3 5F 3F 3F 78 CB 06 48 4E"
    " FF 00 0E FC 82 05 51 AB 55 E3 4A 2D 1D 0C 5F BD E8 58 73 4D"
)
# The reference sample (16 bytes in) and the first block (2 + 30 bytes) are whole.
ISSUE_443_WHOLE = ISSUE_443_FRAME[:48]


# --- golden vectors ---------------------------------------------------------------------------
def test_h10_start_request_matches_the_documented_bytes() -> None:
    req = start_request(AccSettings(sample_rate_hz=50, range_g=4))
    assert req == bytes.fromhex("02 02 00 01 32 00 01 01 10 00 02 01 04 00")


def test_verity_sense_start_request_matches_the_field_capture() -> None:
    req = start_request(AccSettings(sample_rate_hz=52, range_g=8, channels=3))
    assert req == bytes.fromhex("02 02 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03")
    parsed = decode_request(req)
    assert parsed.opcode is Opcode.START
    assert parsed.measurement is MeasurementType.ACC
    assert parsed.settings == {
        SettingType.SAMPLE_RATE: 52,
        SettingType.RESOLUTION: 16,
        SettingType.RANGE: 8,
        SettingType.CHANNELS: 3,
    }


def test_stop_and_get_settings_requests() -> None:
    assert stop_request() == bytes.fromhex("03 02")
    assert get_settings_request() == bytes.fromhex("01 02")
    assert decode_request(b"\x03\x02") == ControlRequest(Opcode.STOP, MeasurementType.ACC)


def test_field_start_response_decodes_to_success_without_settings() -> None:
    resp = decode_control_notification(bytes.fromhex("F0 02 02 00 00"))
    assert resp == ControlResponse(Opcode.START, MeasurementType.ACC, Status.SUCCESS)
    assert isinstance(resp, ControlResponse)
    assert check_response(resp, decode_request(start_request(AccSettings(52, 8)))) == {}


def test_issue_443_frame_decodes_to_the_published_samples() -> None:
    frame = decode_acc_frame(ISSUE_443_WHOLE)
    assert frame.frame_type is AccFrameType.DELTA_MG
    assert frame.n == 11  # the reference and one block of 10
    assert frame.mg[:2].tolist() == [[750, -481, -126], [766, -519, -94]]
    # Stamped on the day the thread was opened (2024-02-23).
    assert frame.timestamp_ns == 0x0A934512C46F4100
    assert 1708646400 <= float(polar_ns_to_unix(frame.timestamp_ns)) < 1708732800


def test_issue_443_frame_as_published_is_cut_inside_a_block() -> None:
    with pytest.raises(PacketError, match="delta block 2 needs 177 bytes, only 138"):
        decode_acc_frame(ISSUE_443_FRAME)


def test_h10_raw_frame_by_hand() -> None:
    ts = 599616023171427290  # the H10's default clock start, from Polar's time notes
    body = struct.pack("<6h", 12, -980, 50, 13, -979, 49)
    raw = bytes((2,)) + struct.pack("<QB", ts, 0x01) + body
    frame = decode_acc_frame(raw)
    assert frame.timestamp_ns == ts
    assert frame.mg.tolist() == [[12, -980, 50], [13, -979, 49]]
    assert frame.acc_g()[0].tolist() == pytest.approx([0.012, -0.98, 0.05])
    assert encode_acc_frame(ts, [[12, -980, 50], [13, -979, 49]]) == raw


def test_features_bits_follow_the_type_numbers() -> None:
    # An H10 offers ECG and ACC: 0F 05 00.
    assert encode_features([MeasurementType.ECG, MeasurementType.ACC]) == bytes.fromhex("0F 05 00")
    assert decode_features(bytes.fromhex("0F 05 00")) == {MeasurementType.ECG, MeasurementType.ACC}
    verity = decode_features(bytes.fromhex("0F 6E 02"))
    assert MeasurementType.ACC in verity
    assert MeasurementType.SDK_MODE in verity
    assert MeasurementType.ECG not in verity
    with pytest.raises(PacketError, match="expected 0x0f"):
        decode_features(b"\xf0\x05")


# --- refusals -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "setting", "words"),
    [
        (Status.INVALID_SAMPLE_RATE, SettingType.SAMPLE_RATE, "sample rate 300 Hz"),
        (Status.INVALID_RANGE, SettingType.RANGE, "range 16 g"),
        (Status.INVALID_RESOLUTION, SettingType.RESOLUTION, "resolution 16 bit"),
    ],
)
def test_a_refused_setting_is_named_with_its_value(
    status: Status, setting: SettingType, words: str
) -> None:
    req = decode_request(start_request(AccSettings(sample_rate_hz=300, range_g=16)))
    raw = encode_response(ControlResponse(Opcode.START, MeasurementType.ACC, status))
    resp = decode_control_notification(raw)
    assert isinstance(resp, ControlResponse)
    with pytest.raises(PmdRefused, match=f"{words} is not one it offers") as info:
        check_response(resp, req)
    assert info.value.setting is setting
    assert info.value.status is status
    assert isinstance(info.value, SensorError)
    assert f"status {int(status)} {status.name}" in str(info.value)


def test_a_refusal_not_about_a_setting_gives_advice() -> None:
    resp = ControlResponse(Opcode.START, MeasurementType.ACC, Status.DEVICE_IN_CHARGER)
    with pytest.raises(PmdRefused, match="out of its charger") as info:
        check_response(resp)
    assert info.value.setting is None


def test_a_response_to_another_request_is_not_taken() -> None:
    resp = ControlResponse(Opcode.STOP, MeasurementType.ACC, Status.SUCCESS)
    with pytest.raises(PacketError, match="while waiting for START ACC"):
        check_response(resp, decode_request(start_request(AccSettings(50, 4))))


def test_settings_response_with_continuation_parts() -> None:
    first = encode_response(
        ControlResponse(
            Opcode.GET_SETTINGS,
            MeasurementType.ACC,
            Status.SUCCESS,
            more=True,
            params=encode_settings({SettingType.SAMPLE_RATE: (25, 50, 100, 200)}),
        )
    )
    second = encode_response(
        ControlResponse(
            Opcode.GET_SETTINGS,
            MeasurementType.ACC,
            Status.SUCCESS,
            params=encode_settings({SettingType.RESOLUTION: (16,), SettingType.RANGE: (2, 4, 8)}),
        )
    )
    parts = [decode_control_notification(first), decode_control_notification(second)]
    assert all(isinstance(p, ControlResponse) for p in parts)
    assert [p.more for p in parts if isinstance(p, ControlResponse)] == [True, False]
    joined = join_responses(p for p in parts if isinstance(p, ControlResponse))
    assert check_response(joined) == {
        SettingType.SAMPLE_RATE: (25, 50, 100, 200),
        SettingType.RESOLUTION: (16,),
        SettingType.RANGE: (2, 4, 8),
    }


def test_start_response_factor_is_a_float32() -> None:
    params = encode_settings({SettingType.FACTOR: (1 / 4096,)})
    assert params == bytes((5, 1)) + struct.pack("<f", 1 / 4096)
    assert decode_settings(params) == {SettingType.FACTOR: (1 / 4096,)}


def test_device_side_stop_is_recognised() -> None:
    msg = decode_control_notification(encode_device_stopped([MeasurementType.ACC]))
    assert msg == MeasurementStopped((2,))


# --- strict rejection --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"", "shorter than the header"),
        (bytes(10), "shorter than the header"),
        (bytes((0,)) + bytes(9) + bytes(6), "measurement type 0, not ACC"),
        (bytes((2,)) + bytes(8) + b"\x05" + bytes(6), "frame type 0x05"),
        (bytes((2,)) + bytes(8) + b"\x01" + bytes(7), "not a multiple of 6"),
        (bytes((2,)) + bytes(8) + b"\x81" + bytes(5), "no full reference sample"),
        (bytes((2,)) + bytes(8) + b"\x81" + bytes(6) + b"\x08", "cut off inside its header"),
        (bytes((2,)) + bytes(8) + b"\x81" + bytes(6) + b"\x00\x01", "bit width 0"),
        (bytes((2,)) + bytes(8) + b"\x81" + bytes(6) + b"\x08\x00", "count 0"),
        (bytes((2,)) + bytes(8) + b"\x81" + bytes(6) + b"\x08\x02\x00", "needs 6 bytes"),
    ],
)
def test_bad_frames_give_clear_errors(raw: bytes, match: str) -> None:
    with pytest.raises(PacketError, match=match):
        decode_acc_frame(raw)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"\x02", "at least 2 bytes"),
        (b"\x07\x02", "unknown PMD opcode 7"),
        (b"\x02\x04", "measurement type 4"),
        (b"\x02\x82", "offline recording"),
        (b"\x03\x02\x00", "STOP takes 2 bytes"),
        (b"\x02\x02\x00\x01\x32", "announces 1 values of 2 bytes"),
        (b"\x02\x02\x09\x01\x32", "unknown PMD setting type 9"),
        (b"\x02\x02\x00\x02\x32\x00\x64\x00", "sets one sample rate"),
    ],
)
def test_bad_requests_give_clear_errors(raw: bytes, match: str) -> None:
    with pytest.raises(PacketError, match=match):
        decode_request(raw)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"", "sent nothing"),
        (b"\xf0\x02\x02", "4 bytes or more"),
        (b"\xf0\x02\x02\x63", "status 99"),
    ],
)
def test_bad_responses_give_clear_errors(raw: bytes, match: str) -> None:
    with pytest.raises(PacketError, match=match):
        decode_control_notification(raw)


@FAST
@given(st.binary(max_size=260))
def test_garbage_frames_decode_or_raise_packet_error(raw: bytes) -> None:
    try:
        frame = decode_acc_frame(raw)
    except PacketError:
        return
    assert frame.mg.shape == (frame.n, 3)
    assert frame.n >= 1


@FAST
@given(st.binary(max_size=40))
def test_garbage_control_bytes_decode_or_raise_packet_error(raw: bytes) -> None:
    for parse in (decode_request, decode_control_notification, decode_settings):
        with contextlib.suppress(PacketError):
            parse(raw)


# --- round trips -------------------------------------------------------------------------------
RAW_LIMITS = {
    AccFrameType.RAW_INT8: 127,
    AccFrameType.RAW_INT16: 32767,
    AccFrameType.RAW_INT24: 2**23 - 1,
}


@st.composite
def raw_frames(draw: st.DrawFn) -> tuple[int, AccFrameType, np.ndarray]:
    ft = draw(st.sampled_from(list(RAW_LIMITS)))
    n = draw(st.integers(1, 30))
    lim = RAW_LIMITS[ft]
    vals = draw(hnp.arrays(np.int64, (n, 3), elements=st.integers(-lim - 1, lim)))
    return draw(st.integers(0, 2**64 - 1)), ft, vals


@FAST
@given(raw_frames())
def test_raw_frames_round_trip(case: tuple[int, AccFrameType, np.ndarray]) -> None:
    ts, ft, vals = case
    raw = encode_acc_frame(ts, vals, ft)
    assert len(raw) == FRAME_HEADER_SIZE + vals.size * (1 + list(RAW_LIMITS).index(ft))
    frame = decode_acc_frame(raw)
    assert (frame.timestamp_ns, frame.frame_type) == (ts, ft)
    assert np.array_equal(frame.mg, vals)


@st.composite
def delta_samples(draw: st.DrawFn) -> np.ndarray:
    n = draw(st.integers(1, 80))
    start = draw(hnp.arrays(np.int64, (1, 3), elements=st.integers(-32768, 32767)))
    step = draw(st.sampled_from([1, 3, 40, 2000, 40000]))
    steps = draw(hnp.arrays(np.int64, (n - 1, 3), elements=st.integers(-step, step)))
    return np.concatenate([start, start + np.cumsum(steps, axis=0)])


@FAST
@given(
    delta_samples(),
    st.integers(1, 255),
    st.sampled_from([AccFrameType.DELTA_MG, AccFrameType.DELTA_G]),
)
def test_delta_frames_round_trip(vals: np.ndarray, block: int, ft: AccFrameType) -> None:
    raw = encode_acc_frame(1234, vals, ft, block=block)
    factor = 0.5 if ft is AccFrameType.DELTA_MG else 1 / 4096
    frame = decode_acc_frame(raw, factor=factor)
    scale = factor * 1000 if ft is AccFrameType.DELTA_G else factor
    assert np.allclose(frame.mg, vals * scale)
    # Small steps in long blocks pack tighter than raw int16 (6 bytes a sample).
    if len(vals) > 20 and block >= 20 and np.abs(np.diff(vals, axis=0)).max(initial=0) <= 3:
        assert len(raw) < FRAME_HEADER_SIZE + 6 * len(vals) / 2


@FAST
@given(
    st.dictionaries(
        st.sampled_from([s for s in SettingType if s is not SettingType.FACTOR]),
        st.lists(st.integers(0, 255), min_size=1, max_size=6).map(tuple),
    )
)
def test_settings_round_trip(values: dict[SettingType, tuple[int, ...]]) -> None:
    assert decode_settings(encode_settings(values)) == values


@FAST
@given(
    st.sampled_from(list(Opcode)),
    st.sampled_from(list(MeasurementType)),
    st.sampled_from(list(Status)),
    st.binary(max_size=30),
    st.booleans(),
)
def test_responses_round_trip(
    op: Opcode, mt: MeasurementType, status: Status, params: bytes, more: bool
) -> None:
    ok = status is Status.SUCCESS
    resp = ControlResponse(op, mt, status, more and ok, params if ok else b"")
    assert decode_control_notification(encode_response(resp)) == resp


@FAST
@given(
    st.integers(1, 1000),
    st.sampled_from([8, 16]),
    st.sampled_from([2, 4, 8, 16]),
    st.sampled_from([None, 3]),
)
def test_start_requests_round_trip(rate: int, res: int, rng: int, ch: int | None) -> None:
    acc = AccSettings(sample_rate_hz=rate, range_g=rng, resolution_bits=res, channels=ch)
    req = decode_request(start_request(acc))
    assert req.settings == {k: int(v[0]) for k, v in acc.to_settings().items()}
    assert encode_request(req) == start_request(acc)


# --- frame times -------------------------------------------------------------------------------
def test_first_frame_is_spaced_at_the_nominal_rate_back_from_its_stamp() -> None:
    clock = FrameClock(50)
    t, hole = clock.times(10 * NS_PER_S, 3)
    assert t.tolist() == [10 * NS_PER_S - 40_000_000, 10 * NS_PER_S - 20_000_000, 10 * NS_PER_S]
    assert hole is None


def test_later_frames_are_spaced_evenly_between_stamps() -> None:
    clock = FrameClock(50)
    clock.times(10 * NS_PER_S, 3)
    # The device clock runs 1 % fast: 3 samples in 60.6 ms.
    t, hole = clock.times(10 * NS_PER_S + 60_600_000, 3)
    assert hole is None
    assert np.allclose(np.diff(np.concatenate([[10 * NS_PER_S], t])), 20_200_000)


def test_a_long_step_between_stamps_is_a_hole_not_a_stretch() -> None:
    clock = FrameClock(50)
    clock.times(10 * NS_PER_S, 3)
    t, hole = clock.times(12 * NS_PER_S, 3)
    assert hole == 10 * NS_PER_S
    assert np.allclose(np.diff(t), 20_000_000)
    assert t[-1] == 12 * NS_PER_S


def test_a_stamp_that_does_not_advance_is_refused_and_reset_forgets() -> None:
    clock = FrameClock(50)
    clock.times(10 * NS_PER_S, 3)
    with pytest.raises(PacketError, match="does not advance"):
        clock.times(10 * NS_PER_S, 3)
    clock.reset()
    t, _ = clock.times(5 * NS_PER_S, 1)
    assert t.tolist() == [5 * NS_PER_S]


def test_polar_epoch_is_2000() -> None:
    assert polar_ns_to_unix(0) == 946684800.0
    assert polar_ns_to_unix(599616000 * NS_PER_S) == 1546300800.0  # 2019-01-01, the H10's default
