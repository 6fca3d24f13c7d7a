"""A firmware simulator for the posture clip: motion model, scenarios, packets, recordings.

docs/simulator.md describes the model, the sensor frame and the scenario files.
"""

from firmware_sim.motion import MOUNTS, Simulation, simulate, simulate_iter
from firmware_sim.packets import packet_batches, packets, stream_packets
from firmware_sim.recording import (
    Recording,
    TruthEvent,
    TruthSegment,
    read_recording,
    truth_path,
    write_pieces,
    write_recording,
)
from firmware_sim.scenario import (
    Scenario,
    ScenarioError,
    ScenarioSegment,
    load_scenario,
    random_day,
    scenario_names,
)

__all__ = [
    "MOUNTS",
    "Recording",
    "Scenario",
    "ScenarioError",
    "ScenarioSegment",
    "Simulation",
    "TruthEvent",
    "TruthSegment",
    "load_scenario",
    "packet_batches",
    "packets",
    "random_day",
    "read_recording",
    "scenario_names",
    "simulate",
    "simulate_iter",
    "stream_packets",
    "truth_path",
    "write_pieces",
    "write_recording",
]
