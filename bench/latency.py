"""End-to-end latency: from the instant a forward-head alert's condition is met (in the
simulator's timeline) to the alert's arrival at an independent ``mosquitto_sub``.

The daemon runs in this process with simulated sensors in real time (speed 1), a private
mosquitto, and a scenario of repeated slouches (forward 9 s, upright 8 s) with the
forward-head hold at 5 s and a 12-s cool-down, so each slouch raises one alert.

Two instants count as "the condition is met":
- the sample at which the detector's rule is met (the alert's time on the sensor clock):
  ``median_ms`` / ``p99_ms`` run from there to the arrival, i.e. packet batching in the
  sensor, decoding, the daemon's loop and MQTT to the subscriber (the service's latency);
- the slouch's measured onset plus the hold (``from_onset_plus_hold``): the first sample
  whose tilt from sitting-tall gravity, smoothed over 0.5 s (centred, so no lag), exceeds
  ``forward_enter_deg``. ``detector_delay`` is the part the detector's confirmation adds;
  ``postured eval`` scores it as detection latency.
A sensor batches samples into notifications: ``max_payload`` 40 bytes is 5 samples (100 ms
at 50 Hz, a firmware that flushes at 10 Hz), 244 bytes is 39 samples (780 ms). The two
are measured at the same time, in two processes with a daemon and a broker each.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from firmware_sim import load_scenario, simulate  # noqa: E402
from postured.adapters.sim import SimSource  # noqa: E402
from postured.config.loader import Config, ServiceConfig  # noqa: E402
from postured.config.mqtt import MqttConfig  # noqa: E402
from postured.config.sensors import SensorConfig  # noqa: E402
from postured.core.config import AlertConfig, DetectionConfig  # noqa: E402
from postured.runtime.daemon import Daemon  # noqa: E402
from postured.runtime.parts import DaemonParts  # noqa: E402
from tests.support.mosquitto import Mosquitto, Subscriber  # noqa: E402

HOLD_S = 5.0
RATE = 50
SETTLE_S = 14.0


def scenario_text(episodes: int) -> str:
    segs = [
        f'  {{ seconds = {SETTLE_S}, posture = "upright", activity = "still", '
        'label = "sit tall: auto-calibration" }'
    ]
    for _ in range(episodes):
        segs.append('  { seconds = 9, posture = "forward", forward_deg = 28 }')
        segs.append('  { seconds = 8, posture = "upright", activity = "still" }')
    return (
        'name = "latency"\ndescription = "repeated slouches"\nsegments = [\n'
        + ",\n".join(segs)
        + ",\n]\n"
    )


def condition_times(rec: Any, enter_deg: float) -> list[float]:
    """Sim seconds at which each slouch's alert condition is met (crossing + hold)."""
    first = rec.truth[0]
    neutral = rec.acc[(rec.t > first.start + 3) & (rec.t < first.end)].mean(axis=0)
    neutral /= np.linalg.norm(neutral)
    k = int(0.5 * rec.rate_hz) | 1
    smooth = np.stack(
        [np.convolve(rec.acc[:, i], np.ones(k) / k, mode="same") for i in range(3)], axis=1
    )
    cosang = smooth @ neutral / np.linalg.norm(smooth, axis=1)
    angle = np.degrees(np.arccos(np.clip(cosang, -1.0, 1.0)))
    out = []
    for seg in rec.truth:
        if seg.posture != "forward":
            continue
        idx = np.flatnonzero((rec.t >= seg.start - 1.0) & (rec.t < seg.end) & (angle >= enter_deg))
        if idx.size:
            out.append(float(rec.t[idx[0]]) + HOLD_S)
    return out


async def _run_daemon(
    config: Config, sources: dict[str, SimSource], seconds: float
) -> dict[str, float]:
    """Run the daemon; return, per sensor, wall clock minus the sensor's clock.

    The simulated clock is anchored on a whole second, so its stamps trail the wall clock
    by a constant fraction of a second; the difference maps a stamp to the wall instant
    its sample was delivered at.
    """
    daemon = Daemon(config, DaemonParts(sources=sources), install_signals=False)
    task = asyncio.create_task(daemon.run(), name="daemon")
    await asyncio.sleep(SETTLE_S / 2)
    delta = {sid: time.time() - src.now() for sid, src in sources.items()}
    await asyncio.sleep(seconds - SETTLE_S / 2)
    daemon.request_stop()
    await asyncio.wait_for(task, 20)
    return delta


def measure(n_sensors: int, episodes: int, max_payload: int) -> dict[str, Any]:
    detection = DetectionConfig(auto_calibration_s=10.0)
    # A 12-s cool-down: one alert per 9-s slouch, and every slouch (17 s apart) alerts.
    alerts = AlertConfig(forward_hold_s=HOLD_S, forward_cooldown_min=0.2)
    with tempfile.TemporaryDirectory(prefix="postured-latency-") as tmp:
        work = Path(tmp)
        scen = work / "latency.toml"
        scen.write_text(scenario_text(episodes))
        sc = load_scenario(str(scen))
        broker = Mosquitto(work / "broker")
        broker.start()
        sub = Subscriber.start(broker.port, "posture/+/alert", "-F", "%U %t %p")
        sensors = tuple(
            SensorConfig(
                id=f"lat{i}",
                source="sim",
                scenario=str(scen),
                seed=i + 1,
                rate_hz=RATE,
                speed=1.0,
                haptic=False,
            )
            for i in range(n_sensors)
        )
        config = Config(
            service=ServiceConfig(state_dir=str(work / "state"), log_level="warning"),
            mqtt=MqttConfig(host="127.0.0.1", port=broker.port, discovery=False),
            detection=detection,
            alerts=alerts,
            sensors=sensors,
        )
        sources = {s.id: SimSource(s, loops=1, max_payload=max_payload) for s in sensors}
        duration = SETTLE_S + 17.0 * episodes + 3.0
        try:
            delta = asyncio.run(_run_daemon(config, sources, duration))
            lines = sub.lines()
        finally:
            sub.close()
            broker.stop()
    detect, deliver, total = [], [], []
    conds = {}
    for s in sensors:
        rec = simulate(sc, seed=s.seed, rate_hz=RATE, mount=s.mount)
        anchor = sources[s.id].anchor
        assert anchor is not None
        conds[s.id] = [anchor + c for c in condition_times(rec, detection.forward_enter_deg)]
    seen: set[tuple[str, float]] = set()
    for recv_s, payload in lines:
        # With -F "%U %t %p" the subscriber prints "arrival topic payload".
        topic, _, body = payload.partition(" ")
        msg = json.loads(body)
        arrival = float(recv_s)
        sid = topic.split("/")[1]
        # On the sensor's clock, and the wall instant that clock reading was delivered at.
        raised = dt.datetime.fromisoformat(msg["time"]).timestamp()
        raised_wall = raised + delta[sid]
        before = [c for c in conds[sid] if c <= raised + 2.0]
        # Only the first alert of each slouch counts, should a held slouch outlast the cool-down.
        if not before or (sid, before[-1]) in seen:
            continue
        cond = before[-1]
        seen.add((sid, cond))
        detect.append((raised - cond) * 1000)
        deliver.append((arrival - raised_wall) * 1000)
        total.append((arrival - (cond + delta[sid])) * 1000)
    expected = sum(len(v) for v in conds.values())

    def stats(xs: list[float]) -> dict[str, float]:
        a = np.array(xs)
        if not xs:
            return {}
        return {
            "median_ms": round(float(np.median(a)), 1),
            "p99_ms": round(float(np.percentile(a, 99)), 1),
            "max_ms": round(float(a.max()), 1),
        }

    return {
        "alerts": len(total),
        "expected": expected,
        "samples_per_packet": (max_payload - 10) // 6,
        # Headline: from the sample at which the detector's rule is met to the subscriber.
        **stats(deliver),
        "from_onset_plus_hold": stats(total),
        "detector_delay": stats(detect),
    }


def run(quick: bool) -> dict[str, Any]:
    n, episodes = (3, 1) if quick else (10, 4)
    if quick:
        out: dict[str, Any] = measure(n, episodes, max_payload=40)
        print(f"  flush at 10 Hz: {out}", flush=True)
    else:
        # The two packet sizes at once, each daemon with its broker in a process of its own:
        # both wait in real time and use little CPU, so neither holds up the other.
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=spawn) as pool:
            batched = pool.submit(measure, n, episodes, 244)
            out = measure(n, episodes, max_payload=40)
            print(f"  flush at 10 Hz: {out}", flush=True)
            out["batched_244"] = batched.result()
        print(f"  39-sample packets: {out['batched_244']}", flush=True)
    out["target_p99_under_200ms"] = bool(out.get("p99_ms", 1e9) < 200.0)
    return out


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
