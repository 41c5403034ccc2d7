"""Screenshots of every screen at 800×480 and 1080×1920, normal and elder mode, into docs/screens/.

    xvfb-run -a -s "-screen 0 1080x1920x24" .venv/bin/python tests/capture_screens.py

Runs the real app through tests/ui_driver.py on a throwaway state directory (no broker: the offline
banner shows, as it would on a booth whose network is down).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image

from tests.support import free_port, kiosk_config_data, write_toml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screens"
DIGITS = [["tap", f"phone_{d}"] for d in "13800000000"]


def scenario(prefix: str, elder: bool) -> list:
    def shot(name: str) -> list:
        return ["shot", str(OUT / f"{prefix}-{name}.png")]

    again = [["tap", "elder"]] if elder else []  # each citizen starts in normal type: elder mode is tapped anew

    return [
        *again,
        shot("home"), ["tap", "tile_browse"], shot("browse"), ["tap", "dept_公安"], shot("department"),
        ["tap", "item_GA-002"], ["wait", 0.5], shot("guide"), ["tap", "home"], *again, ["tap", "tile_browse"],
        ["tap", "search"], ["tap", "key_s"], ["tap", "key_b"], ["tap", "key_k"], shot("search"),
        ["tap", "home"], *again, ["tap", "tile_do_here"], shot("do-here"), ["tap", "item_RS-002"], ["tap", "apply"],
        shot("identify"), ["card", 1], shot("identified"), ["tap", "next"], ["tap", "reason=遗失"], *DIGITS,
        shot("apply"), ["card", 0], shot("card-lifted"), ["card", 1],
        ["tap", "submit"], ["wait", 1], shot("receipt"), ["tap", "finish"], *again, ["tap", "tile_help"],
        shot("help"), ["tap", "home"], *again, ["printer", "paper_end", True], ["tap", "tile_browse"],
        ["tap", "dept_公安"], ["tap", "item_GA-001"], ["wait", 0.5], shot("guide-printer-out"),
        ["idle", 110 if elder else 50], shot("countdown"),
        ["tap", "still_here"], ["printer", "paper_end", False], ["tap", "home"], *again, ["tap", "tile_browse"],
        ["tap", "dept_公安"], ["tap", "item_GA-001"], ["tap", "book"], ["tap", "identify"], ["card", 0],
        ["card", 1], ["tap", "next"], ["tap", "half_am"], shot("book"), ["tap", "home"], *again, ["tap", "tile_browse"],
        ["tap", "dept_公安"], ["tap", "item_GA-006"], ["tap", "rate"], ["tap", "level_2"],
        ["tap", "why_排队等候时间长"], shot("rate"),
        ["tap", "home"], *again, ["tap", "tile_progress"], *[["tap", f"key_{c}"] for c in "01jd5x3k"], shot("progress"),
        ["tap", "home"], *again, ["tap", "tile_browse"], shot("bundles"),
        ["tap", "home"], *again, ["tap", "language"], ["tap", "tile_browse"], ["tap", "dept_公安"],
        ["tap", "item_GA-006"], ["tap", "rate"], shot("rate-english"), ["tap", "home"],
    ]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in ("800x480", "1080x1920"):
        for elder in (False, True):
            prefix = f"{size}{'-elder' if elder else ''}"
            with tempfile.TemporaryDirectory() as tmp:
                config = write_toml(Path(tmp) / "kiosk.toml", kiosk_config_data(
                    Path(tmp) / "state", free_port(), device={"site": "市民中心 24小时自助服务区"},
                    session={"idle_timeout_s": 60, "countdown_s": 15}))
                steps = Path(tmp) / "steps.json"
                steps.write_text(json.dumps(scenario(prefix, elder), ensure_ascii=False), encoding="utf-8")
                done = subprocess.run([sys.executable, str(ROOT / "tests" / "ui_driver.py"), str(config), size,
                                       str(steps)], capture_output=True, text=True, timeout=300)
                errors = [line for line in done.stdout.splitlines() if '"error"' in line]
                print(f"{prefix}: exit {done.returncode}, {len(errors)} errors", *errors, sep="\n")
    for png in OUT.glob("*.png"):  # 256 colours are plenty for flat UI; a quarter of the bytes in git
        Image.open(png).convert("RGB").quantize(256).save(png, optimize=True)


if __name__ == "__main__":
    main()
