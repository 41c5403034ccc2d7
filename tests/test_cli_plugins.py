"""The `kiosk` command finds its subcommands and the touchscreen through entry points, so the core imports
nothing of the layers above it (central, provisioning, screens), not even inside a function."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KIOSK = [sys.executable, "-m", "appliance.cli"]
ABOVE_THE_CORE = {"central", "provisioning", "screens"}
IMPORTERS = {"import_module", "__import__"}


def upward_imports(source: str) -> list[str]:
    """Every import in `source` of a package above the core: `import x`, `from x import y` and
    `importlib.import_module("x")` / `__import__("x")` with a literal name, wherever they stand."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if called in IMPORTERS and isinstance(node.args[0].value, str):
                names = [node.args[0].value]
        found += [f"line {node.lineno}: {name}" for name in names if name.split(".")[0] in ABOVE_THE_CORE]
    return found


@pytest.mark.parametrize("snippet", [
    "import central.cli",
    "import os, screens.app as app",
    "from provisioning.init import add_provision_commands",
    "def run():\n    if True:\n        from screens.theme import configure_kivy\n",
    "class C:\n    def m(self):\n        import provisioning\n",
    "import importlib\nimportlib.import_module('central.cli')",
    "__import__('screens')",
])
def test_the_checker_finds_an_upward_import_wherever_it_stands(snippet: str) -> None:
    assert upward_imports(snippet), snippet


@pytest.mark.parametrize("snippet", [
    "import centralized", "from appliance.screening import x", "from . import central", "name = 'central.cli'",
    "from appliance.catalog.command import add_catalog_commands",
])
def test_the_checker_leaves_other_imports_alone(snippet: str) -> None:
    assert upward_imports(snippet) == []


def test_the_core_imports_nothing_above_it() -> None:
    modules = sorted((ROOT / "appliance").rglob("*.py"))
    assert len(modules) > 30  # the whole core, sub-packages included
    found = {str(path.relative_to(ROOT)): upward_imports(path.read_text(encoding="utf-8")) for path in modules}
    assert {path: lines for path, lines in found.items() if lines} == {}


def test_every_subcommand_is_found_by_its_entry_point() -> None:
    shown = subprocess.run([*KIOSK, "--help"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    for name in ("run", "status", "config", "catalog", "sim", "central", "provision"):
        assert name in shown.stdout.split("{", 1)[1].split("}", 1)[0].split(","), shown.stdout
    for words in (["central", "serve", "--help"], ["provision", "check", "--help"], ["sim", "printer", "--help"],
                  ["catalog", "search", "--help"]):
        helped = subprocess.run([*KIOSK, *words], capture_output=True, text=True, timeout=60)
        assert helped.returncode == 0 and "usage: kiosk" in helped.stdout, words


def _plugin(site: Path, entry: str, requires: str) -> dict[str, str]:
    """A distribution of its own on the path, adding `kiosk` subcommands by the public entry point group."""
    info = site / "kiosk_test_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kiosk-test-plugin\nVersion: 1.0\n"
                                   f"Provides-Extra: absent\nProvides-Extra: present\n{requires}", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[kiosk.commands]\n{entry}\n", encoding="utf-8")
    (site / "kiosk_test_plugin_broken.py").write_text("import no_such_module_for_kiosk_tests\n", encoding="utf-8")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}


def test_a_subcommand_whose_extra_is_missing_shows_and_says_what_to_install(tmp_path: Path) -> None:
    env = _plugin(tmp_path / "site", "faraway = kiosk_test_plugin_nowhere:add [absent]",
                  'Requires-Dist: no-such-dist-for-kiosk-tests; extra == "absent"\n')
    shown = subprocess.run([*KIOSK, "--help"], capture_output=True, text=True, timeout=60, env=env)
    assert shown.returncode == 0 and "faraway" in shown.stdout, shown.stdout + shown.stderr
    assert "pipinstall'kiosk-test-plugin[absent]'" in "".join(shown.stdout.split())  # help wraps its lines
    for words in (["faraway"], ["faraway", "serve", "--database", "x"], ["faraway", "--help"]):
        used = subprocess.run([*KIOSK, *words], capture_output=True, text=True, timeout=60, env=env)
        assert used.returncode == 2, used
        assert used.stdout == "" and used.stderr.count("\n") == 1, used.stderr
        assert "pip install 'kiosk-test-plugin[absent]'" in used.stderr and "Traceback" not in used.stderr
    still = subprocess.run([*KIOSK, "config", "check", "--bogus"], capture_output=True, text=True, timeout=60, env=env)
    assert still.returncode == 2 and "unrecognized arguments: --bogus" in still.stderr  # others stay strict


def test_a_subcommand_that_cannot_be_imported_names_its_extra(tmp_path: Path) -> None:
    env = _plugin(tmp_path / "site", "broken = kiosk_test_plugin_broken:add [present]",
                  'Requires-Dist: pydantic; extra == "present"\n')
    used = subprocess.run([*KIOSK, "broken", "go"], capture_output=True, text=True, timeout=60, env=env)
    assert used.returncode == 2 and used.stderr.count("\n") == 1, used.stderr
    assert "pip install 'kiosk-test-plugin[present]'" in used.stderr and "no_such_module" in used.stderr
    fine = subprocess.run([*KIOSK, "catalog", "search", "身份证", "--limit", "1"], capture_output=True, text=True,
                          timeout=60, env=env)
    assert fine.returncode == 0 and fine.stdout.startswith(" 1."), fine.stderr


def test_kiosk_run_shows_the_touchscreen_found_by_its_entry_point(display: str, tmp_path: Path) -> None:
    """Without --headless, `kiosk run` runs the `kiosk.touchscreen` entry point: the core and the screens
    until SIGTERM, then exit status 0."""
    import signal
    import threading

    from tests.support import free_port, kiosk_config_data, wait_until, write_toml

    config = write_toml(tmp_path / "kiosk.toml", kiosk_config_data(tmp_path / "state", free_port()))
    booth = subprocess.Popen([*KIOSK, "run", "--config", str(config)], env={**os.environ, "DISPLAY": display},
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    said: list[str] = []
    reader = threading.Thread(target=lambda: said.extend(booth.stderr), daemon=True)
    reader.start()
    try:  # Kivy's own loop running: the touchscreen, not the core alone
        wait_until(lambda: booth.poll() is not None or any("Start application main loop" in s for s in said),
                   timeout=90)
        assert booth.poll() is None, "".join(said)
    finally:
        booth.send_signal(signal.SIGTERM)
        booth.wait(timeout=30)
        reader.join(timeout=10)
    assert booth.returncode == 0, "".join(said)


def test_kiosk_run_without_its_touchscreen_says_what_to_install(tmp_path: Path) -> None:
    from tests.support import free_port, kiosk_config_data, write_toml

    site = tmp_path / "site"
    env = _plugin(site, "", 'Requires-Dist: no-such-dist-for-kiosk-tests; extra == "absent"\n')
    info = site / "kiosk_test_plugin-1.0.dist-info" / "entry_points.txt"
    info.write_text("[kiosk.touchscreen]\naaa-first = kiosk_test_plugin_nowhere:run [absent]\n", encoding="utf-8")
    config = write_toml(tmp_path / "kiosk.toml", kiosk_config_data(tmp_path / "state", free_port()))
    refused = subprocess.run([*KIOSK, "run", "--config", str(config)], capture_output=True, text=True, timeout=60,
                             env=env)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "pip install 'kiosk-test-plugin[absent]'" in refused.stderr and "--headless" in refused.stderr
