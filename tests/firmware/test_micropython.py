"""The pure modules under MicroPython's WebAssembly port (npm), compared with the daemon.

And every firmware file must compile with mpy-cross, MicroPython's own compiler.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from postured.wire.protocol import decode_packet, encode_packet
from tests.firmware.conftest import FIRMWARE_DIR
from tests.firmware.strategies import random_control, random_packet_case
from tests.firmware.test_wire import _daemon_control

WASM_DIR = Path(__file__).resolve().parent / "wasm"
MODULE = WASM_DIR / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
CASES = 5000


def _run_micropython(tmp_path: Path, lines: list[str]) -> list[str]:
    node = shutil.which("node")
    if node is None or not MODULE.exists():
        pytest.fail("needs node and `make firmware-test-deps` (npm ci in tests/firmware/wasm)")
    inp = tmp_path / "input.txt"
    inp.write_text("\n".join(lines) + "\n")
    proc = subprocess.run(
        [node, "run.mjs", str(FIRMWARE_DIR), "cases.py", str(inp)],
        cwd=WASM_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_micropython_packets_equal_the_daemons(tmp_path: Path) -> None:
    rng = random.Random(15)
    cases = [random_packet_case(rng) for _ in range(CASES)]
    lines = [
        f"p {seq} {t0} {rate} {rg} " + ";".join(f"{x},{y},{z}" for x, y, z in s)
        for seq, t0, rate, rg, s in cases
    ]
    got = _run_micropython(tmp_path, lines)
    want = [encode_packet(seq, t0, r, g, np.array(s)).hex() for seq, t0, r, g, s in cases]
    assert len(got) == CASES
    assert got == want


def test_micropython_controls_and_clock_agree(tmp_path: Path) -> None:
    rng = random.Random(16)
    raws = [random_control(rng) for _ in range(1000)]
    start = (1 << 30) - 500
    steps = [rng.randint(0, 400) for _ in range(20)] + [2**29 - 1, 2**29 - 1, 7]
    lines = [f"c {raw.hex()}" for raw in raws] + [
        f"k {start} {2**32 - 3000} " + " ".join(map(str, steps))
    ]
    got = _run_micropython(tmp_path, lines)
    for raw, answer in zip(raws, got[:-1], strict=True):
        want = _daemon_control(raw)
        assert answer == ("error" if want is None else "{} {} {}".format(*want)), raw.hex()
    total, clock_want = 2**32 - 3000, []
    for step in steps:
        total += step
        clock_want.append(str(total % 2**32))
    assert got[-1].split() == clock_want


def _cpython_packer(rate: int, mtu: int, n: int) -> str:
    from postureclip.packer import Packer  # noqa: PLC0415 - firmware/ is on sys.path by conftest

    packer, out = Packer(rate, 8, mtu=mtu), []
    for i in range(n):
        length = packer.add(i * 7, i, -i, i * 3)
        if length:
            out.append(bytes(packer.buf[:length]).hex())
    length = packer.flush()
    if length:
        out.append(bytes(packer.buf[:length]).hex())
    return " ".join(out)


def test_micropython_packer_matches_cpython(tmp_path: Path) -> None:
    cases = [(25, 23, 3), (50, 247, 101), (100, 247, 200), (100, 100, 31), (50, 185, 40)]
    got = _run_micropython(tmp_path, [f"q {r} {m} {n}" for r, m, n in cases])
    assert got == [_cpython_packer(*c) for c in cases]
    for line, (_, _, n) in zip(got, cases, strict=True):
        pkts = [decode_packet(bytes.fromhex(h)) for h in line.split()]
        assert sum(p.n for p in pkts) == n
        assert [p.seq for p in pkts] == list(range(len(pkts)))


FIRMWARE_FILES = sorted(FIRMWARE_DIR.rglob("*.py"))


@pytest.mark.parametrize("path", FIRMWARE_FILES, ids=lambda p: str(p.relative_to(FIRMWARE_DIR)))
def test_mpy_cross_compiles(path: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mpy_cross", "-o", str(tmp_path / "out.mpy"), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
