"""Elder mode by the numbers (tools/measure_screens.py): the real app under Xvfb, driven through every citizen
screen by tests/ui_driver.py, each screen's widget tree measured — and the measurement shown to catch what
misses (a pale label and a 5 mm button planted on home are flagged, with nothing else there)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from screens import theme
from tools import measure_screens as tool

ROOT = Path(__file__).resolve().parent.parent
SCREENS = ["home", "browse", "department", "guide", "bundle", "search", "do_here", "identify", "identify: card read",
           "apply", "apply: card lifted", "receipt", "rate", "progress", "progress: answered", "progress: by ID card",
           "book", "help", "assist", "assist_phone", "assist_status", "guide: printer out", "countdown"]


def test_contrast_and_density_as_defined() -> None:
    """WCAG's ratio (black on white 21:1, a colour on itself 1:1), the panels' densities from their diagonals, and
    the font's glyph height the theme assumes."""
    assert tool.contrast((0, 0, 0, 1), (1, 1, 1, 1)) == pytest.approx(21.0)
    assert tool.contrast(theme.ACCENT, theme.ACCENT) == pytest.approx(1.0)
    assert tool.contrast((0.62, 0.64, 0.67, 1), theme.PANEL) < 3  # what --plant adds
    assert theme.pixels_per_mm(800, 480) == pytest.approx(5.25, abs=0.01)  # 7 in: 133 ppi
    assert theme.pixels_per_mm(1080, 1920) == pytest.approx(4.03, abs=0.01)  # 21.5 in: 102 ppi
    assert tool.glyph_height() == pytest.approx(theme.GLYPH_HEIGHT, abs=0.01)


def test_elder_mode_at_800x480_meets_the_goals_and_a_planted_miss_is_flagged(display, tmp_path: Path) -> None:
    """On the 7-inch panel in elder mode: every text colour ≥ 4.5:1 on its background, every touch target ≥ 15 mm,
    body text ≥ 5 mm tall — search too, on its 九宫格 keypad there, the receipt, and the rating with a low level chosen
    and its reasons shown — and the pale grey label and small button planted on home are what the tool flags there,
    so it exits 1."""
    out = tmp_path / "measured.json"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "measure_screens.py"), "--sizes", "800x480",
                           "--modes", "elder", "--plant", "--json", str(out)], capture_output=True, text=True,
                          timeout=900, env={**os.environ, "DISPLAY": display})
    assert out.exists(), done.stderr[-3000:]
    [run] = json.loads(out.read_text(encoding="utf-8"))
    assert run["problems"] == [], "the scenario reached every screen"
    assert [s["name"] for s in run["screens"]] == SCREENS
    assert done.returncode == 1, "a miss (the planted one) fails the run"
    screens = {s["name"]: s for s in run["screens"]}

    home = screens.pop("home")
    assert [p["where"] for p in home["colours"] if p["ratio"] < 4.5] == ["planted_pale"]
    assert home["targets_under_goal"] == [["planted_small", pytest.approx(5.0, abs=0.2)]]

    for name, screen in screens.items():
        assert all(p["ratio"] >= 4.5 for p in screen["colours"]), (name, screen["colours"][:2])
        assert screen["body_text_mm"] >= 5, (name, screen["body_text_where"], screen["body_text_mm"])
        assert screen["targets_under_goal"] == [], (name, screen["targets_under_goal"])
        assert screen["cut"] == [], (name, screen["cut"])  # and nothing clipped or off the window
