"""Live cost: the daemon as a process with N simulated sensors in real time at 50 Hz.

Each run starts a private mosquitto, writes a config with N ``source = "sim"`` sensors at
speed 1 (real time), starts ``python -m postured run``, lets it settle, then measures its
CPU (percent of one core) over a window and its peak RSS. Figures under
``live.sensors_<N>``; ``per_sensor_cpu_percent`` shows how cost grows with N.

The simulated sensors run inside the daemon, so part of its CPU is the simulator's:
``sim_cpu_percent`` is what generating and encoding the same sensors' packets for the same
window costs, timed in this process, and ``daemon_side_cpu_percent`` the rest (decoding,
detection, MQTT, the event loop: what a daemon with real sensors pays).
CPU is read from each thread's ``/proc/<pid>/task/<tid>/schedstat`` (nanoseconds), not
from clock ticks: one sensor costs a few ticks in a 30 s window, which a tick count
cannot resolve. ``floor`` is the same daemon with no sensor at all (its event loop, its
periodic tasks and the MQTT client's thread): what one sensor's figure cannot go below.
``rss_by_import`` is the resident set of a bare interpreter after importing each heavy
dependency, so the peak RSS can be read as interpreter + libraries + the daemon's own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import CpuWindow, peak_rss_mb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.mosquitto import Mosquitto, Subscriber  # noqa: E402


def write_config(path: Path, port: int, n: int, state_dir: Path) -> None:
    sensors = "".join(
        f'\n[[sensors]]\nid = "s{i:03d}"\nname = "Sim {i}"\nsource = "sim"\n'
        f'scenario = "workday"\nseed = {i + 1}\nrate_hz = 50\nspeed = 1.0\n'
        for i in range(n)
    )
    path.write_text(
        f'[service]\nstate_dir = "{state_dir}"\nlog_level = "warning"\n\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\n{sensors}'
    )


SIM_SPAN_S = 120.0


def sim_cpu_seconds(n: int, sim_s: float) -> float:
    """CPU seconds the simulator takes to generate and encode ``sim_s`` simulated seconds of
    ``n`` sensors (as the daemon's sim sources do, seeds 1..n, 50 Hz, 244-byte packets)."""
    import firmware_sim  # noqa: PLC0415 - only this benchmark needs the simulator here

    scenario = firmware_sim.load_scenario("workday")
    total = 0.0
    for i in range(n):
        sim = firmware_sim.Simulation(scenario, seed=i + 1, rate_hz=50, mount="collar")
        t0 = time.process_time()
        for times, _raw in firmware_sim.packet_batches(sim.chunks(60.0), max_payload=244):
            if len(times) and float(times[-1]) >= sim_s:
                break
        total += time.process_time() - t0
    return total


def rss_by_import() -> dict[str, float]:
    """Resident MiB of a fresh interpreter, and after importing each heavy dependency."""
    code = (
        "import importlib, json, sys\n"
        "def rss():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmRSS:'): return int(line.split()[1]) / 1024\n"
        "out = {'python': rss()}\n"
        "for m in sys.argv[1:]:\n"
        "    importlib.import_module(m); out[m] = rss()\n"
        "print(json.dumps(out))\n"
    )
    mods = ["numpy", "aiohttp", "bleak", "postured.runtime.daemon"]
    res = subprocess.run(
        [sys.executable, "-c", code, *mods], capture_output=True, text=True, check=True
    )
    cumulative: dict[str, float] = json.loads(res.stdout)
    out, before = {}, 0.0
    for name, mb in cumulative.items():  # each import's own share, in import order
        out[name] = round(mb - before, 1)
        before = mb
    out["total_after_imports"] = round(before, 1)
    return out


class ThreadCpu:
    """A process's CPU over a window from its threads' schedstat (ns), as CpuWindow does.

    Falls back to CpuWindow's clock ticks when a thread came or went in the window (a
    thread that ended takes its schedstat with it; /proc/<pid>/stat keeps the ticks)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.ticks = CpuWindow(pid)
        self._ns0: dict[str, int] = {}
        self._t0 = 0.0

    def _ns(self) -> dict[str, int]:
        out = {}
        for tid in os.listdir(f"/proc/{self.pid}/task"):
            try:
                text = Path(f"/proc/{self.pid}/task/{tid}/schedstat").read_text()
            except OSError:
                continue
            out[tid] = int(text.split()[0])
        return out

    def start(self) -> None:
        self.ticks.start()
        self._ns0 = self._ns()
        self._t0 = time.monotonic()

    def percent(self) -> float:
        ns1 = self._ns()
        dt = time.monotonic() - self._t0
        by_ticks = self.ticks.percent()
        if set(ns1) != set(self._ns0) or dt <= 0:
            return by_ticks
        return 100.0 * (sum(ns1.values()) - sum(self._ns0.values())) / 1e9 / dt


def measure(n: int, window_s: float, settle_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="postured-bench-") as tmp:
        work = Path(tmp)
        broker = Mosquitto(work / "broker")
        broker.start()
        sub = Subscriber.start(broker.port, "posture/+/state")
        cfg = work / "postured.toml"
        write_config(cfg, broker.port, n, work / "state")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "postured", "run", "-c", str(cfg)],
            stdout=subprocess.DEVNULL,
            stderr=(work / "daemon.log").open("wb"),
            env=env,
        )
        try:
            # Settled once every sensor has published a state and start-up work is done.
            deadline = time.monotonic() + settle_s + 120
            while len({t for t, _ in sub.lines()}) < n and time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise RuntimeError((work / "daemon.log").read_text()[-2000:])
                time.sleep(0.2)
            # With no sensor there is no state to wait for: give start-up the time it takes.
            time.sleep(settle_s if n else settle_s + 3.0)
            win = ThreadCpu(proc.pid)
            n_before = len(sub.lines())
            win.start()
            time.sleep(window_s)
            cpu = win.percent()
            states = len(sub.lines()) - n_before
            rss = peak_rss_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            sub.close()
            broker.stop()
    if n == 0:
        return {"cpu_percent": round(cpu, 3), "rss_mb": round(rss, 1), "window_s": window_s}
    # The simulator works a minute at a time: time two whole ones for its steady rate.
    sim_pct = 100.0 * sim_cpu_seconds(n, SIM_SPAN_S) / SIM_SPAN_S
    return {
        "cpu_percent": round(cpu, 3),
        "sim_cpu_percent": round(sim_pct, 3),
        "daemon_side_cpu_percent": round(cpu - sim_pct, 2),
        "per_sensor_cpu_percent": round(cpu / n, 3),
        "rss_mb": round(rss, 1),
        "samples_per_s": 50 * n,
        "state_messages_in_window": states,
        "window_s": window_s,
    }


def run(quick: bool) -> dict[str, Any]:
    window, settle = (5.0, 1.5) if quick else (30.0, 3.0)
    out: dict[str, Any] = {}
    for n in (1, 10, 100):
        print(f"  {n} sensor(s), {window:.0f} s window ...", flush=True)
        out[f"sensors_{n}"] = measure(n, window, settle)
        print(f"    {out[f'sensors_{n}']}", flush=True)
    print(f"  no sensor (the floor), {window:.0f} s window ...", flush=True)
    out["floor"] = measure(0, window, settle)
    print(f"    {out['floor']}", flush=True)
    out["rss_by_import"] = rss_by_import()
    out["targets"] = {
        "sensors_1_cpu_under_0_2": out["sensors_1"]["cpu_percent"] < 0.2,
        "sensors_100_cpu_under_10": out["sensors_100"]["cpu_percent"] < 10.0,
        "sensors_100_daemon_side_under_10": out["sensors_100"]["daemon_side_cpu_percent"] < 10.0,
        "sensors_1_rss_under_60mb": out["sensors_1"]["rss_mb"] < 60.0,
    }
    return out


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
