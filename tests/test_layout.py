"""The package layout's dependency rules (docs/interfaces.md), checked on every import.

Each room of ``postured`` may import only the rooms below it, so that the pure core and the
wire format never reach an edge, and ``firmware_sim`` shares only the wire format with the
daemon. Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "daemon" / "postured"

# Room -> the rooms it may import besides itself. ``errors`` (the exception tree) and
# ``config.settings`` (how a dataclass declares a key) are leaves every room may use.
LEAVES = {"errors", "config.settings", "postured"}
ALLOWED: dict[str, set[str]] = {
    "wire": set(),
    "core": set(),
    "ports": {"wire", "core"},
    "config": {"wire", "core"},
    "adapters": {"wire", "core", "ports", "config"},
    "dashboard": {"wire", "core", "ports", "config", "adapters"},
    "runtime": {"wire", "core", "ports", "config", "adapters", "dashboard"},
    # Offline tools replay through the simulator seam and may fill a history database.
    "analysis": {"wire", "core", "ports", "config", "adapters.sim", "adapters.history"},
    "app": {"wire", "core", "ports", "config", "adapters", "dashboard", "runtime", "analysis"},
}


def _room(module: str) -> str:
    """``postured.adapters.ble.link`` -> ``adapters``; ``postured.errors`` -> ``errors``."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1].startswith("__"):  # __init__, __main__, __version__
        return "postured"
    return parts[1]


def _imports(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            # ``from postured import demo`` imports the module postured.demo
            found.extend(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.extend(a.name for a in node.names)
    return found


def _module(path: Path, base: Path) -> str:
    return ".".join(path.relative_to(base).with_suffix("").parts)


def _modules(top: str) -> list[Path]:
    base = PACKAGE if top == "postured" else ROOT / top
    return sorted(base.rglob("*.py"))


def _allowed(src: str, target: str) -> bool:
    room = _room(src)
    t_parts = target.split(".")
    t_room = _room(target)
    if t_room == room or t_room in LEAVES or ".".join(t_parts[1:3]) in LEAVES:
        return True
    allowed = ALLOWED.get(room)
    if allowed is None:  # postured/__init__, __main__: the entry into the app
        return True
    return t_room in allowed or ".".join(t_parts[1:3]) in allowed


def test_every_room_imports_only_rooms_below_it() -> None:
    bad: list[str] = []
    for path in _modules("postured"):
        src = "postured." + _module(path, PACKAGE)
        for target in _imports(path):
            if target.split(".")[0] == "postured" and not _allowed(src, target):
                bad.append(f"{src} imports {target}")
    assert bad == []


def test_only_the_sim_adapter_imports_the_simulator() -> None:
    importers = {
        "postured." + _module(path, PACKAGE)
        for path in _modules("postured")
        if any(t.split(".")[0] == "firmware_sim" for t in _imports(path))
    }
    assert importers == {"postured.adapters.sim"}


def test_the_simulator_shares_only_the_wire_format_with_the_daemon() -> None:
    bad = [
        f"{_module(path, ROOT)} imports {target}"
        for path in _modules("firmware_sim")
        for target in _imports(path)
        if target.split(".")[0] == "postured"
        and target.split(".")[1] not in ("wire", "errors")
        and target != "postured"
    ]
    assert bad == []


@pytest.mark.parametrize(
    "package", sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py")), ids=str
)
def test_each_room_says_what_belongs_there(package: str) -> None:
    doc = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text("utf-8")))
    assert doc is not None
    assert len(doc) > 40


def test_the_rules_catch_a_wrong_direction() -> None:
    # The checker itself: an edge reaching into the runtime, the core reaching an edge.
    assert not _allowed("postured.adapters.mqtt.bridge", "postured.runtime.daemon")
    assert not _allowed("postured.core.detector", "postured.adapters.state")
    assert not _allowed("postured.wire.stream", "postured.ports.source")
    assert _allowed("postured.runtime.daemon", "postured.adapters.mqtt.bridge")
    assert _allowed("postured.core.config", "postured.config.settings")


def test_the_interfaces_page_lists_every_module() -> None:
    page = (ROOT / "docs" / "interfaces.md").read_text("utf-8")
    missing = [
        path.relative_to(PACKAGE).as_posix()
        for path in _modules("postured")
        if f"`{path.relative_to(PACKAGE).as_posix()}`" not in page
    ]
    assert missing == []
