"""The dependency rule: the governance core and storage import no platform library."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_LIBRARIES = {"telegram", "nio"}
CORE = ("handlers", "storage", "schedules")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_imports_no_platform_library():
    """handlers/, storage/ and schedules/ never import telegram or nio (ARCHITECTURE.md)."""
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & PLATFORM_LIBRARIES)
        for package in CORE
        for path in (ROOT / package).rglob("*.py")
        if _imports(path) & PLATFORM_LIBRARIES
    }
    assert offenders == {}


def test_storage_does_not_import_the_core():
    """storage/ knows nothing of handlers/ or schedules/: it raises its own errors."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "storage").rglob("*.py")
        if _imports(path) & {"handlers", "schedules", "bot"}
    ]
    assert offenders == []


def test_core_does_not_import_the_adapters():
    """Data flows one way: bot/ calls the core, never the reverse."""
    offenders = [
        str(path.relative_to(ROOT))
        for package in CORE
        for path in (ROOT / package).rglob("*.py")
        if "bot" in _imports(path)
    ]
    assert offenders == []


def test_chance_comes_only_from_draws():
    """Nothing the bot runs imports `random`: its draws (handlers/draws.py) are replayable, and its only chance."""
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("bot", *CORE)
        for path in (ROOT / package).rglob("*.py")
        if "random" in _imports(path)
    ]
    assert offenders == []
