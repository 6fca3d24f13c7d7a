"""The motion model reads like a real clip: gravity, noise, gait, breathing, posture angles."""

from __future__ import annotations

import time

import numpy as np
import pytest

from firmware_sim import Recording, Scenario, ScenarioSegment, load_scenario, random_day, simulate
from firmware_sim.motion import MOUNTS
from tests.sim.helpers import angle, dominant_hz, mean_gravity


def test_still_segments_read_one_g(workday: Recording) -> None:
    checked = 0
    for seg in workday.truth:
        if seg.activity != "still" or seg.end - seg.start < 20:
            continue
        mag = np.linalg.norm(workday.acc[workday.mask(seg, margin_s=4.0)], axis=1)
        assert abs(mag.mean() - 1.0) < 0.005, seg
        # Per sample: gravity plus a few mg of noise, breathing and typing.
        assert np.percentile(np.abs(mag - 1.0), 99) < 0.04, seg
        checked += 1
    assert checked > 30


@pytest.mark.parametrize(("noise_mg", "range_g"), [(3.0, 4), (8.0, 2), (1.5, 16)])
def test_noise_rms_as_configured_on_the_desk(noise_mg: float, range_g: int) -> None:
    scen = Scenario("desk", (ScenarioSegment(120.0, "off_body"),))
    rec = simulate(scen, seed=5, noise_mg=noise_mg, range_g=range_g)
    rms = rec.acc.std(axis=0) * 1000.0
    lsb_mg = 1000.0 / (32768.0 / range_g)
    expected = np.hypot(noise_mg, lsb_mg / np.sqrt(12.0))
    np.testing.assert_allclose(rms, expected, rtol=0.05)


def test_off_body_is_gravity_on_one_axis_and_no_breathing(off_body: Recording) -> None:
    seg = next(s for s in off_body.truth if not s.worn)
    assert (seg.posture, seg.activity, seg.sitting) == ("unknown", "still", False)
    a = off_body.acc[off_body.mask(seg, margin_s=4.0)]
    mean = a.mean(axis=0)
    assert abs(abs(mean[2]) - 1.0) < 0.002
    assert np.all(np.abs(mean[:2]) < 0.002)
    # Only sensor noise: 3 mg per axis, no breathing or sway.
    np.testing.assert_allclose(a.std(axis=0) * 1000.0, 3.0, rtol=0.1)


def test_worn_still_sitting_shows_breathing_at_0_2_to_0_3_hz() -> None:
    scen = Scenario("sit", (ScenarioSegment(300.0, "upright"),))
    rec = simulate(scen, seed=8, clip_rotation_deg=0.0, noise_mg=1.0)
    z = rec.acc[:, 2]
    assert 0.2 <= dominant_hz(z, rec.rate_hz, 0.1, 1.0) <= 0.3
    # A few mg: well above the desk's noise, well below movement.
    band = np.fft.rfft(z - z.mean())
    f = np.fft.rfftfreq(len(z), 1.0 / rec.rate_hz)
    band[(f < 0.18) | (f > 0.32)] = 0.0
    breath_mg = np.sqrt(np.mean(np.fft.irfft(band, len(z)) ** 2)) * 1000.0 * np.sqrt(2.0)
    assert 1.5 < breath_mg < 8.0


def test_gait_frequency_and_amplitudes_in_walking_segments(workday: Recording) -> None:
    walks = [s for s in workday.truth if s.activity == "walking" and s.end - s.start >= 60]
    assert len(walks) >= 4
    fs = workday.rate_hz
    for seg in walks:
        a = workday.acc[workday.mask(seg, margin_s=3.0)]
        g = a.mean(axis=0)
        g /= np.linalg.norm(g)
        vertical = a @ g
        assert 1.8 <= dominant_hz(vertical, fs, 0.5, 5.0) <= 2.0, seg
        v_dyn = vertical - vertical.mean()
        assert 0.15 < v_dyn.std() < 0.3, seg  # about 0.2-0.4 g peak
        assert 0.2 < np.percentile(np.abs(v_dyn), 95) < 0.5, seg
        # Antero-posterior (z with the clip straight) at the step frequency, smaller.
        ap = a[:, 2] - a[:, 2].mean()
        assert 0.05 < ap.std() < v_dyn.std(), seg
        assert 1.8 <= dominant_hz(ap, fs, 0.5, 5.0) <= 2.0, seg


def test_typing_and_fidgeting_micro_motion(workday: Recording) -> None:
    def dyn_mg(label_activity: str, scripted: str) -> float:
        vals = []
        for seg, sc in zip(workday.truth, load_scenario("workday").segments, strict=True):
            if (
                sc.posture == "upright"
                and sc.activity == scripted
                and seg.activity == label_activity
            ):
                a = workday.acc[workday.mask(seg, margin_s=4.0)]
                hp = a[5:] - a[:-5]  # sway and breathing drop out over 0.1 s
                vals.append(np.sqrt(np.mean(np.sum(hp**2, axis=1))) * 1000.0)
        return float(np.median(vals))

    still, typing, fidget = (
        dyn_mg("still", "still"),
        dyn_mg("still", "typing"),
        dyn_mg("active", "fidgeting"),
    )
    assert still < typing < fidget
    assert typing < 20.0
    assert fidget > 15.0


def test_forward_angle_as_scripted_and_independent_of_clip_rotation() -> None:
    scen = load_scenario("workday")
    straight = simulate(scen, seed=3, clip_rotation_deg=0.0, rate_hz=25)
    turned = simulate(scen, seed=3, clip_rotation_deg=40.0, rate_hz=25)
    ref = mean_gravity(straight, straight.truth[0])
    ref_t = mean_gravity(turned, turned.truth[0])
    # The rotation is real: the same posture reads differently ...
    assert angle(ref, ref_t) > 10.0
    checked = 0
    for s_seg, t_seg in zip(straight.truth, turned.truth, strict=True):
        if s_seg.posture not in ("forward", "reclined") or s_seg.end - s_seg.start < 60:
            continue
        got = angle(mean_gravity(straight, s_seg), ref)
        assert got == pytest.approx(abs(s_seg.forward_deg), abs=1.5), s_seg
        # ... but angles between postures do not change.
        assert angle(mean_gravity(turned, t_seg), ref_t) == pytest.approx(got, abs=0.3)
        checked += 1
    assert checked >= 8


def test_forward_moves_gravity_from_x_towards_plus_z(workday: Recording) -> None:
    up = mean_gravity(workday, workday.truth[0])
    fwd = mean_gravity(workday, next(s for s in workday.truth if s.label.startswith("reading")))
    back = mean_gravity(workday, next(s for s in workday.truth if s.posture == "reclined"))
    assert up[0] > 0.9
    assert fwd[2] > up[2] + 0.3 > back[2] + 0.3
    assert fwd[0] < up[0]
    right = mean_gravity(workday, next(s for s in workday.truth if s.side_deg > 0))
    assert right[1] > 0.2


@pytest.mark.parametrize("mount", ["collar", "upper_back"])
def test_mount_sets_base_tilt_and_forward_head_amplitude(mount: str) -> None:
    scen = Scenario(
        "m",
        (ScenarioSegment(60.0, "upright"), ScenarioSegment(60.0, "forward", forward_deg=30.0)),
    )
    rec = simulate(scen, seed=1, mount=mount, clip_rotation_deg=0.0)
    up, fwd = mean_gravity(rec, rec.truth[0]), mean_gravity(rec, rec.truth[1])
    m = MOUNTS[mount]
    assert angle(up, [1.0, 0.0, 0.0]) == pytest.approx(m.base_pitch_deg, abs=1.0)
    assert rec.truth[1].forward_deg == pytest.approx(30.0 * m.forward_gain)
    assert angle(up, fwd) == pytest.approx(30.0 * m.forward_gain, abs=1.0)


def test_upper_back_sees_less_forward_head_than_the_collar() -> None:
    scen = load_scenario("demo")
    collar = simulate(scen, seed=2, mount="collar")
    back = simulate(scen, seed=2, mount="upper_back")
    i = next(i for i, s in enumerate(collar.truth) if s.label.startswith("forward-head"))
    a_collar = angle(mean_gravity(collar, collar.truth[i]), mean_gravity(collar, collar.truth[0]))
    a_back = angle(mean_gravity(back, back.truth[i]), mean_gravity(back, back.truth[0]))
    assert 20.0 <= a_collar <= 35.0
    assert 0.4 < a_back / a_collar < 0.8


def test_sit_to_stand_has_a_vertical_pulse_and_trunk_flexion(workday: Recording) -> None:
    kinds = {"sit_to_stand": 0, "stand_to_sit": 0}
    fs = workday.rate_hz
    for ev in workday.events:
        if ev.kind not in kinds:
            continue
        i = int(ev.t * fs)
        before = workday.acc[i - 5 * fs : i - fs].mean(axis=0)
        window = workday.acc[i : i + 3 * fs]
        mag = np.linalg.norm(window, axis=1)
        tilt = np.array([angle(a, before) for a in window[::5]])
        assert mag.max() - 1.0 > 0.1, ev  # the body is lifted or lowered
        assert mag.min() - 1.0 < -0.05, ev
        assert tilt.max() > 20.0, ev  # trunk flexion of the movement
        # Then the trunk settles at the new posture's scripted angle.
        after = workday.acc[i + 4 * fs : i + 6 * fs].mean(axis=0)
        prev, cur = workday.truth_at(ev.t - 1), workday.truth_at(ev.t)
        change = cur.forward_deg - prev.forward_deg
        # Moving about tilts the trunk by ~2 deg RMS, which a 4 s mean does not average out.
        tol = 3.5 if "active" in (prev.activity, cur.activity) else 2.5
        assert angle(after, before) == pytest.approx(abs(change), abs=tol), ev
        kinds[ev.kind] += 1
    assert kinds["sit_to_stand"] >= 8
    assert kinds["stand_to_sit"] >= 7


def test_quantised_to_int16_counts_at_the_scale() -> None:
    scen = load_scenario("transitions")
    for range_g in (2, 16):
        rec = simulate(scen, seed=1, range_g=range_g)
        assert rec.counts.dtype == np.int16
        np.testing.assert_array_equal(rec.acc, rec.counts / (32768.0 / range_g))
        steps = np.unique(np.abs(np.diff(rec.counts[:2000, 0].astype(np.int64))))
        assert steps[steps > 0].min() == 1  # single counts occur: nothing coarser than 1 LSB


def test_clip_rotation_turns_about_the_skin_normal() -> None:
    scen = Scenario("s", (ScenarioSegment(60.0, "upright"),))
    a = mean_gravity(r0 := simulate(scen, seed=1, clip_rotation_deg=0.0), r0.truth[0])
    b = mean_gravity(r1 := simulate(scen, seed=1, clip_rotation_deg=30.0), r1.truth[0])
    assert b[2] == pytest.approx(a[2], abs=0.002)  # z is the rotation axis
    assert angle(a[:2], b[:2]) == pytest.approx(30.0, abs=1.0)
    assert r1.meta["clip_rotation_deg"] == 30.0
    assert r1.meta["rotation_axis"].startswith("z")


def test_default_clip_rotation_is_random_within_45_deg() -> None:
    scen = Scenario("s", (ScenarioSegment(1.0, "upright"),))
    rots = [simulate(scen, seed=s).meta["clip_rotation_deg"] for s in range(30)]
    assert all(0.0 <= r <= 45.0 for r in rots)
    assert max(rots) - min(rots) > 20.0


def test_remount_changes_the_clip_rotation(off_body: Recording) -> None:
    (remount,) = off_body.meta["remounts"]
    assert remount["clip_rotation_deg"] == pytest.approx(25.0)
    first, later = off_body.truth[0], off_body.truth[6]
    assert (first.posture, later.posture) == ("upright", "upright")
    g0, g1 = mean_gravity(off_body, first), mean_gravity(off_body, later)
    assert angle(g0[:2], g1[:2]) == pytest.approx(25.0, abs=2.0)


def test_same_seed_same_recording_other_seed_differs() -> None:
    scen = load_scenario("transitions")
    a = simulate(scen, seed=11)
    b = simulate(scen, seed=11)
    c = simulate(scen, seed=12)
    np.testing.assert_array_equal(a.counts, b.counts)
    assert a.meta == b.meta
    assert a.truth == b.truth
    assert a.events == b.events
    assert a.counts.shape == c.counts.shape
    assert np.mean(a.counts != c.counts) > 0.9


@pytest.mark.parametrize("rate", [25, 50, 100])
def test_rates_and_sample_times(rate: int) -> None:
    rec = simulate(load_scenario("transitions"), seed=1, rate_hz=rate)
    assert len(rec.t) == round(load_scenario("transitions").duration_s * rate)
    np.testing.assert_allclose(np.diff(rec.t), 1.0 / rate)
    assert rec.t[0] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate_hz": 60}, "rate must be one of"),
        ({"range_g": 3}, "range must be one of"),
        ({"mount": "wrist"}, "mount must be one of"),
        ({"noise_mg": -1.0}, "noise must be"),
        ({"seed": -1}, "seed must be"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        simulate(load_scenario("transitions"), **kwargs)  # type: ignore[arg-type]


def test_an_eight_hour_day_simulates_in_seconds() -> None:
    scen = random_day(1)
    start = time.process_time()
    rec = simulate(scen, seed=1, rate_hz=50)
    cpu = time.process_time() - start
    assert len(rec.t) == 8 * 3600 * 50
    # About 1 s on a quiet machine; the bound leaves room for a busy one.
    assert cpu < 5.0
