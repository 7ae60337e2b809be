"""Rules of the code's shape, read from the source with `ast`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "socialtrading"
# names the code gives engine records (and the accepted record a rest refers back to)
RECORD_NAMES = frozenset({"record", "rec", "r", "entering"})


def _modules(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (PACKAGE / folder).rglob("*.py"))


def _outside_engine() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "engine" not in p.relative_to(PACKAGE).parts)


@pytest.mark.parametrize("path", _outside_engine(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_outside_the_engine_reads_a_record_field_by_number(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [
        f"{path.name}:{node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id in RECORD_NAMES
        and isinstance(node.slice, ast.Constant | ast.Slice)
    ]
    assert not found, f"read record fields by name (engine/records.py): {found}"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n.startswith("socialtrading.")}


# Bottom up: engine -> domain -> infra -> commands / projections / audit -> policies ->
# graphql -> entrypoints (policies send commands: they sit above commands, beside nothing that
# reads). A policy that needs a read model (the risk gate reads the statistics) takes it as a
# source the wiring passes (`policies/risk_gate.RiskSource`), never by import.
# `audit` reads the log through infra and re-runs the domain's rules; it imports no
# handler and no read model, so a verification never rests on the code paths it checks.
LAYERS = {
    "engine": {"engine"},
    "domain": {"engine", "domain"},
    "infra": {"engine", "domain", "infra"},
    "commands": {"engine", "domain", "infra", "commands"},
    "projections": {"engine", "domain", "infra", "projections"},
    "audit": {"engine", "domain", "infra", "audit"},
    "policies": {"engine", "domain", "infra", "commands", "policies"},
    "graphql": {
        "engine",
        "domain",
        "infra",
        "commands",
        "projections",
        "audit",
        "policies",
        "graphql",
    },
}


@pytest.mark.parametrize(("folder", "allowed"), sorted(LAYERS.items()))
def test_no_layer_imports_one_above_it(folder: str, allowed: set[str]) -> None:
    for path in _modules(folder):
        layers = {name.split(".")[1] for name in _imports(path)}
        assert layers <= allowed, f"{path.relative_to(PACKAGE)} imports {layers - allowed}"
