"""The detection core: sample chunks in, events out (sans-I/O).

Two stages. :mod:`postured.core.epochs` reduces samples to one-second epochs; this module
labels the epochs with vectorised numpy (activity, worn, posture, with hysteresis and
minimum durations carried across chunks) and then runs a small state machine over the
points where a label changes or a timer expires, so the Python loop runs per change, not
per sample or per second. docs/detection.md describes the rules and their defaults.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, tzinfo

import numpy as np
import numpy.typing as npt

from postured.core import epochs as ep_mod
from postured.core import orientation as orient_mod
from postured.core.calibration import Calibration, perpendicular, unit
from postured.core.clock import QuietHours, local_day, next_midnight
from postured.core.config import AlertConfig, DetectionConfig
from postured.core.epochs import EPOCH_S, EpochAccumulator, Epochs
from postured.core.events import (
    Activity,
    ActivityChanged,
    Alert,
    AlertKind,
    BreakTaken,
    Calibrated,
    CalibrationRejected,
    DailyStats,
    DayRolledOver,
    Event,
    ForwardAxisLearned,
    Paused,
    Posture,
    PostureChanged,
    RemountSuspected,
    Resumed,
    SamplesDropped,
    SensorState,
    SittingEnded,
    SittingStarted,
    Snoozed,
    StretchDone,
    Transition,
    WornChanged,
)
from postured.core.labels import RunningWindow, debounce, ffill, run_lengths
from postured.core.messages import alert_message
from postured.core.plan import DayPlan, StretchPlanner
from postured.core.stats import StatsAccumulator

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

G = 9.80665  # m/s^2 per g
POSTURES = (
    Posture.UNKNOWN,
    Posture.UPRIGHT,
    Posture.FORWARD,
    Posture.RECLINED,
    Posture.SIDE_LEAN,
    Posture.LYING,
)
UNKNOWN, UPRIGHT, FORWARD, RECLINED, SIDE, LYING = range(6)
ACTIVITIES = (Activity.STILL, Activity.ACTIVE, Activity.WALKING)
STILL, ACTIVE, WALKING = range(3)
ACTIVITY_MIN_EPOCHS = 3  # a new activity must last 3 s: one busy second is not a walk
LEAN_LEARN_EPOCHS = 10  # a forward tilt held 10 s teaches the forward axis
LEAN_CONE_COS = 0.5  # ... if within 60 deg of the axis assumed so far
STEADY_VAR = math.sin(math.radians(3.0)) ** 2  # auto-calibration: epochs within ~3 deg
SHORT_RUN = 6  # epochs: a movement this short between two still spells is one gesture
HIST = 12  # epochs kept for transition integration windows
FLEXION_DEG = 12.0  # trunk flexion seen at the end of a walk that means sitting down
REMOUNT_BURST_G = 0.1
REMOUNT_MIN_DEG = 8.0  # a new neutral this far from the old one after a put-on: remounted
CMD_TIMEOUT_S = 15.0  # a commanded calibration with no samples for this long is rejected
INF = math.inf


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass(slots=True)
class _Run:
    """The current movement spell (consecutive non-still epochs)."""

    start_k: int
    before_mean: F64 | None  # mean reading of the still epoch before it
    before_norm: float
    peak: float = 0.0
    walked: bool = False


@dataclass(slots=True)
class _Block:
    """Labels of the epochs of one chunk (index 0 = first new epoch)."""

    ep: Epochs
    act: I64
    worn: B
    still: B
    gap_before: B
    autocal: B
    autocal_mean: F64
    candidates: dict[int, list[tuple[str, float, float]]]
    autocal_at: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    spell_start: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    post: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    tilt: F64 = field(default_factory=lambda: np.zeros(0))
    fwd: F64 = field(default_factory=lambda: np.zeros(0))
    side: F64 = field(default_factory=lambda: np.zeros(0))
    lean_at: int = -1
    lean_dir: F64 | None = None
    # Per-epoch carries, so labelling can restart mid-chunk after a calibration change.
    raw: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    raw_run: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    fstate: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    lean_run: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    change: B = field(default_factory=lambda: np.zeros(0, bool))


class Detector:
    """One sensor's detection and alert policy. Not thread-safe."""

    def __init__(  # noqa: PLR0915 - the state is listed in one place on purpose
        self,
        sensor_id: str,
        detection: DetectionConfig,
        alerts: AlertConfig,
        *,
        calibration: Calibration | None = None,
        stats: DailyStats | None = None,
        tz: tzinfo = UTC,
        new_id: Callable[[], str] = _new_id,
        mount: str = "collar",
    ) -> None:
        self.sensor_id = sensor_id
        # --- orientation hook: the mount and the forward-axis evidence (core/orientation.py)
        spec = orient_mod.mount_spec(
            mount,
            upper_back_scale=detection.upper_back_scale,
            collar_front_scale=detection.collar_front_scale,
            chest_scale=detection.chest_scale,
        )
        if spec.forward_scale != 1.0:
            # A mount that sees only part of the collar's forward-head tilt.
            k = spec.forward_scale
            detection = replace(
                detection,
                forward_enter_deg=detection.forward_enter_deg * k,
                forward_exit_deg=detection.forward_exit_deg * k,
            )
        self._orient = (
            orient_mod.Orientation.restored(spec, calibration.forward_source)
            if calibration is not None
            else orient_mod.Orientation(spec)
        )
        self._guided: orient_mod.GuidedLean | None = None
        self._fwd_onset: float | None = None  # onset of a forward lean found as the axis is learnt
        # --- end of orientation hook
        self.cfg = detection
        self.acfg = alerts
        self.tz = tz
        self._new_id = new_id
        self._quiet = QuietHours(alerts.quiet_hours, tz)
        self._planner = StretchPlanner(alerts.equipment, alerts.end_of_day, tz)
        self._cal = calibration
        self._needs_cal = calibration is None
        self._autocal_after = -INF
        self._stats = StatsAccumulator.restore(stats) if stats else None
        self._next_midnight = INF
        self._accum = EpochAccumulator()
        self._hist = ep_mod.empty()
        self._worn_window = RunningWindow(8, max(int(detection.worn_window_s / EPOCH_S), 1))
        self._cal_window = RunningWindow(8, max(int(detection.auto_calibration_s / EPOCH_S), 1))
        # Carries of the vectorised labels.
        self._still_run = (-1, 0)  # (still as int, run length) at the end of the last chunk
        self._act_carry = (-1, 0, STILL)
        self._worn_carry = 0
        self._fwd_carry = 0
        self._post_last_raw = UNKNOWN
        self._post_carry = (-1, 0, UNKNOWN)
        self._lean_run = 0
        self._angles_carry = (math.nan, math.nan, math.nan)
        self._last_te = -INF
        self._prev_key = -1
        self._run: _Run | None = None
        self._spell_start = np.zeros(0, np.int64)
        # State machine.
        self.posture = Posture.UNKNOWN
        self.activity = Activity.STILL
        self.worn = False
        self._was_off = False  # seen off the body (not just unknown at start)
        self.sitting = False
        self._sit_known = False  # False until a transition, a walk or a steady spell
        self.bout_start: float | None = None
        self._bout_reported_over = -INF  # when the last sitting_end went out
        self.bout_excluded = 0.0
        self._bout_alerts = 0
        self._last_sit_alert = -INF
        self._nonsit_since: float | None = None
        self._stand_still_since: float | None = None
        self._notworn_since: float | None = None
        self._fwd_since: float | None = None
        self._fwd_episode_alert: float | None = None
        self._last_fwd_alert = -INF
        self._fwd_alerts_ignored = 0
        self._sit_hold = -INF
        self._fwd_hold = -INF
        self._angle: tuple[float, float, float] = (math.nan, math.nan, math.nan)
        self._paused = False
        self._snoozed_until = -INF
        self._cmd_start: float | None = None
        self._cmd_means: list[F64] = []
        self._last_t = -INF
        # The latest time the caller said it is (ticks, state): names the day of the
        # statistics before the first sample, instead of 1970-01-01.
        self._told_t = -INF
        self._in_gap = False

    # ------------------------------------------------------------------ public API

    @property
    def calibration(self) -> Calibration | None:
        return self._cal

    @property
    def stats(self) -> DailyStats:
        if self._stats is None:
            t = max(self._last_t, self._told_t)
            return StatsAccumulator(local_day(t if math.isfinite(t) else 0.0, self.tz)).snapshot()
        return self._stats.snapshot()

    def feed(self, t: npt.ArrayLike, acc: npt.ArrayLike) -> list[Event]:
        """Process a chunk: ``t`` (N,) seconds, ``acc`` (N, 3) in g. Any chunking, same events."""
        ta = np.asarray(t, dtype=np.float64).reshape(-1)
        aa = np.asarray(acc, dtype=np.float64)
        if aa.ndim != 2 or aa.shape[1] != 3 or aa.shape[0] != ta.shape[0]:
            raise ValueError(f"feed needs t (N,) and acc (N, 3); got {ta.shape} and {aa.shape}")
        out: list[Event] = []
        if not len(ta):
            return out
        ta, aa = self._usable(ta, aa, out)
        if not len(ta):
            return out
        self._last_t = float(ta[-1])
        self._in_gap = False
        if self._stats is None:
            self._stats = StatsAccumulator(local_day(float(ta[0]), self.tz))
        if not math.isfinite(self._next_midnight):
            self._next_midnight = next_midnight(float(ta[0]), self.tz)
            if self._stats.day != local_day(float(ta[0]), self.tz):
                out.extend(self._rollover(float(ta[0])))
        new = self._accum.push(ta, aa)
        if len(new):
            out.extend(self._process(new))
        return out

    def _usable(self, ta: F64, aa: F64, out: list[Event]) -> tuple[F64, F64]:
        """Drop rows with NaN or infinity and samples not later than all before them."""
        if not (np.isfinite(ta).all() and np.isfinite(aa).all()):
            # A NaN or infinity anywhere in a row makes the row's sum non-finite.
            ok = np.isfinite(ta + aa[:, 0] + aa[:, 1] + aa[:, 2])
            out.append(
                SamplesDropped(t=self._event_t(ta), count=int((~ok).sum()), reason="not a number")
            )
            ta, aa = ta[ok], aa[ok]
        if not len(ta) or (ta[0] > self._accum.last_t and bool((ta[1:] > ta[:-1]).all())):
            return ta, aa
        running = np.maximum.accumulate(np.r_[self._accum.last_t, ta])
        ordered = ta > running[:-1]
        if not ordered.all():
            bad = int((~ordered).sum())
            out.append(
                SamplesDropped(t=float(running[-1]), count=bad, reason="time went backwards")
            )
            ta, aa = ta[ordered], aa[ordered]
        return ta, aa

    def gap(self, t_start: float, t_end: float) -> list[Event]:
        """Samples between the two times were lost. Epoch times show the hole; this only
        marks the state until samples flow again."""
        self._in_gap = t_end > self._last_t
        return []

    def tick(self, t: float) -> list[Event]:
        """Time passes without samples: gap state, midnight, calibration timeout."""
        self._told_t = max(self._told_t, t)
        out: list[Event] = []
        if t - self._last_t > self.cfg.gap_s:
            self._in_gap = True
        while self._stats is not None and t >= self._next_midnight:
            out.extend(self._rollover(self._next_midnight))
        if (  # orientation hook: the guided lean times out like the neutral
            self._guided is not None
            and t - self._guided.started > CMD_TIMEOUT_S + orient_mod.GUIDED_TIMEOUT_S
        ):
            self._guided = None
            out.append(CalibrationRejected(t=t, reason="no samples arrived from the sensor; "
                                           "check that it is on and try again"))  # fmt: skip
        if (
            self._cmd_start is not None
            and t - self._cmd_start > CMD_TIMEOUT_S + self.cfg.calibration_hold_s
        ):
            self._cmd_start = None
            out.append(
                CalibrationRejected(
                    t=t,
                    reason="no samples arrived from the sensor; check that it is on and try again",
                )
            )
        return out

    def calibrate(self, t: float) -> list[Event]:
        """Start a commanded calibration: the next few seconds must be still."""
        self._cmd_start = t
        self._cmd_means = []
        return []

    def calibrate_forward(self, t: float) -> list[Event]:
        """Start the second calibration step: "lean forward slowly and hold" (orientation hook)."""
        if self._cal is None or self._needs_cal:
            return [
                CalibrationRejected(
                    t=t, reason="calibrate first: sit tall and hold still, then lean forward"
                )
            ]
        self._guided = orient_mod.GuidedLean(t)
        return []

    def snooze(self, t: float, minutes: float) -> list[Event]:
        self._snoozed_until = t + minutes * 60.0
        if self._stats is None:
            self._stats = StatsAccumulator(local_day(t, self.tz))
        self._stats.snoozes += 1
        return [Snoozed(t=t, until=self._snoozed_until)]

    def done(
        self, t: float, *, alert_id: str | None = None, stretch_id: str | None = None
    ) -> list[Event]:
        """A stretch was done: the newest alert's, ``alert_id``'s or ``stretch_id``.

        It is left out of the day's later suggestions. ValueError says what is wrong.
        """
        if self._stats is None:
            self._stats = StatsAccumulator(local_day(t, self.tz))
        d = self._stats.plan.mark_done(alert_id=alert_id, stretch_id=stretch_id)
        if not d.new:
            return []
        return [StretchDone(t=t, stretch=d.stretch, alert_id=d.alert_id)]

    @property
    def plan(self) -> DayPlan:
        """Today's stretch plan (a copy)."""
        return self._stats.plan.copy() if self._stats is not None else DayPlan()

    def pause(self, t: float) -> list[Event]:
        self._paused = True
        return [Paused(t=t)]

    def resume(self, t: float) -> list[Event]:
        self._paused = False
        self._snoozed_until = -INF
        self._sit_hold = self._fwd_hold = -INF
        return [Resumed(t=t)]

    def state(self, t: float) -> SensorState:
        self._told_t = max(self._told_t, t)
        tilt, fwd, side = self._angle
        calibrated = self._cal is not None and not self._needs_cal
        return SensorState(
            t=t,
            posture=self.posture,
            angle_deg=_num(tilt) if calibrated else None,
            forward_deg=_num(fwd) if calibrated else None,
            side_deg=_num(side) if calibrated else None,
            activity=self.activity,
            worn=self.worn,
            calibrated=calibrated,
            sitting=self.sitting,
            sitting_since=self.bout_start,
            sitting_minutes=round(self._sitting_clock(t) / 60.0, 2),
            slouching=self._fwd_since is not None,
            paused=self._paused,
            snoozed_until=self._snoozed_until if self._snoozed_until > t else None,
            in_gap=self._in_gap or t - self._last_t > self.cfg.gap_s,
            forward_axis=self._orient.source,
            forward_confidence=round(self._orient.confidence, 2) if calibrated else 0.0,
            calibration_hint=self._orient.hint if calibrated else None,
        )

    # ------------------------------------------------------------------ labelling

    def _event_t(self, ta: F64) -> float:
        finite = ta[np.isfinite(ta)]
        return float(finite.max()) if len(finite) else max(self._last_t, 0.0)

    def _process(self, new: Epochs) -> list[Event]:
        block = self._label(new)
        out: list[Event] = []
        self._relabel(block, 0, fresh=False)
        i, n = 0, len(new)
        while i < n:
            self._at_epoch(block, i, out)
            # After the epoch's own changes: a calibration there relabels what follows.
            j = self._next_change(block, i)
            self._span(block, i, j, out)
            i = j
        self._set_angle(block, n - 1)
        keep = HIST
        allp = Epochs.concat([self._hist, new])
        self._hist = allp.slice(max(0, len(allp) - keep))
        self._last_te = float(new.t_end[-1])
        return out

    def _label(self, new: Epochs) -> _Block:
        cfg = self.cfg
        h = len(self._hist)
        allp = Epochs.concat([self._hist, new])
        rms = np.sqrt(allp.res_var)
        still_all = rms < cfg.still_mg / 1000.0
        still = still_all[h:]
        walk = (rms[h:] >= cfg.walk_mg / 1000.0) & (new.crossings >= 2.0) & (new.crossings <= 8.0)
        act_raw = np.where(still, STILL, np.where(walk, WALKING, ACTIVE)).astype(np.int64)
        act, self._act_carry = debounce(act_raw, ACTIVITY_MIN_EPOCHS, self._act_carry)

        # Worn: a body breathes and shifts, so the one-second means wander more than
        # sensor noise explains; a sensor on a desk does not.
        m = new.mean
        sums, cnt = self._worn_window.push(
            np.column_stack([m, m * m, new.res_var / np.maximum(new.n, 1.0), ~still])
        )
        c = cnt[:, None]
        slow = (sums[:, 3:6] / c - (sums[:, 0:3] / c) ** 2).sum(axis=1)
        noise = sums[:, 6] / cnt
        moving = sums[:, 7] > 0.5
        ratio = slow / np.maximum(noise, 1e-12)
        on = moving | (ratio >= cfg.worn_ratio)
        off = ~moving & (ratio < cfg.worn_ratio) & (cnt >= self._worn_window.window)
        ev = np.where(on, 1, np.where(off, 0, -1)).astype(np.int64)
        worn_i = ffill(ev, self._worn_carry)
        if len(worn_i):
            self._worn_carry = int(worn_i[-1])
        worn = worn_i.astype(bool)

        # Auto-calibration: a steady, still, worn spell with |a| near 1 g.
        u = unit(m)
        norm = np.linalg.norm(m, axis=1)
        good = still & worn & (np.abs(norm - 1.0) < 0.1)
        unit_noise = new.res_var / np.maximum(new.n, 1.0) / np.maximum(norm, 0.5) ** 2
        sums, cnt_c = self._cal_window.push(np.column_stack([u, u * u, good, unit_noise]))
        c = cnt_c[:, None]
        autocal_mean = sums[:, 0:3] / c
        spread = (sums[:, 3:6] / c - autocal_mean**2).sum(axis=1)
        # Steady, but not dead still: the spell itself must show a body's micro-motion,
        # so a clip put down on the desk (worn still lags a minute) is never taken.
        alive = spread >= cfg.worn_ratio * sums[:, 7] / cnt_c
        autocal = (sums[:, 6] >= self._cal_window.window - 0.5) & (spread < STEADY_VAR) & alive

        k_all = allp.k
        gap_before = np.zeros(len(new), bool)
        if len(new):
            prev_k = np.r_[k_all[h - 1] if h else new.k[0] - 1, new.k[:-1]]
            gap_before = (new.k - prev_k) * EPOCH_S > cfg.gap_s
        # Spells of movement (stand-ups, handling) use a lower bar than posture scoring:
        # a chair transition is smooth, and fidgeting must not hide the still seconds.
        cands = self._candidates(allp, h, rms < cfg.movement_mg / 1000.0, rms, act_raw)
        return _Block(
            ep=new,
            act=act,
            worn=worn,
            still=still,
            gap_before=gap_before,
            autocal=autocal,
            autocal_mean=autocal_mean,
            autocal_at=np.flatnonzero(autocal),
            spell_start=self._spell_start,
            candidates=cands,
        )

    def _candidates(
        self, allp: Epochs, h: int, still_all: B, rms: F64, act_raw: I64
    ) -> dict[int, list[tuple[str, float, float]]]:
        """Stand-ups, sit-downs and remounts, found at the edges of movement spells.

        The sensor's vertical travel comes from integrating |a| - 1 g twice over the spell
        (|a| does not depend on orientation, and a sit-to-stand is mostly vertical).
        """
        out: dict[int, list[tuple[str, float, float]]] = {}
        n_new = len(allp) - h
        still_new = still_all[h:].astype(np.int64)
        prev_still, prev_len = self._still_run
        runs = run_lengths(still_new, prev_still, prev_len)
        # Where each moving second's spell began (epoch index), for walks that follow a
        # stand-up the spell edges did not show.
        self._spell_start = np.where(still_new == 0, allp.k[h:] - runs + 1, -1)
        # Moving without a pause for as long as a break takes: one is up, whatever the
        # start looked like (a seated fidget comes in bursts).
        long_moves = (still_new == 0) & (runs == int(self.cfg.break_min_s / EPOCH_S))
        for at in np.flatnonzero(long_moves).tolist():
            out.setdefault(at, []).append(("moving", 0.0, 0.0))
        if n_new:
            self._still_run = (int(still_new[-1]), int(runs[-1]))
        starts = np.flatnonzero((still_new == 0) & (runs == 1))
        long_mark = np.flatnonzero((still_new == 0) & (runs == SHORT_RUN + 1))
        # A spell is over once two still epochs follow it: the second is surely at rest.
        ends = np.flatnonzero((still_new == 1) & (runs == 2))
        points = sorted(set(starts.tolist()) | set(long_mark.tolist()) | set(ends.tolist()))
        norm_mean = allp.norm_sum / np.maximum(allp.n, 1.0)
        consecutive = np.r_[False, np.diff(allp.k) == 1]
        for b in points:
            g = h + b
            if b in starts:
                if self._run is None:  # else one still second inside a spell: it goes on
                    before = g - 1 if g > 0 and still_all[g - 1] and consecutive[g] else -1
                    self._run = _Run(
                        int(allp.k[g]),
                        allp.mean[before].copy() if before >= 0 else None,
                        float(norm_mean[before]) if before >= 0 else math.nan,
                    )
                continue
            run = self._run
            if run is None:
                continue
            first = g - (int(allp.k[g]) - run.start_k)  # the spell's first epoch
            if b in long_mark:
                self._stand_up_into_spell(
                    allp, run=run, first=first, g=g, b=b, consecutive=consecutive, out=out
                )
                continue
            # The spell ended at g - 2; g - 1 and g are still.
            self._run = None
            lo = max(first, 0)
            run.peak = max(run.peak, float(rms[lo : g - 1].max(initial=0.0)))
            run.walked = run.walked or bool((act_raw[max(lo - h, 0) : b - 1] == WALKING).any())
            length = int(allp.k[g - 2]) - run.start_k + 1
            kind, rise = self._spell_end(
                allp,
                run=run,
                first=first,
                g=g,
                length=length,
                norm_mean=norm_mean,
                consecutive=consecutive,
            )
            if kind:
                moved = (
                    _max_angle(allp.mean[g : g + 1], run.before_mean)
                    if run.before_mean is not None
                    else 0.0
                )
                out.setdefault(b, []).append((kind, rise, moved))
            elif run.before_mean is not None and not run.walked and run.peak >= REMOUNT_BURST_G:
                angle = _max_angle(allp.mean[g : g + 1], run.before_mean)
                # Beyond lying_deg the clip was more likely taken off than turned.
                if self.cfg.remount_deg <= angle < self.cfg.lying_deg:
                    out.setdefault(b, []).append(("remount", angle, 0.0))
        if self._run is not None and n_new:
            first = len(allp) - 1 - int(allp.k[-1] - self._run.start_k)
            lo = max(first, h)
            self._run.peak = max(self._run.peak, float(rms[lo:].max(initial=0.0)))
            self._run.walked = self._run.walked or bool((act_raw[lo - h :] == WALKING).any())
        return out

    def _stand_up_into_spell(
        self,
        allp: Epochs,
        *,
        run: _Run,
        first: int,
        g: int,
        b: int,
        consecutive: B,
        out: dict[int, list[tuple[str, float, float]]],
    ) -> None:
        """The spell has lasted SHORT_RUN + 1 epochs: did it begin with a stand-up?"""
        if run.before_mean is None or first < 1 or not bool(consecutive[first : g + 1].all()):
            return
        rise = _rise(allp, first - 1, first + 3, run.before_norm, zupt=False)
        bent = _max_angle(allp.mean[first : first + 4], run.before_mean) >= FLEXION_DEG
        if bent and rise >= self.cfg.transition_m:
            moved = _max_angle(allp.mean[g : g + 1], run.before_mean)
            out.setdefault(b, []).append(("stand_up", rise, moved))

    def _spell_end(
        self,
        allp: Epochs,
        *,
        run: _Run,
        first: int,
        g: int,
        length: int,
        norm_mean: F64,
        consecutive: B,
    ) -> tuple[str, float]:
        """Classify a finished spell: ("stand_up" | "sit_down" | "", vertical travel)."""
        thr = self.cfg.transition_m
        if (
            length <= SHORT_RUN
            and run.before_mean is not None
            and first >= 1
            and bool(consecutive[first : g + 1].all())
        ):
            # A short movement between two still spells: both ends at rest, drift removed.
            base = 0.5 * (run.before_norm + float(norm_mean[g]))
            rise = _rise(allp, first - 1, g, base, zupt=True)
            # Rising from a chair or sitting down bends the trunk forward on the way; a
            # shift in the seat moves the sensor without that.
            if _max_angle(allp.mean[first : g - 1], run.before_mean) < FLEXION_DEG:
                return "", rise
            return ("stand_up" if rise >= thr else "sit_down" if rise <= -thr else ""), rise
        if length > SHORT_RUN and g >= 5 and bool(consecutive[g - 4 : g + 1].all()):
            # The end of a longer spell (a walk): sitting down bends the trunk forward
            # for a second or two; walking to a halt does not.
            bump = _max_angle(allp.mean[g - 5 : g - 1], allp.mean[g])
            rise = _rise_back(allp, g - 3, g, float(norm_mean[g]))
            if bump >= FLEXION_DEG and rise <= -0.5 * thr:
                return "sit_down", rise
        return "", 0.0

    def _relabel(  # noqa: PLR0915 - the posture labels are one vectorised pipeline
        self, block: _Block, i0: int, *, fresh: bool
    ) -> None:
        """Posture labels of epochs ``i0:`` against the current calibration."""
        cfg = self.cfg
        n = len(block.ep)
        if i0 == 0:
            block.post = np.zeros(n, np.int64)
            block.tilt = np.full(n, np.nan)
            block.fwd = np.full(n, np.nan)
            block.side = np.full(n, np.nan)
            block.raw = np.zeros(n, np.int64)
            block.raw_run = np.zeros(n, np.int64)
            block.fstate = np.zeros(n, np.int64)
            block.lean_run = np.zeros(n, np.int64)
        elif not fresh:
            j = i0 - 1
            self._fwd_carry = int(block.fstate[j])
            self._post_last_raw = int(block.raw[j])
            self._post_carry = (int(block.raw[j]), int(block.raw_run[j]), int(block.post[j]))
            self._lean_run = int(block.lean_run[j])
            self._angles_carry = (float(block.tilt[j]), float(block.fwd[j]), float(block.side[j]))
        if fresh:
            self._fwd_carry = 0
            self._post_last_raw = UNKNOWN
            self._post_carry = (-1, 0, UNKNOWN)
            self._lean_run = 0
            self._angles_carry = (math.nan, math.nan, math.nan)
        block.lean_at = -1
        still = block.still[i0:]
        cal = self._cal
        if i0 >= n:
            pass
        elif cal is None or self._needs_cal:
            block.post[i0:] = UNKNOWN
            block.tilt[i0:] = block.fwd[i0:] = block.side[i0:] = np.nan
            self._post_carry = (UNKNOWN, 0, UNKNOWN)
        else:
            tilt, fwd, side = cal.angles(block.ep.mean[i0:])
            hyst = np.where(
                fwd >= cfg.forward_enter_deg, 1, np.where(fwd < cfg.forward_exit_deg, 0, -1)
            )
            fstate = ffill(np.where(still, hyst, -1).astype(np.int64), self._fwd_carry)
            raw = np.select(
                [
                    tilt >= cfg.lying_deg,
                    fstate == 1,
                    fwd <= -cfg.recline_deg,
                    np.abs(side) >= cfg.side_deg,
                ],
                [LYING, FORWARD, RECLINED, SIDE],
                UPRIGHT,
            )
            raw = ffill(np.where(still, raw, -1).astype(np.int64), self._post_last_raw)
            block.raw_run[i0:] = run_lengths(raw, self._post_carry[0], self._post_carry[1])
            post, self._post_carry = debounce(
                raw, int(cfg.posture_min_s / EPOCH_S), self._post_carry
            )
            self._fwd_carry = int(fstate[-1])
            self._post_last_raw = int(raw[-1])
            block.post[i0:] = post
            block.raw[i0:] = raw
            block.fstate[i0:] = fstate
            # Angles of non-still epochs are those of the last still one.
            for arr, val, c in ((block.tilt, tilt, 0), (block.fwd, fwd, 1), (block.side, side, 2)):
                idx = np.where(still, np.arange(len(val)), -1)
                np.maximum.accumulate(idx, out=idx)
                arr[i0:] = np.where(idx >= 0, val[np.maximum(idx, 0)], self._angles_carry[c])
            self._angles_carry = (
                float(block.tilt[-1]),
                float(block.fwd[-1]),
                float(block.side[-1]),
            )
            if cal.forward_source == "assumed":
                g = np.asarray(cal.gravity)
                f = np.asarray(cal.forward)
                u = unit(block.ep.mean[i0:])
                p = u - (u @ g)[:, None] * g
                pn = np.linalg.norm(p, axis=1)
                cos_dir = (p @ f) / np.maximum(pn, 1e-9)
                cond = (
                    still
                    & block.worn[i0:]
                    & (tilt >= cfg.forward_enter_deg)
                    & (self._orient.lean_cos(cos_dir) >= LEAN_CONE_COS)  # orientation hook
                )
                runs = run_lengths(cond.astype(np.int64), 1, self._lean_run)
                runs = np.where(cond, runs, 0)
                block.lean_run[i0:] = runs
                hit = np.flatnonzero(runs >= LEAN_LEARN_EPOCHS)
                self._lean_run = int(runs[-1])
                if len(hit):
                    at = int(hit[0])
                    block.lean_at = i0 + at
                    block.lean_dir = p[at]  # the tilt direction once the lean has held
        key = block.act * 100 + block.worn.astype(np.int64) * 10 + block.post
        change = np.zeros(n, dtype=bool)
        if n:
            change[0] = key[0] != self._prev_key
            change[1:] = key[1:] != key[:-1]
        change |= block.gap_before
        for at in block.candidates:
            change[at] = True
        if block.lean_at >= 0:
            change[block.lean_at] = True
        change[:i0] = False
        block.change = change

    def _next_change(self, block: _Block, i: int) -> int:
        if self._cmd_start is not None or self._guided is not None:
            return i + 1
        n = len(block.ep)
        rest = np.flatnonzero(block.change[i + 1 :])
        nxt = i + 1 + int(rest[0]) if len(rest) else n
        if self._cal is None or self._needs_cal or not self._sit_known:
            # A steady spell may calibrate, or tell that one sits: stop there too.
            steady = block.autocal_at[np.searchsorted(block.autocal_at, i + 1) :]
            if len(steady):
                nxt = min(nxt, int(steady[0]))
        return nxt

    # ------------------------------------------------------------------ state machine

    def _at_epoch(  # noqa: PLR0912, PLR0915 - each label change is one short branch
        self, block: _Block, i: int, out: list[Event]
    ) -> None:
        """Apply the labels of epoch ``i`` (a change point)."""
        ep = block.ep
        t = float(ep.t_end[i])
        act, worn, post = int(block.act[i]), bool(block.worn[i]), int(block.post[i])
        self._prev_key = act * 100 + int(worn) * 10 + post
        self._set_angle(block, i)
        if block.gap_before[i]:
            prev = self._last_te if i == 0 else float(ep.t_end[i - 1])
            lost = t - EPOCH_S - prev
            if self.bout_start is not None:
                self.bout_excluded += max(lost, 0.0)
            # No evidence across the hole: forward and standing clocks start again.
            self._fwd_since = None
            self._fwd_episode_alert = None
            self._stand_still_since = None
        if worn != self.worn:
            self.worn = worn
            out.append(WornChanged(t=t, worn=worn))
            if not worn:
                self._was_off = True
                self._notworn_since = t - (self.cfg.worn_window_s if act == STILL else 0.0)
            else:
                if self.bout_start is not None and self._notworn_since is not None:
                    self.bout_excluded += t - self._notworn_since
                self._notworn_since = None
                if self._cal is not None and self._was_off:
                    # Put back on: the clip may sit differently now. The next steady
                    # spell recalibrates; a changed neutral is reported as a remount.
                    self._needs_cal = True
                    self._autocal_after = t
                    self._relabel(block, i + 1, fresh=True)
        if ACTIVITIES[act] != self.activity:
            out.append(ActivityChanged(t=t, activity=ACTIVITIES[act], previous=self.activity))
            self.activity = ACTIVITIES[act]
            if act == WALKING and self.sitting:
                began = t - ACTIVITY_MIN_EPOCHS * EPOCH_S
                k0 = int(block.spell_start[i])
                if k0 >= 0 and self._accum.origin is not None:
                    began = min(began, self._accum.origin + k0 * EPOCH_S)
                self._stand(began)
        self._command_epoch(block, i, out)
        self._guided_epoch(block, i, out)  # orientation hook
        if self._cal is None or self._needs_cal:
            self._maybe_autocal(block, i, out)
        elif not self._sit_known and block.autocal[i]:
            # Calibrated already (stored): the first steady spell says "sitting" too.
            self._sit_down(t - self.cfg.auto_calibration_s, out, t)
        for kind, value, moved in block.candidates.get(i, []):
            self._candidate(block, i, kind, value, out, moved=moved)
        if (
            block.lean_at == i
            and block.lean_dir is not None
            and self._cal is not None
            and (self._orient.mount.trust_prior or self.sitting)  # orientation hook
        ):
            log.info("%s: forward axis learnt from a held forward tilt", self.sensor_id)
            f = np.asarray(self._cal.forward)
            self._apply_axis(block, i, *self._orient.on_lean(f, block.lean_dir), out)
        if not self.sitting and act == STILL and worn:
            if self._stand_still_since is None:
                self._stand_still_since = t
        else:
            self._stand_still_since = None
        self._update_posture(block, i, t, out)
        self._fwd_onset = None
        self._sit_hold = self._fwd_hold = -INF

    def _set_angle(self, block: _Block, i: int) -> None:
        if not math.isnan(block.tilt[i]):
            self._angle = (float(block.tilt[i]), float(block.fwd[i]), float(block.side[i]))

    def _update_posture(self, block: _Block, i: int, t: float, out: list[Event]) -> None:
        post = int(block.post[i])
        if not self.worn or self._cal is None or self._needs_cal:
            posture = Posture.UNKNOWN
        elif not self.sitting and self._sit_known and post != LYING:
            # Desk postures are scored while seated; on one's feet it is standing.
            posture = Posture.STANDING
        elif not self._orient.known and post in (FORWARD, RECLINED):
            # Orientation hook: which way is forward is not known yet; do not guess.
            posture = Posture.UNKNOWN
        else:
            posture = POSTURES[post]
        if posture != self.posture:
            angle = self._angle[0]
            out.append(
                PostureChanged(
                    t=t, posture=posture, previous=self.posture, angle_deg=_num(angle) or 0.0
                )
            )
            self.posture = posture
        if posture == Posture.FORWARD:
            if self._fwd_since is None:
                self._fwd_since = (
                    t - self.cfg.posture_min_s if self._fwd_onset is None else self._fwd_onset
                )
                self._fwd_episode_alert = None
        else:
            if self._fwd_since is not None and self._fwd_episode_alert is not None:
                self._fwd_alerts_ignored = 0
            self._fwd_since = None
            self._fwd_episode_alert = None

    def _candidate(
        self, block: _Block, i: int, kind: str, value: float, out: list[Event], *, moved: float
    ) -> None:
        """Act on a transition or remount found at epoch ``i``; ``moved`` is how far (deg)
        the reading there is from the one before the movement."""
        t = float(block.ep.t_end[i])
        if kind == "moving":
            k0 = int(block.spell_start[i])
            if self.sitting and k0 >= 0 and self._accum.origin is not None:
                self._stand(self._accum.origin + k0 * EPOCH_S)
            return
        if kind != "remount":
            # Until a neutral is known the clip may just have been put on: handling
            # looks like anything. The calibration itself then says "sitting".
            if self._cal is None or self._needs_cal:
                return
            tilt = self._cal.angles(block.ep.mean[i : i + 1])[0][0]
            if tilt >= self.cfg.lying_deg:
                return  # ends far from any seated or standing posture: handled, not a chair
            if (
                kind == "stand_up"
                and tilt >= self.cfg.forward_enter_deg
                and moved >= self.cfg.forward_exit_deg
            ):
                # One stands up tall. Forward of neutral by the posture's own thresholds
                # (entered, and not back within the exit angle of where the movement
                # began), it is a lean towards the desk whose swing and the typing after it
                # integrated like a rise. Both, so that a stale neutral alone does not hide
                # a stand-up, nor rising from a slouch (which moves back, towards upright).
                return
        if kind == "remount":
            if self.worn and self._cal is not None and not self._needs_cal:
                out.append(RemountSuspected(t=t, angle_deg=round(value, 1)))
                log.info(
                    "%s: orientation changed by %.0f deg while still: remount",
                    self.sensor_id,
                    value,
                )
                self._needs_cal = True
                self._autocal_after = t
                self._relabel(block, i + 1, fresh=True)
            return
        out.append(Transition(t=t, kind=kind, rise_m=round(value, 3)))
        self._flexion_evidence(block, i, kind, out)  # orientation hook
        if kind == "stand_up":
            if self.sitting:
                self._stand(t - 2.0)
        elif not self.sitting:
            self._sit_down(t, out)

    def _flexion_direction(self, block: _Block, i: int) -> F64 | None:
        """Direction the reading moved furthest during the movement before epoch ``i``."""
        if self._cal is None:
            return None
        g = np.asarray(self._cal.gravity)
        allp = Epochs.concat([self._hist, block.ep.slice(0, i + 1)])
        window = allp.mean[-5:-1]
        if not len(window):
            return None
        u = unit(window)
        p = u - (u @ g)[:, None] * g
        k = int(np.argmax(np.linalg.norm(p, axis=1)))
        if np.linalg.norm(p[k]) < math.sin(math.radians(10.0)):
            return None
        return perpendicular(p[k], g)

    def _maybe_autocal(self, block: _Block, i: int, out: list[Event]) -> None:
        if not block.autocal[i]:
            return
        t = float(block.ep.t_end[i])
        start = t - self.cfg.auto_calibration_s
        if start < self._autocal_after:
            return
        old = self._cal
        self._cal = self._new_neutral(old, block.autocal_mean[i], t, "auto")  # orientation hook
        self._needs_cal = False
        if old is not None:
            moved = _max_angle(np.asarray([old.gravity]), np.asarray(self._cal.gravity))
            if moved >= REMOUNT_MIN_DEG:
                out.append(RemountSuspected(t=t, angle_deg=round(moved, 1)))
                if self._orient.mount.trust_prior:
                    self._orient = self._orient.reset()
            elif old.forward_source != "assumed" and self._orient.mount.trust_prior:
                # Same mounting: what was learnt about the forward axis still holds.
                self._cal = self._cal.with_forward(np.asarray(old.forward), old.forward_source)
        out.append(self._calibrated_event(t))
        self._relabel(block, i + 1, fresh=True)
        if not self.sitting:
            self._sit_down(start, out, t)

    def _calibrated_event(self, t: float) -> Calibrated:
        assert self._cal is not None
        return Calibrated(
            t=t,
            source=self._cal.source,
            gravity=self._cal.gravity,
            forward=self._cal.forward,
            forward_source=self._cal.forward_source,
        )

    def _command_epoch(  # noqa: PLR0911 - each way a calibration can fail returns early
        self, block: _Block, i: int, out: list[Event]
    ) -> None:
        if self._cmd_start is None:
            return
        ep = block.ep
        t = float(ep.t_end[i])
        if t - EPOCH_S < self._cmd_start:
            return  # this second began before the command
        if block.gap_before[i]:
            self._cmd_start = None
            out.append(
                CalibrationRejected(
                    t=t, reason="samples stopped; keep the sensor connected and try again"
                )
            )
            return
        if not block.still[i]:
            self._cmd_start = None
            out.append(
                CalibrationRejected(
                    t=t, reason="you moved; sit tall, hold still for a few seconds and try again"
                )
            )
            return
        self._cmd_means.append(ep.mean[i].copy())
        if len(self._cmd_means) * EPOCH_S < self.cfg.calibration_hold_s:
            return
        self._cmd_start = None
        means = unit(np.asarray(self._cmd_means))
        gravity = means.mean(axis=0)
        spread = float(np.degrees(np.arccos(np.clip(means @ unit(gravity), -1, 1))).max())
        if spread > 3.0:
            out.append(
                CalibrationRejected(
                    t=t, reason="you shifted position; hold one posture still and try again"
                )
            )
            return
        norm = float(np.linalg.norm(ep.mean[i]))
        if abs(norm - 1.0) > 0.15:
            out.append(CalibrationRejected(t=t, reason="the reading is not 1 g; check the sensor"))
            return
        self._cal = self._new_neutral(self._cal, gravity, t, "command")  # orientation hook
        if self._orient.mount.trust_prior:
            self._orient = self._orient.reset()
        self._needs_cal = False
        out.append(self._calibrated_event(t))
        self._relabel(block, i + 1, fresh=True)
        if not self.sitting:
            self._sit_down(t, out)

    # Orientation hooks (logic in core/orientation.py) ---------------------------------

    def _new_neutral(
        self, old: Calibration | None, gravity: F64, t: float, source: str
    ) -> Calibration:
        """A new neutral, with the assumed axis for this mount or, on the new mounts, the
        learnt axis carried over (turned with the neutral) when it is not far off."""
        cal = Calibration.new(gravity, t, source)
        spec = self._orient.mount
        if spec.trust_prior:
            return cal
        if self._orient.prior_sign() < 0:
            cal = cal.with_forward(-np.asarray(cal.forward), "assumed")
        if old is not None and self._orient.source != "assumed":
            f = orient_mod.carried_forward(
                np.asarray(old.gravity), np.asarray(old.forward), np.asarray(cal.gravity)
            )
            if f is not None:
                return cal.with_forward(f, self._orient.source)
        self._orient = self._orient.reset()
        return cal

    def _apply_axis(
        self,
        block: _Block,
        i: int,
        orient: orient_mod.Orientation,
        upd: orient_mod.AxisUpdate | None,
        out: list[Event],
    ) -> None:
        self._orient = orient
        if upd is None or self._cal is None:
            return
        self._cal = self._cal.with_forward(np.asarray(upd.forward), upd.source)
        if not orient.mount.trust_prior:
            if upd.flipped:
                self._mirror_at(block, i)
            if int(block.raw[i]) == FORWARD:
                # The lean that taught the axis began before it was known.
                self._fwd_onset = float(block.ep.t_end[i]) - float(block.raw_run[i]) * EPOCH_S
            out.append(
                ForwardAxisLearned(
                    t=float(block.ep.t_end[i]),
                    source=upd.source,
                    confidence=round(upd.confidence, 2),
                    forward=self._cal.forward,
                    corrected=upd.corrected,
                    reason=upd.reason,
                )
            )
            log.info("%s: forward axis from %s: %s", self.sensor_id, upd.source, upd.reason)
        self._relabel(block, i + 1, fresh=False)

    def _flexion_evidence(self, block: _Block, i: int, kind: str, out: list[Event]) -> None:
        """The trunk flexes forward to rise and to sit down: the reading moved towards
        "forward" (the legacy mount learns from stand-ups only, as before)."""
        if self._cal is None or (kind != "stand_up" and self._orient.mount.trust_prior):
            return
        run_dir = self._flexion_direction(block, i)
        f = np.asarray(self._cal.forward)
        self._apply_axis(block, i, *self._orient.on_flexion(f, run_dir), out)

    def _mirror_at(self, block: _Block, i: int) -> None:
        """The forward sign flipped: epoch ``i``'s labels (the carry of the relabel after
        it) are those of the mirrored reading."""
        if math.isnan(block.fwd[i]):
            return
        fwd = -float(block.fwd[i])
        block.fwd[i] = fwd
        block.side[i] = -float(block.side[i])
        cfg = self.cfg
        block.fstate[i] = 1 if fwd >= cfg.forward_enter_deg else 0
        for arr in (block.raw, block.post):
            arr[i] = orient_mod.mirrored_label(
                int(arr[i]),
                fwd,
                forward=FORWARD,
                reclined=RECLINED,
                upright=UPRIGHT,
                enter=cfg.forward_enter_deg,
                recline=cfg.recline_deg,
            )
        self._set_angle(block, i)

    def _guided_epoch(self, block: _Block, i: int, out: list[Event]) -> None:
        if self._guided is None:
            return
        t = float(block.ep.t_end[i])
        if t - EPOCH_S < self._guided.started:
            return  # this second began before the command
        if self._cal is None or self._needs_cal:
            self._guided = None
            out.append(CalibrationRejected(t=t, reason="calibrate first: sit tall and hold still"))
            return
        res = self._guided.step(
            t,
            block.ep.mean[i],
            still=bool(block.still[i]),
            gap=bool(block.gap_before[i]),
            gravity=np.asarray(self._cal.gravity),
            line=np.asarray(self._cal.forward),
        )
        if isinstance(res, orient_mod.GuidedLean):
            self._guided = res
            return
        self._guided = None
        if not res.ok or res.direction is None:
            out.append(CalibrationRejected(t=t, reason=res.reason))
            return
        orient, upd = self._orient.on_guided(res.direction)
        upd = replace(upd, flipped=float(np.dot(res.direction, self._cal.forward)) < 0.0)
        if orient.mount.trust_prior:
            # The legacy mount reports the guided step too: it was asked for.
            orient = replace(orient, mount=replace(orient.mount, trust_prior=False))
            self._apply_axis(block, i, orient, upd, out)
            self._orient = replace(self._orient, mount=replace(orient.mount, trust_prior=True))
        else:
            self._apply_axis(block, i, orient, upd, out)

    def _stand(self, t: float) -> None:
        self.sitting = False
        self._sit_known = True
        if self.bout_start is not None and self._nonsit_since is None:
            self._nonsit_since = max(t, self.bout_start)

    def _sit_down(self, t: float, out: list[Event], now: float | None = None) -> None:
        """Sitting since ``t`` (recognised at ``now``, default ``t``).

        A sit-down found late (a steady spell, or standing still too long) is dated back,
        but never into time already reported as a break: the events that went out stand,
        so the earliest a new bout can have begun is when the last one was reported over.
        """
        t = max(t, self._bout_reported_over)
        self.sitting = True
        self._sit_known = True
        self._stand_still_since = None
        if self.bout_start is not None:
            self._nonsit_since = None  # a short stand: the bout goes on
            return
        self.bout_start = t
        self.bout_excluded = 0.0
        self._bout_alerts = 0
        self._last_sit_alert = -INF
        self._nonsit_since = None
        out.append(SittingStarted(t=t if now is None else now, start=t))

    def _end_bout(self, end: float, out: list[Event], t: float) -> None:
        assert self.bout_start is not None
        assert self._stats is not None
        duration = max(end - self.bout_start, 0.0)
        out.append(SittingEnded(t=t, duration_s=round(duration, 1), start=self.bout_start))
        self._stats.bout(duration / 60.0)
        self.bout_start = None
        self._bout_reported_over = t
        self._nonsit_since = None

    def _sitting_clock(self, t: float) -> float:
        if self.bout_start is None:
            return 0.0
        return max(t - self.bout_start - self.bout_excluded, 0.0)

    # Timers -----------------------------------------------------------------

    def _deadlines(self) -> list[tuple[float, str]]:
        out: list[tuple[float, str]] = [(self._next_midnight, "midnight")]
        a = self.acfg
        if self.bout_start is not None and self.sitting and self.worn:
            due = self.bout_start + self.bout_excluded + a.sitting_limit_min * 60.0
            if self._bout_alerts:
                due = max(due, self._last_sit_alert + a.sitting_repeat_min * 60.0)
            out.append((max(due, self._sit_hold), "sit_alert"))
        if self._fwd_since is not None:
            base = (
                self._fwd_episode_alert if self._fwd_episode_alert is not None else self._fwd_since
            )
            due = max(base + a.forward_hold_s, self._last_fwd_alert + a.forward_cooldown_min * 60.0)
            if self._fwd_episode_alert is not None:
                due = max(due, self._fwd_episode_alert + a.forward_hold_s)
            out.append((max(due, self._fwd_hold), "fwd_alert"))
        if self.bout_start is not None and not self.sitting and self._nonsit_since is not None:
            # Standing up and then taking the clip off still counts: the chair is empty.
            out.append((self._nonsit_since + self.cfg.break_min_s, "break"))
        if not self.sitting and self._stand_still_since is not None and self.worn:
            out.append((self._stand_still_since + self.cfg.stand_still_max_s, "stand_still"))
        if self.bout_start is not None and not self.worn and self._notworn_since is not None:
            out.append((self._notworn_since + self.cfg.offbody_break_min * 60.0, "offbody"))
        return out

    def _span(self, block: _Block, a: int, b: int, out: list[Event]) -> None:
        """Advance through epochs ``a..b-1`` whose labels are those of epoch ``a``."""
        te = block.ep.t_end
        while a < b:
            due, what = min(self._deadlines())
            if not math.isfinite(due):
                break
            idx = a + int(np.searchsorted(te[a:b], due, side="left"))
            if idx >= b:
                break
            self._accumulate(idx + 1 - a)
            self._set_angle(block, idx)
            t = float(te[idx])
            for _ in range(8):  # everything due by now fires at this epoch
                self._fire(what, t, block, idx, out)
                due, what = min(self._deadlines())
                if due > t:
                    break
            a = idx + 1
        self._accumulate(b - a)

    def _accumulate(self, n_epochs: int) -> None:
        if n_epochs <= 0 or self._stats is None:
            return
        seconds = n_epochs * EPOCH_S
        self._stats.add_posture(self.posture.value, seconds)
        if self.sitting and self.worn and self.bout_start is not None:
            self._stats.sitting_minutes += seconds / 60.0

    def _fire(self, what: str, t: float, block: _Block, idx: int, out: list[Event]) -> None:
        if what == "midnight":
            out.extend(self._rollover(t))
        elif what == "break":
            assert self._nonsit_since is not None
            out.append(BreakTaken(t=t, duration_s=round(t - self._nonsit_since, 1)))
            if self._stats is not None:
                self._stats.breaks += 1
            self._end_bout(self._nonsit_since, out, t)
        elif what == "stand_still":
            assert self._stand_still_since is not None
            self._sit_down(self._stand_still_since, out, t)
            self._update_posture(block, idx, t, out)
        elif what == "offbody":
            assert self._notworn_since is not None
            self._end_bout(self._notworn_since, out, t)
            self.sitting = False
        elif what == "sit_alert":
            hold = self._suppressed(t)
            if hold is not None:
                self._sit_hold = hold
                return
            self._sit_alert(t, out)
        elif what == "fwd_alert":
            hold = self._suppressed(t)
            if hold is not None:
                self._fwd_hold = hold
                return
            self._fwd_alert(t, out)

    def _suppressed(self, t: float) -> float | None:
        """None if an alert may go out at ``t``; else the earliest time it may."""
        if self._paused or not self.worn or self.posture == Posture.LYING:
            return INF
        if self._in_gap:
            return INF
        if t < self._snoozed_until:
            return self._snoozed_until
        return self._quiet.end_if_quiet(t)

    def _level(self, ignored: int) -> int:
        return 1 + min(ignored, 2) if self.acfg.escalate else 1

    def _alert(
        self,
        kind: AlertKind,
        t: float,
        duration: float,
        angle: float | None,
        *,
        repeat: bool,
        level: int,
    ) -> Alert:
        """Build one alert with its stretch and message, and count it in today's stats."""
        if self._stats is None:
            self._stats = StatsAccumulator(local_day(t, self.tz))
        stretch = self._planner.choose(kind, repeat=repeat, t=t, plan=self._stats.plan)
        alert_id = self._new_id()
        self._stats.add_alert(kind.value)
        self._stats.plan.offer(alert_id, stretch.id)
        return Alert(
            t=t,
            id=alert_id,
            kind=kind,
            message=alert_message(kind, stretch, duration, angle),
            stretch=stretch,
            duration_s=round(duration, 1),
            angle_deg=angle,
            level=level,
        )

    def _sit_alert(self, t: float, out: list[Event]) -> None:
        out.append(
            self._alert(
                AlertKind.LONG_SITTING,
                t,
                self._sitting_clock(t),
                None,
                repeat=self._bout_alerts > 0,
                level=self._level(self._bout_alerts),
            )
        )
        self._bout_alerts += 1
        self._last_sit_alert = t

    def _fwd_alert(self, t: float, out: list[Event]) -> None:
        assert self._fwd_since is not None
        out.append(
            self._alert(
                AlertKind.FORWARD_HEAD,
                t,
                t - self._fwd_since,
                _num(self._angle[1]),
                repeat=self._fwd_episode_alert is not None,
                level=self._level(self._fwd_alerts_ignored),
            )
        )
        self._fwd_episode_alert = t
        self._last_fwd_alert = t
        self._fwd_alerts_ignored += 1

    def _rollover(self, t: float) -> list[Event]:
        assert self._stats is not None
        ended = self._stats.snapshot()
        self._stats = StatsAccumulator(local_day(t + 1.0, self.tz))
        self._next_midnight = next_midnight(t + 1.0, self.tz)
        return [DayRolledOver(t=t, stats=ended)]


def _num(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 1)


def _max_angle(means: F64, ref: F64) -> float:
    """Largest angle (deg) between the rows of ``means`` and ``ref``."""
    if not len(means):
        return 0.0
    cos = np.clip(unit(means) @ unit(ref), -1.0, 1.0)
    return float(np.degrees(np.arccos(cos.min())))


def _rise(allp: Epochs, p: int, q: int, base: float, *, zupt: bool) -> float:
    """Vertical travel (m) over epochs p..q, starting at rest, from |a| - ``base``.

    With ``zupt`` the spell ends at rest too, and the velocity left at the end (an
    accelerometer bias integrated) is removed as a linear drift.
    """
    v = x = 0.0
    for k in range(p, q + 1):
        a1 = allp.dt[k] * (allp.norm_sum[k] - allp.n[k] * base)
        a2 = allp.dt[k] * (allp.norm_w[k] - base * allp.w[k])
        x += v * EPOCH_S + a2
        v += a1
    if zupt:
        x -= v * (q - p + 1) * EPOCH_S / 2.0
    return float(x * G)


def _rise_back(allp: Epochs, p: int, q: int, base: float) -> float:
    """Vertical travel (m) over epochs p..q, integrating back from rest at the end."""
    v = x = 0.0  # at the end of epoch q
    for k in range(q, p - 1, -1):
        a1 = allp.dt[k] * (allp.norm_sum[k] - allp.n[k] * base)
        a2 = allp.dt[k] * (allp.norm_w[k] - base * allp.w[k])
        v -= a1
        x -= v * EPOCH_S + a2
    return float(-x * G)
