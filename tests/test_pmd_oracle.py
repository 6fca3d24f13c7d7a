"""Our PMD frames read by an independent parser: PyPI's polar-python (MIT, test-only).

It decodes raw (0x00, 0x01) and delta (0x80, 0x81) ACC frames as Polar's SDK does, into
integer milli-g (it truncates scaled values towards zero) with Unix-epoch ns stamps.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from polar_python import constants
from polar_python.parsers import polar

from postured.wire.pmd import (
    NS_PER_S,
    POLAR_EPOCH_UNIX_S,
    AccFrameType,
    decode_acc_frame,
    encode_acc_frame,
)
from tests.test_pmd import ISSUE_443_WHOLE

FAST = settings(max_examples=200, deadline=None)


def oracle(raw: bytes, factor: float) -> tuple[int, np.ndarray]:
    def get_factor(kind: object) -> float:
        assert kind == constants.PmdMeasurementType.ACC
        return factor

    data = polar.parse_polar_data(bytearray(raw), get_factor)
    return int(data.timestamp), np.array(data.data, dtype=np.int64).reshape(-1, 3)


def test_the_oracle_reads_the_issue_443_frame_as_we_do() -> None:
    ts, mg = oracle(ISSUE_443_WHOLE, 1.0)
    ours = decode_acc_frame(ISSUE_443_WHOLE)
    assert np.array_equal(mg, ours.mg)
    assert ts == ours.timestamp_ns + POLAR_EPOCH_UNIX_S * NS_PER_S


@st.composite
def motion(draw: st.DrawFn, lo: int, hi: int) -> np.ndarray:
    """A wandering 3-axis signal inside [lo, hi], as a body moves."""
    n = draw(st.integers(1, 70))
    step = draw(st.sampled_from([1, 5, 60, 900]))
    start = draw(hnp.arrays(np.int64, (1, 3), elements=st.integers(lo, hi)))
    steps = draw(hnp.arrays(np.int64, (n - 1, 3), elements=st.integers(-step, step)))
    return np.clip(np.concatenate([start, start + np.cumsum(steps, axis=0)]), lo, hi)


@FAST
@given(
    st.sampled_from([AccFrameType.RAW_INT8, AccFrameType.RAW_INT16]),
    st.integers(0, 2**62),
    st.data(),
)
def test_raw_frames_agree_with_the_oracle(ft: AccFrameType, ts: int, data: st.DataObject) -> None:
    lim = 127 if ft is AccFrameType.RAW_INT8 else 32767
    vals = data.draw(motion(-lim - 1, lim))
    raw = encode_acc_frame(ts, vals, ft)
    o_ts, o_mg = oracle(raw, 1.0)
    assert np.array_equal(o_mg, vals)
    assert np.array_equal(decode_acc_frame(raw).mg, vals)
    assert o_ts == ts + POLAR_EPOCH_UNIX_S * NS_PER_S


@FAST
@given(
    motion(-32768, 32767),
    st.integers(2, 255),
    st.sampled_from([(AccFrameType.DELTA_MG, 1.0), (AccFrameType.DELTA_G, 1 / 4096)]),
)
def test_delta_frames_agree_with_the_oracle(
    vals: np.ndarray, block: int, kind: tuple[AccFrameType, float]
) -> None:
    ft, factor = kind
    raw = encode_acc_frame(5 * NS_PER_S, vals, ft, block=block)
    _, o_mg = oracle(raw, factor)
    ours = decode_acc_frame(raw, factor=factor).mg
    assert o_mg.shape == ours.shape
    # The oracle truncates to whole milli-g; we keep the fraction.
    assert np.array_equal(o_mg, np.trunc(ours).astype(np.int64))
