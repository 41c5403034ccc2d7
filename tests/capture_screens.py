"""Screenshots of every screen at 800×480 and 1080×1920, normal and elder mode, into docs/screens/.

    xvfb-run -a -s "-screen 0 1080x1920x24" .venv/bin/python tests/capture_screens.py [assist | rating]

(KIOSK_SCREENS_OUT=DIR writes them elsewhere.)

Runs the real app through tests/ui_driver.py on a throwaway state directory (no broker: the offline
banner shows, as it would on a booth whose network is down). `assist` takes only the 帮办代办 screens,
every state of a call: the booth on a TLS broker with tests/assist_central.py answering as central's
desk, each answer after the screenshot of the state before; and `saved` with no broker. `rating` takes only the
好差评 offered after each task (the guide once its notice is printed, the booking made, the receipt).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import date, datetime, timedelta
from datetime import time as datetime_time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image

from appliance.contract import AssistMode, AssistState
from tests.assist_central import ScriptedDesk
from tests.support import Mosquitto, free_port, kiosk_config_data, make_test_ca, write_toml

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(os.environ.get("KIOSK_SCREENS_OUT", ROOT / "docs" / "screens"))  # elsewhere: to compare, or to pick
DIGITS = [["tap", f"phone_{d}"] for d in "13800000000"]


def scenario(prefix: str, elder: bool) -> list:
    def shot(name: str) -> list:
        return ["shot", str(OUT / f"{prefix}-{name}.png")]

    again = [["tap", "elder"]] if elder else []  # each citizen starts in normal type: elder mode is tapped anew

    return [
        *again,
        shot("home"), ["tap", "tile_browse"], shot("browse"), ["tap", "dept_公安"], shot("department"),
        ["tap", "item_GA-002"], ["wait", 0.5], shot("guide"), ["tap", "home"], *again, ["tap", "tile_browse"],
        ["tap", "search"], ["spell", "sbk"], shot("search"),
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
        ["tap", "home"], *again, ["tap", "tile_progress"], ["key_in_receipt"], ["tap", "progress_ask"], ["wait", 1],
        shot("progress"), ["card", 0], ["card", 1], ["wait", 1.5], shot("progress-card"), ["card", 0],
        ["tap", "home"], *again, ["tap", "tile_browse"], shot("bundles"),
        ["tap", "home"], *again, ["tap", "language"], ["tap", "tile_browse"], ["tap", "dept_公安"],
        ["tap", "item_GA-006"], ["tap", "rate"], shot("rate-english"), ["tap", "home"],
    ]


def rating_scenario(prefix: str, elder: bool) -> list:
    """好差评 offered as each task is done: the notice printed (the offer on the guide, the rate screen it opens),
    a booking made, an application filed (its receipt)."""
    def shot(name: str) -> list:
        return ["shot", str(OUT / f"{prefix}-{name}.png")]

    again = [["tap", "elder"]] if elder else []
    day = next(d for d in (date.today() + timedelta(days=n) for n in range(1, 8)) if d.weekday() < 5)
    return [
        *again, ["tap", "tile_browse"], ["tap", "dept_公安"], ["tap", "item_GA-001"], ["tap", "print_notice"],
        ["wait", 1.5], shot("guide-rate-offer"), ["tap", "rate"], shot("rate-offered"), ["tap", "back"],
        ["tap", "rate_skip"], ["tap", "book"], ["tap", "identify"], ["card", 1], ["tap", "next"],
        ["tap", f"day_{day.isoformat()}"], ["tap", "half_pm"], ["tap", "book_confirm"], ["wait", 1.5], shot("booked"),
        ["tap", "finish"], ["card", 0], *again, ["tap", "tile_do_here"], ["tap", "item_RS-002"], ["tap", "apply"],
        ["card", 1], ["tap", "next"], ["tap", "reason=遗失"], *DIGITS, ["tap", "submit"], ["wait", 1],
        shot("receipt"), ["tap", "finish"], ["card", 0],
    ]


def assist_scenario(prefix: str, elder: bool) -> tuple[list, list]:
    """Four citizens' calls for help, and central's desk answering each (assist_central.ScriptedDesk)."""
    def png(name: str) -> Path:
        return OUT / f"{prefix}-assist-{name}.png"

    def shot(name: str) -> list:
        return ["shot", str(png(name))]

    again = [["tap", "elder"]] if elder else []
    number = [["tap", f"cb_{d}"] for d in "13912345678"]
    steps = [
        *again, ["tap", "tile_browse"], ["tap", "dept_公安"], ["tap", "item_GA-001"], ["wait", 0.5],
        shot("guide-button"), ["tap", "need_help"], shot("choose"), ["tap", "assist_call_back"],
        *number[:7], ["tap", "phone_confirm"], shot("phone-invalid"), *number[7:], shot("phone"),
        ["tap", "phone_confirm"], ["until", "正在发送", 10], shot("sending"), ["until", "求助已送达", 15],
        ["wait", 2], shot("queued"), ["until", "分钟内回电", 15], shot("taken-call-back"), ["tap", "finish"],
        *again, ["tap", "tile_help"], shot("help"), ["tap", "call_staff"], ["tap", "assist_on_site"],
        ["until", "已接单", 15], shot("taken-on-site"), ["until", "已结束", 15], shot("closed"), ["tap", "finish"],
        *again, ["tap", "tile_browse"], ["tap", "need_help"], ["tap", "assist_on_site"],
        ["until", "还没有工作人员接单", 15], shot("no-answer"), ["tap", "finish"],
        *again, ["tap", "tile_help"], ["tap", "call_staff"], ["tap", "assist_on_site"],
        ["until", "不是工作时间", 15], shot("outside-hours"), ["tap", "finish"],
    ]
    call_back, on_site = AssistMode.CALL_BACK, AssistMode.ON_SITE
    queued = {"escalate_after_s": 180, "waited_s": 1}
    tomorrow = datetime.combine(date.today() + timedelta(days=1), datetime_time(8, 30)).astimezone().isoformat()
    scripts = [
        [(png("sending"), AssistState.QUEUED, call_back, queued),
         (png("queued"), AssistState.TAKEN, call_back, {"operator": "李明", "call_back_within_min": 10})],
        [(None, AssistState.QUEUED, on_site, queued),
         (None, AssistState.TAKEN, on_site, {"operator": "王芳"}),
         (png("taken-on-site"), AssistState.CLOSED, on_site, {"operator": "王芳", "outcome": "helped_on_site"})],
        [(None, AssistState.QUEUED, on_site, queued),
         (None, AssistState.ESCALATED, on_site, {"waited_s": 181})],
        [(None, AssistState.QUEUED, call_back, {"outside_hours": True, "staffed_from": tomorrow})],
    ]
    return steps, scripts


def saved_scenario(prefix: str, elder: bool) -> list:
    again = [["tap", "elder"]] if elder else []
    return [*again, ["tap", "tile_help"], ["tap", "call_staff"], ["tap", "assist_call_back"],
            *[["tap", f"cb_{d}"] for d in "13912345678"], ["tap", "phone_confirm"], ["wait", 1],
            ["shot", str(OUT / f"{prefix}-assist-saved.png")]]


def run(tmp: Path, prefix: str, size: str, steps: list, **sections) -> None:
    config = write_toml(tmp / "kiosk.toml", kiosk_config_data(
        tmp / "state", sections.pop("port", free_port()),
        device={"site": "市民中心 24小时自助服务区", "booth_code": "01234"},
        session={"idle_timeout_s": 60, "countdown_s": 15}, **sections))
    scenario_file = tmp / "steps.json"
    scenario_file.write_text(json.dumps(steps, ensure_ascii=False), encoding="utf-8")
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "ui_driver.py"), str(config), size,
                           str(scenario_file)], capture_output=True, text=True, timeout=300)
    errors = [line for line in done.stdout.splitlines() if '"error"' in line]
    print(f"{prefix}: exit {done.returncode}, {len(errors)} errors", *errors, sep="\n")


def capture_assist(prefix: str, size: str, elder: bool, tmp: Path) -> None:
    for old in OUT.glob(f"{prefix}-assist-*.png"):  # the desk answers when a state's screenshot exists
        old.unlink()
    tls = make_test_ca(tmp / "tls", "test-kiosk-0001")
    broker = Mosquitto(tmp / "broker", tls=tls).start()
    steps, scripts = assist_scenario(prefix, elder)
    desk = ScriptedDesk(broker, scripts)
    try:
        run(tmp, prefix, size, steps, port=broker.port, assist={"on_site": True}, broker={"tls": {
            "ca_file": str(tls.ca), "cert_file": str(tls.client_cert), "key_file": str(tls.client_key)}})
    finally:
        desk.close()
        broker.stop()
    with tempfile.TemporaryDirectory() as offline:
        run(Path(offline), prefix, size, saved_scenario(prefix, elder))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    only_assist = sys.argv[1:] == ["assist"]
    only_rating = sys.argv[1:] == ["rating"]
    started = datetime.now().timestamp()
    for size in ("800x480", "1080x1920"):
        for elder in (False, True):
            prefix = f"{size}{'-elder' if elder else ''}"
            with tempfile.TemporaryDirectory() as tmp:
                if only_assist:
                    capture_assist(prefix, size, elder, Path(tmp))
                    continue
                if not only_rating:
                    run(Path(tmp), prefix, size, scenario(prefix, elder))
            with tempfile.TemporaryDirectory() as tmp:
                if not only_assist:
                    run(Path(tmp), prefix, size, rating_scenario(prefix, elder))
    made = OUT.glob("*-assist-*.png") if only_assist else (
        png for png in OUT.glob("*.png") if png.stat().st_mtime >= started - 1)
    for png in made:  # 256 colours are plenty for flat UI
        Image.open(png).convert("RGB").quantize(256).save(png, optimize=True)


if __name__ == "__main__":
    main()
