"""The detection core: sample chunks in, events out (sans-I/O).

The stages, each a small class with the state it carries across chunks:
:mod:`~postured.core.epochs` (samples to one-second epochs), :mod:`~postured.core.labeller`
(activity, worn, steady spells, movement candidates from :mod:`~postured.core.spells`) and
:mod:`~postured.core.posture` (posture against the neutral). This module walks a chunk's
change points (a label changes, a candidate, a hole) and, between them, the timers that fall
due (:mod:`~postured.core.timers`), and applies each to the seat
(:mod:`~postured.core.sitting`), the neutral (:mod:`~postured.core.neutral`) and the alert
policy (:mod:`~postured.core.alerts`). Python runs per change, not per sample or per
second. docs/detection.md describes the rules and their defaults.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, tzinfo

import numpy as np
import numpy.typing as npt

from postured.core import orientation as orient_mod
from postured.core.alerts import AlertPolicy
from postured.core.calibration import Calibration, perpendicular, unit
from postured.core.clock import local_day, next_midnight
from postured.core.config import AlertConfig, DetectionConfig
from postured.core.epochs import EPOCH_S, PIECE_SAMPLES, EpochAccumulator, Epochs
from postured.core.events import (
    Activity,
    ActivityChanged,
    BreakTaken,
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
    Snoozed,
    StretchDone,
    Transition,
    WornChanged,
)
from postured.core.labeller import ACTIVITY_MIN_EPOCHS, Act, EpochLabeller, Labels
from postured.core.neutral import Neutral, NeutralCommand
from postured.core.plan import DayPlan
from postured.core.posture import POSTURES, Post, PostureLabeller, key_at
from postured.core.sitting import Seat
from postured.core.spells import Candidate
from postured.core.stats import StatsAccumulator
from postured.core.timers import MAX_FIRES_PER_EPOCH, Due, Timer

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

ACTIVITIES = (Activity.STILL, Activity.ACTIVE, Activity.WALKING)  # by Act code
STAND_UP_FOUND_AFTER_S = 2.0  # one was up this long before the epoch the stand-up is found at
# A hole in the samples at least this many break lengths long ends a sitting bout: a
# whole break fits in it unseen, so one cannot be known to have kept sitting. Shorter
# holes (a radio dropout of seconds) leave the bout and its clock running, minus the hole.
LONG_GAP_BREAKS = 1.0
CMD_TIMEOUT_S = 15.0  # a commanded calibration with no samples for this long is rejected
# A sit-down found before the first neutral is read against that neutral (the trunk flexed
# forward to sit) if the steady spell began within this long of it: one settles in soon.
START_SIT_MAX_S = 120.0
FLEX_EPOCHS = 4  # the epochs before a transition's epoch that hold its forward flexion
FLEX_MIN_SIN = math.sin(math.radians(10.0))  # a smaller swing gives no direction
INF = math.inf


def _new_id() -> str:
    return uuid.uuid4().hex


class Detector:
    """One sensor's detection and alert policy. Not thread-safe."""

    def __init__(
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
        self._neutral = Neutral(spec, calibration)
        self._guided: orient_mod.GuidedLean | None = None
        # The stand-to-sit before the first neutral: when, and the epochs of its flexion.
        self._start_sit: tuple[float, F64] | None = None
        # --- end of orientation hook
        self.cfg = detection
        self.acfg = alerts
        self.tz = tz
        self._policy = AlertPolicy(alerts, tz, new_id)
        self._stats = StatsAccumulator.restore(stats) if stats else None
        self._next_midnight = INF
        self._accum = EpochAccumulator()
        self._labeller = EpochLabeller(detection)
        self._postures = PostureLabeller(detection)
        self._last_te = -INF
        # State machine.
        self.posture = Posture.UNKNOWN
        self.activity = Activity.STILL
        self.worn = False
        self._seat = Seat()
        self._angle: tuple[float, float, float] = (math.nan, math.nan, math.nan)
        self._cmd: NeutralCommand | None = None
        self._last_t = -INF
        # The latest time the caller said it is (ticks, state): names the day of the
        # statistics before the first sample, instead of 1970-01-01.
        self._told_t = -INF
        self._in_gap = False
        # The change points of the block being walked (see _next_change).
        self._change_of: B | None = None
        self._change_at: I64 = np.zeros(0, np.int64)

    # ------------------------------------------------------------------ public API

    @property
    def calibration(self) -> Calibration | None:
        return self._neutral.cal

    @property
    def sitting(self) -> bool:
        return self._seat.sitting

    @property
    def bout_start(self) -> float | None:
        return self._seat.bout_start

    @property
    def bout_excluded(self) -> float:
        return self._seat.excluded

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
        # Epochs never depend on how the stream was cut (nor labels on how the epochs
        # were), so a long chunk goes through in pieces: the cost per sample stays flat.
        for i in range(0, len(ta), PIECE_SAMPLES):
            new = self._accum.push(ta[i : i + PIECE_SAMPLES], aa[i : i + PIECE_SAMPLES])
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
        running = np.maximum.accumulate(np.concatenate([[self._accum.last_t], ta]))
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
            self._cmd is not None
            and t - self._cmd.start > CMD_TIMEOUT_S + self.cfg.calibration_hold_s
        ):
            self._cmd = None
            out.append(
                CalibrationRejected(
                    t=t,
                    reason="no samples arrived from the sensor; check that it is on and try again",
                )
            )
        return out

    def calibrate(self, t: float) -> list[Event]:
        """Start a commanded calibration: the next few seconds must be still."""
        self._cmd = NeutralCommand(t, self.cfg.calibration_hold_s)
        return []

    def calibrate_forward(self, t: float) -> list[Event]:
        """Start the second calibration step: "lean forward slowly and hold" (orientation hook)."""
        if not self._neutral.calibrated:
            return [
                CalibrationRejected(
                    t=t, reason="calibrate first: sit tall and hold still, then lean forward"
                )
            ]
        self._guided = orient_mod.GuidedLean(t)
        return []

    def snooze(self, t: float, minutes: float) -> list[Event]:
        self._policy.snooze(t, minutes)
        if self._stats is None:
            self._stats = StatsAccumulator(local_day(t, self.tz))
        self._stats.snoozes += 1
        return [Snoozed(t=t, until=self._policy.snoozed_until)]

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
        self._policy.paused = True
        return [Paused(t=t)]

    def resume(self, t: float) -> list[Event]:
        self._policy.resume()
        return [Resumed(t=t)]

    def state(self, t: float) -> SensorState:
        self._told_t = max(self._told_t, t)
        tilt, fwd, side = self._angle
        calibrated = self._neutral.calibrated
        return SensorState(
            t=t,
            posture=self.posture,
            angle_deg=_num(tilt) if calibrated else None,
            forward_deg=_num(fwd) if calibrated else None,
            side_deg=_num(side) if calibrated else None,
            activity=self.activity,
            worn=self.worn,
            calibrated=calibrated,
            sitting=self._seat.sitting,
            sitting_since=self._seat.bout_start,
            sitting_minutes=round(self._seat.clock(t) / 60.0, 2),
            slouching=self._policy.slouch.since is not None,
            paused=self._policy.paused,
            snoozed_until=snoozed if (snoozed := self._policy.snoozed_until) > t else None,
            in_gap=self._in_gap or t - self._last_t > self.cfg.gap_s,
            forward_axis=self._neutral.orient.source,
            forward_confidence=round(self._neutral.orient.confidence, 2) if calibrated else 0.0,
            calibration_hint=self._neutral.orient.hint if calibrated else None,
        )

    # ------------------------------------------------------------------ labelling

    def _event_t(self, ta: F64) -> float:
        finite = ta[np.isfinite(ta)]
        return float(finite.max()) if len(finite) else max(self._last_t, 0.0)

    def _process(self, new: Epochs) -> list[Event]:
        block = self._labeller.label(new)
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
        self._change_of = None
        self._labeller.keep(new)
        self._last_te = float(new.t_end[-1])
        return out

    def _relabel(self, block: Labels, i0: int, *, fresh: bool) -> None:
        """Posture labels of epochs ``i0:`` against the current calibration."""
        usable = self._neutral.usable
        self._postures.relabel(
            block, i0, fresh=fresh, cal=usable, lean_cos=self._neutral.orient.lean_cos
        )

    def _next_change(self, block: Labels, i: int) -> int:
        if self._cmd is not None or self._guided is not None:
            return i + 1
        n = len(block.ep)
        if block.change is not self._change_of:
            # Indexed once per labelling, not scanned from each change point (which was
            # quadratic in the epochs of a long chunk).
            self._change_of = block.change
            self._change_at = np.flatnonzero(block.change)
        at = int(np.searchsorted(self._change_at, i + 1))
        nxt = int(self._change_at[at]) if at < len(self._change_at) else n
        if not self._neutral.calibrated or not self._seat.known:
            # A steady spell may calibrate, or tell that one sits: stop there too.
            steady = block.autocal_at[np.searchsorted(block.autocal_at, i + 1) :]
            if len(steady):
                nxt = min(nxt, int(steady[0]))
        return nxt

    # ------------------------------------------------------------------ state machine

    def _at_epoch(self, block: Labels, i: int, out: list[Event]) -> None:
        """Apply the labels of epoch ``i`` (a change point)."""
        t = block.t(i)
        self._postures.last_key = key_at(block, i)
        self._set_angle(block, i)
        if block.gap_before[i]:
            self._after_hole(block, i, t, out)
        if bool(block.worn[i]) != self.worn:
            self._worn_changed(block, i, t, out)
        if ACTIVITIES[block.act[i]] != self.activity:
            self._activity_changed(block, i, t, out)
        self._neutral_epoch(block, i, t, out)
        for cand in block.candidates.get(i, []):
            self._candidate(block, i, cand, out)
        self._lean_epoch(block, i, out)
        seat = self._seat
        if seat.sitting or block.act[i] != Act.STILL or not block.worn[i]:
            seat.stand_still_since = None
        elif seat.stand_still_since is None:
            seat.stand_still_since = t
        self._update_posture(block, i, t, out)
        self._policy.slouch.onset = None
        self._policy.release()

    def _neutral_epoch(self, block: Labels, i: int, t: float, out: list[Event]) -> None:
        """Commands in progress, and a steady spell that calibrates or says "sitting"."""
        self._command_epoch(block, i, out)
        self._guided_epoch(block, i, out)  # orientation hook
        if not self._neutral.calibrated:
            self._maybe_autocal(block, i, out)
        elif not self._seat.known and block.autocal[i]:
            # Calibrated already (stored): the first steady spell says "sitting" too.
            self._sit_down(t - self.cfg.auto_calibration_s, out, t)

    def _after_hole(self, block: Labels, i: int, t: float, out: list[Event]) -> None:
        prev = self._last_te if i == 0 else block.t(i - 1)
        lost = t - EPOCH_S - prev
        seat = self._seat
        if seat.in_bout and seat.sitting and lost >= LONG_GAP_BREAKS * self.cfg.break_min_s:
            # A whole break fits in the hole unseen: the bout ends where the samples
            # stopped, and whether one sits again is not known until evidence says so.
            self._end_bout(prev, out, t)
            seat.sitting = seat.known = False
        elif seat.in_bout:
            seat.excluded += max(lost, 0.0)
        # No evidence across the hole: forward and standing clocks start again.
        self._policy.slouch.lost()
        self._seat.stand_still_since = None

    def _worn_changed(self, block: Labels, i: int, t: float, out: list[Event]) -> None:
        seat = self._seat
        self.worn = worn = bool(block.worn[i])
        out.append(WornChanged(t=t, worn=worn))
        if not worn:
            seat.was_off = True
            # Still and off: the worn window shows it that long after it was put down.
            seat.notworn_since = t - (self.cfg.worn_window_s if block.act[i] == Act.STILL else 0.0)
            return
        if seat.in_bout and seat.notworn_since is not None:
            seat.excluded += t - seat.notworn_since
        seat.notworn_since = None
        if self._neutral.cal is not None and seat.was_off:
            # Put back on: the clip may sit differently now. The next steady
            # spell recalibrates; a changed neutral is reported as a remount.
            self._neutral.suspect(t)
            self._relabel(block, i + 1, fresh=True)

    def _activity_changed(self, block: Labels, i: int, t: float, out: list[Event]) -> None:
        act = ACTIVITIES[block.act[i]]
        out.append(ActivityChanged(t=t, activity=act, previous=self.activity))
        self.activity = act
        if act is Activity.WALKING and self._seat.sitting:
            # The walk began when its spell did, at the latest when the label accepted it.
            began = t - ACTIVITY_MIN_EPOCHS * EPOCH_S
            spell = self._spell_began(block, i)
            self._seat.stand(began if spell is None else min(began, spell))

    def _spell_began(self, block: Labels, i: int) -> float | None:
        """When the movement spell epoch ``i`` belongs to began, if known."""
        k0 = int(block.spell_start[i])
        if k0 < 0 or self._accum.origin is None:
            return None
        return self._accum.origin + k0 * EPOCH_S

    def _lean_epoch(self, block: Labels, i: int, out: list[Event]) -> None:
        """A forward tilt held long enough teaches the assumed axis (orientation hook)."""
        cal = self._neutral.cal
        if block.lean_at != i or block.lean_dir is None or cal is None:
            return
        if not (self._neutral.orient.mount.trust_prior or self._seat.sitting):
            return
        log.info("%s: forward axis learnt from a held forward tilt", self.sensor_id)
        f = np.asarray(cal.forward)
        self._apply_axis(block, i, *self._neutral.orient.on_lean(f, block.lean_dir), out)

    def _set_angle(self, block: Labels, i: int) -> None:
        if not math.isnan(block.tilt[i]):
            self._angle = (float(block.tilt[i]), float(block.fwd[i]), float(block.side[i]))

    def _posture_of(self, post: int) -> Posture:
        if not self.worn or not self._neutral.calibrated:
            return Posture.UNKNOWN
        if not self._seat.sitting and self._seat.known and post != Post.LYING:
            # Desk postures are scored while seated; on one's feet it is standing.
            return Posture.STANDING
        if not self._neutral.orient.known and post in (Post.FORWARD, Post.RECLINED):
            # Orientation hook: which way is forward is not known yet; do not guess.
            return Posture.UNKNOWN
        return POSTURES[post]

    def _update_posture(self, block: Labels, i: int, t: float, out: list[Event]) -> None:
        posture = self._posture_of(int(block.post[i]))
        if posture != self.posture:
            angle = _num(self._angle[0]) or 0.0
            out.append(PostureChanged(t=t, posture=posture, previous=self.posture, angle_deg=angle))
            self.posture = posture
        if posture == Posture.FORWARD:
            self._policy.slouch.begin(t, self.cfg.posture_min_s)
        else:
            self._policy.slouch.end()

    def _candidate(self, block: Labels, i: int, cand: Candidate, out: list[Event]) -> None:
        """Act on a transition, a long movement or a remount found at epoch ``i``."""
        t = block.t(i)
        if cand.kind == "moving":
            began = self._spell_began(block, i)
            if self._seat.sitting and began is not None:
                self._seat.stand(began)
        elif cand.kind == "remount":
            self._remount(block, i, t, cand.value, out)
        elif self._is_chair_transition(block, i, cand):
            self._transition(block, i, t, cand, out)
        elif cand.kind == "sit_down" and self._neutral.cal is None:
            # Orientation hook: no neutral to read it against yet; keep it for the first.
            self._start_sit = (t, self._flexion_window(block, i))

    def _remount(self, block: Labels, i: int, t: float, angle: float, out: list[Event]) -> None:
        if not (self.worn and self._neutral.calibrated):
            return
        out.append(RemountSuspected(t=t, angle_deg=round(angle, 1)))
        log.info("%s: orientation changed by %.0f deg while still: remount", self.sensor_id, angle)
        self._neutral.suspect(t)
        self._relabel(block, i + 1, fresh=True)

    def _is_chair_transition(self, block: Labels, i: int, cand: Candidate) -> bool:
        """Whether a stand-up or sit-down found in the movement is one."""
        # Until a neutral is known the clip may just have been put on: handling
        # looks like anything. The calibration itself then says "sitting".
        cal = self._neutral.usable
        if cal is None:
            return False
        tilt = cal.angles(block.ep.mean[i : i + 1])[0][0]
        if tilt >= self.cfg.lying_deg:
            return False  # ends far from any seated or standing posture: handled, not a chair
        # One stands up tall. Forward of neutral by the posture's own thresholds
        # (entered, and not back within the exit angle of where the movement
        # began), it is a lean towards the desk whose swing and the typing after it
        # integrated like a rise. Both, so that a stale neutral alone does not hide
        # a stand-up, nor rising from a slouch (which moves back, towards upright).
        leaned = tilt >= self.cfg.forward_enter_deg and cand.moved >= self.cfg.forward_exit_deg
        return not (cand.kind == "stand_up" and leaned)

    def _transition(
        self, block: Labels, i: int, t: float, cand: Candidate, out: list[Event]
    ) -> None:
        out.append(Transition(t=t, kind=cand.kind, rise_m=round(cand.value, 3)))
        self._flexion_evidence(block, i, cand.kind, out)  # orientation hook
        if cand.kind == "stand_up":
            if self._seat.sitting:
                self._seat.stand(t - STAND_UP_FOUND_AFTER_S)
        elif not self._seat.sitting:
            self._sit_down(t, out)

    def _flexion_window(self, block: Labels, i: int) -> F64:
        """The epoch means of the movement before epoch ``i``, reaching back into the kept
        history if need be (not a copy of the whole chunk so far: that was quadratic)."""
        recent = block.ep.mean[max(0, i - FLEX_EPOCHS) : i]
        if len(recent) < FLEX_EPOCHS:
            recent = np.concatenate([self._labeller.history.mean, recent])[-FLEX_EPOCHS:]
        return np.array(recent, dtype=np.float64)

    def _flexion_direction(self, block: Labels, i: int) -> F64 | None:
        """Direction the reading moved furthest during the movement before epoch ``i``."""
        if self._neutral.cal is None:
            return None
        return _furthest(self._flexion_window(block, i), np.asarray(self._neutral.cal.gravity))

    def _maybe_autocal(self, block: Labels, i: int, out: list[Event]) -> None:
        if not block.autocal[i]:
            return
        t = block.t(i)
        start = t - self.cfg.auto_calibration_s
        if start < self._neutral.autocal_after:
            return
        moved = self._neutral.take_auto(block.autocal_mean[i], t)  # orientation hook
        if moved is not None:
            out.append(RemountSuspected(t=t, angle_deg=round(moved, 1)))
        out.append(self._neutral.event(t))
        self._relabel(block, i + 1, fresh=True)
        self._start_sit_evidence(block, i, start, out)
        if not self._seat.sitting:
            self._sit_down(start, out, t)

    def _command_epoch(self, block: Labels, i: int, out: list[Event]) -> None:
        cmd = self._cmd
        if cmd is None:
            return
        t = block.t(i)
        if t - EPOCH_S < cmd.start:
            return  # this second began before the command
        res = cmd.step(block.ep.mean[i], still=bool(block.still[i]), gap=bool(block.gap_before[i]))
        if res is None:
            return
        self._cmd = None
        if isinstance(res, str):
            out.append(CalibrationRejected(t=t, reason=res))
            return
        self._neutral.take_command(res, t)  # orientation hook
        out.append(self._neutral.event(t))
        self._relabel(block, i + 1, fresh=True)
        self._start_sit_evidence(block, i, t - self.cfg.calibration_hold_s, out)
        if not self._seat.sitting:
            self._sit_down(t, out)

    # Orientation hooks (logic in core/orientation.py) ---------------------------------

    def _apply_axis(
        self,
        block: Labels,
        i: int,
        orient: orient_mod.Orientation,
        upd: orient_mod.AxisUpdate | None,
        out: list[Event],
    ) -> None:
        self._neutral.orient = orient
        if upd is None or self._neutral.cal is None:
            return
        self._neutral.set_forward(np.asarray(upd.forward), upd.source)
        if not orient.mount.trust_prior:
            if upd.flipped:
                self._postures.mirror_at(block, i)
                self._set_angle(block, i)
            if int(block.raw[i]) == Post.FORWARD:
                # The lean that taught the axis began before it was known.
                self._policy.slouch.onset = (
                    float(block.ep.t_end[i]) - float(block.raw_run[i]) * EPOCH_S
                )
            out.append(
                ForwardAxisLearned(
                    t=float(block.ep.t_end[i]),
                    source=upd.source,
                    confidence=round(upd.confidence, 2),
                    forward=self._neutral.cal.forward,
                    corrected=upd.corrected,
                    reason=upd.reason,
                )
            )
            log.info("%s: forward axis from %s: %s", self.sensor_id, upd.source, upd.reason)
        self._relabel(block, i + 1, fresh=False)

    def _start_sit_evidence(self, block: Labels, i: int, start: float, out: list[Event]) -> None:
        """The stand-to-sit before the first neutral, read against it: the sign of the
        axis before any tilt, so a first recline is read as one (not for the legacy mount,
        which learns from stand-ups only)."""
        early, self._start_sit = self._start_sit, None
        cal = self._neutral.cal
        if early is None or cal is None or self._neutral.orient.mount.trust_prior:
            return
        if start - early[0] > START_SIT_MAX_S:
            return
        run_dir = _furthest(early[1], np.asarray(cal.gravity))
        f = np.asarray(cal.forward)
        self._apply_axis(block, i, *self._neutral.orient.on_flexion(f, run_dir), out)

    def _flexion_evidence(self, block: Labels, i: int, kind: str, out: list[Event]) -> None:
        """The trunk flexes forward to rise and to sit down: the reading moved towards
        "forward" (the legacy mount learns from stand-ups only, as before)."""
        if self._neutral.cal is None or (
            kind != "stand_up" and self._neutral.orient.mount.trust_prior
        ):
            return
        run_dir = self._flexion_direction(block, i)
        f = np.asarray(self._neutral.cal.forward)
        self._apply_axis(block, i, *self._neutral.orient.on_flexion(f, run_dir), out)

    def _guided_epoch(self, block: Labels, i: int, out: list[Event]) -> None:
        if self._guided is None:
            return
        t = float(block.ep.t_end[i])
        if t - EPOCH_S < self._guided.started:
            return  # this second began before the command
        cal = self._neutral.usable
        if cal is None:
            self._guided = None
            out.append(CalibrationRejected(t=t, reason="calibrate first: sit tall and hold still"))
            return
        res = self._guided.step(
            t,
            block.ep.mean[i],
            still=bool(block.still[i]),
            gap=bool(block.gap_before[i]),
            gravity=np.asarray(cal.gravity),
            line=np.asarray(cal.forward),
        )
        if isinstance(res, orient_mod.GuidedLean):
            self._guided = res
            return
        self._guided = None
        if not res.ok or res.direction is None:
            out.append(CalibrationRejected(t=t, reason=res.reason))
            return
        orient, upd = self._neutral.orient.on_guided(res.direction)
        upd = replace(upd, flipped=float(np.dot(res.direction, cal.forward)) < 0.0)
        if orient.mount.trust_prior:
            # The legacy mount reports the guided step too: it was asked for.
            orient = replace(orient, mount=replace(orient.mount, trust_prior=False))
            self._apply_axis(block, i, orient, upd, out)
            self._neutral.orient = replace(
                self._neutral.orient, mount=replace(orient.mount, trust_prior=True)
            )
        else:
            self._apply_axis(block, i, orient, upd, out)

    def _sit_down(self, t: float, out: list[Event], now: float | None = None) -> None:
        """Sitting since ``t`` (recognised at ``now``, default ``t``)."""
        started = self._seat.sit_down(t, now)
        if started is not None:
            self._policy.new_bout()
            out.append(started)

    def _end_bout(self, end: float, out: list[Event], t: float) -> None:
        assert self._stats is not None
        ended, duration = self._seat.end_bout(end, t)
        out.append(ended)
        self._stats.bout(duration / 60.0)

    # Timers -----------------------------------------------------------------

    def _deadlines(self) -> list[Due]:
        out: list[Due] = [(self._next_midnight, Timer.MIDNIGHT)]
        seat = self._seat
        if seat.bout_start is not None and seat.sitting and self.worn:
            out.append(self._policy.sit_due(seat.bout_start, seat.excluded))
        fwd = self._policy.fwd_due()
        if fwd is not None:
            out.append(fwd)
        out += seat.deadlines(self.cfg, worn=self.worn)
        return out

    def _span(self, block: Labels, a: int, b: int, out: list[Event]) -> None:
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
            for _ in range(MAX_FIRES_PER_EPOCH):  # everything due by now fires at this epoch
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
        if self._seat.sitting and self.worn and self._seat.in_bout:
            self._stats.sitting_minutes += seconds / 60.0

    def _fire(self, what: Timer, t: float, block: Labels, idx: int, out: list[Event]) -> None:
        if what is Timer.MIDNIGHT:
            out.extend(self._rollover(t))
        elif what is Timer.BREAK:
            up = self._seat.nonsit_since
            assert up is not None
            out.append(BreakTaken(t=t, duration_s=round(t - up, 1)))
            if self._stats is not None:
                self._stats.breaks += 1
            self._end_bout(up, out, t)
        elif what is Timer.STAND_STILL:
            assert self._seat.stand_still_since is not None
            self._sit_down(self._seat.stand_still_since, out, t)
            self._update_posture(block, idx, t, out)
        elif what is Timer.OFFBODY:
            assert self._seat.notworn_since is not None
            self._end_bout(self._seat.notworn_since, out, t)
            self._seat.sitting = False
        else:
            self._fire_alert(what, t, out)

    def _fire_alert(self, what: Timer, t: float, out: list[Event]) -> None:
        hold = self._policy.suppressed(
            t, worn=self.worn, lying=self.posture == Posture.LYING, in_gap=self._in_gap
        )
        if hold is not None:
            self._policy.hold(what, hold)
            return
        if self._stats is None:  # an alert opens the day: its plan chooses the stretch
            self._stats = StatsAccumulator(local_day(t, self.tz))
        if what is Timer.SIT_ALERT:
            out.append(self._policy.sit_alert(t, self._seat.clock(t), self._stats))
        else:
            out.append(self._policy.fwd_alert(t, _num(self._angle[1]), self._stats))

    def _rollover(self, t: float) -> list[Event]:
        assert self._stats is not None
        ended = self._stats.snapshot()
        self._stats = StatsAccumulator(local_day(t + 1.0, self.tz))
        self._next_midnight = next_midnight(t + 1.0, self.tz)
        return [DayRolledOver(t=t, stats=ended)]


def _furthest(means: F64, g: F64) -> F64 | None:
    """The direction across unit ``g`` of the reading furthest from it, if far enough."""
    if not len(means):
        return None
    u = unit(means)
    p = u - (u @ g)[:, None] * g
    k = int(np.argmax(np.linalg.norm(p, axis=1)))
    if np.linalg.norm(p[k]) < FLEX_MIN_SIN:
        return None
    return perpendicular(p[k], g)


def _num(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 1)
