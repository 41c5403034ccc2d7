"""Elder mode by the numbers: every citizen screen of the real app, at 800×480 (a 7-inch panel) and 1080×1920
(a 21.5-inch portrait panel), in normal and elder mode — the smallest text in millimetres on the panel, the
smallest touch target, and the contrast of every text colour on the background it is drawn on.

    xvfb-run -a -s "-screen 0 1080x1920x24" .venv/bin/python tools/measure_screens.py [--readme] [--json FILE]

prints Markdown tables (`--readme` also writes them into README.md between the measure_screens markers) and
exits 1 when a goal is missed: contrast ≥ 4.5:1 everywhere; in elder mode every touch target ≥ 15 mm and body
text ≥ 5 mm tall. `--sizes 800x480 --modes elder` measures less; `--plant` adds a pale grey label and a
small button to home first (the tool must flag them: tests/test_measure_screens.py).

How it measures (each run is the real app on simulated devices, offline, driven with touch events by
tests/ui_driver.py; at each ["look", "measure:NAME"] step the screen's widget tree — and an open pop-up's, which
then covers the screen — is walked):

- millimetres are the panel's own: its diagonal in pixels over its diagonal in millimetres (screens/theme.py
  `pixels_per_mm`: 800×480 at 7 in is 5.25 px/mm, 133 ppi; 1080×1920 at 21.5 in is 4.03 px/mm, 102 ppi);
- a text's height is the ink height of a Chinese character drawn at the label's font size (国 in Noto Sans CJK,
  measured here from the font file: 0.876 of the size in pixels), for every size in the label (a button's
  smaller second line, `[size=N]`, too). Body text is all of it but the header's site and clock, the status
  banners (offline, printer out) and those smaller second lines (a tile's hint, a department's count, an
  item's department): both minima are shown;
- a touch target is every button; its size is its smaller side;
- contrast is WCAG 2's ratio of relative luminances, (L1 + 0.05) / (L2 + 0.05), of the colour a label is
  drawn in (its disabled colour when disabled) on what is painted under it: a flat button's own fill, else the
  nearest enclosing widget that paints a rectangle, else the window's clear colour — composed by alpha.
  Opacity is taken as 1 for what is shown at all (the arrows beside the identify screen's card pictogram pulse).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = ("800x480", "1080x1920")
MODES = ("normal", "elder")
CONTRAST_GOAL = 4.5
ELDER_TARGET_MM = 15.0
ELDER_TEXT_MM = 5.0
README = ROOT / "README.md"
BEGIN, END = "<!-- measure_screens: begin -->", "<!-- measure_screens: end -->"
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
DIGITS = [["tap", f"phone_{d}"] for d in "13800000000"]
SIZE_TAG = re.compile(r"\[size=(\d+(?:\.\d+)?)(?:px)?\](.*?)\[/size\]", re.S)
ANY_TAG = re.compile(r"\[/?[a-z_]+(?:=[^\]]*)?\]")


def glyph_height() -> float:
    """The ink height of 国 in the booth's font, as a fraction of the font size (what "text height" means here)."""
    from PIL import ImageFont

    face = ImageFont.truetype(FONT, 1000)  # face 0, as Kivy opens the collection
    _left, top, _right, bottom = face.getbbox("国")
    return (bottom - top) / 1000


def density(width: int, height: int) -> float:
    try:
        from screens.theme import pixels_per_mm
    except ImportError:  # an older checkout, measured for comparison: the same panels
        return math.hypot(width, height) / ({(800, 480): 7.0, (1080, 1920): 21.5}[width, height] * 25.4)
    return pixels_per_mm(width, height)


def scenario(elder: bool, plant: bool = False) -> list:
    """A citizen through every screen of theirs (the maintainer's PIN and maintenance screens are not theirs)."""
    again = [["tap", "elder"]] if elder else []

    def look(name: str) -> list:
        return [["wait", 0.4], ["look", f"measure:{name}"]]

    planted = [["look", "plant"], ["wait", 0.5]] if plant else []
    return [
        *again, *planted, *look("home"),
        ["tap", "tile_browse"], *look("browse"), ["tap", "dept_公安"], *look("department"),
        ["tap", "item_GA-001"], ["wait", 0.5], *look("guide"), ["tap", "home"], *again,
        ["tap", "tile_browse"], ["tap", "bundle_YJS-001"], *look("bundle"), ["tap", "home"], *again,
        ["tap", "tile_browse"], ["tap", "search"], ["spell", "sbk"],
        *look("search"), ["tap", "home"], *again,
        ["tap", "tile_do_here"], *look("do_here"), ["tap", "item_RS-002"], ["tap", "apply"], *look("identify"),
        ["card", 1], *look("identify: card read"), ["tap", "next"], ["tap", "reason=遗失"], *DIGITS,
        *look("apply"), ["card", 0], *look("apply: card lifted"), ["card", 1], ["tap", "submit"], ["wait", 1],
        *look("receipt"), ["tap", "rate"], ["tap", "level_1"], ["tap", "why_排队等候时间长"], *look("rate"),
        ["tap", "home"], ["card", 0], *again, ["tap", "tile_progress"], *look("progress"), ["key_in_receipt"],
        ["tap", "progress_ask"], ["wait", 1], *look("progress: answered"), ["card", 1], ["wait", 1.5],
        *look("progress: by ID card"), ["card", 0], ["tap", "home"], *again,
        ["tap", "tile_browse"], ["tap", "dept_公安"], ["tap", "item_GA-001"], ["tap", "book"], ["tap", "identify"],
        ["card", 1], ["tap", "next"], ["tap", "half_am"], *look("book"), ["card", 0], ["tap", "home"], *again,
        ["tap", "tile_help"], *look("help"), ["tap", "call_staff"], *look("assist"), ["tap", "assist_call_back"],
        *[["tap", f"cb_{d}"] for d in "13912345678"], *look("assist_phone"), ["tap", "phone_confirm"], ["wait", 1],
        *look("assist_status"), ["tap", "finish"], *again, ["printer", "paper_end", True],
        ["tap", "tile_browse"], ["tap", "dept_公安"], ["tap", "item_GA-001"], ["wait", 0.5],
        *look("guide: printer out"), ["idle", 110 if elder else 50], *look("countdown"), ["tap", "still_here"],
        ["printer", "paper_end", False], ["tap", "home"],
    ]


# -- in the app (the child process) ---------------------------------------------------------------------
def walk(widget):
    yield widget
    for child in widget.children:
        yield from walk(child)


def shown(widget) -> bool:
    """On the window and not hidden (opacity 0 anywhere up the tree)."""
    if widget.get_root_window() is None:
        return False
    while widget is not None:
        if widget.opacity == 0:
            return False
        parent = widget.parent
        widget = parent if parent is not widget else None
    return True


def within(widget, container) -> bool:
    while container is not None and widget.parent is not None and widget.parent is not widget:
        widget = widget.parent
        if widget is container:
            return True
    return False


def scrolled(widget) -> bool:
    """Inside a scroll view: out of the window only until scrolled to."""
    from kivy.uix.scrollview import ScrollView

    while widget.parent is not None and widget.parent is not widget:
        widget = widget.parent
        if isinstance(widget, ScrollView):
            return True
    return False


def painted(widget):
    """The colour a widget paints under its children (a Color followed by a rectangle), or None."""
    from kivy.graphics import Color, Rectangle, RoundedRectangle
    from kivy.uix.button import Button

    if isinstance(widget, Button):
        return tuple(widget.background_color) if widget.background_normal == "" else None
    colour = None
    for instruction in widget.canvas.before.children:
        if isinstance(instruction, Color):
            colour = tuple(instruction.rgba)
        elif isinstance(instruction, (Rectangle, RoundedRectangle)) and colour is not None:
            return colour
    return None


def over(top, bottom):
    alpha = top[3]
    return (*(top[i] * alpha + bottom[i] * (1 - alpha) for i in range(3)), 1.0)


def background(label, clear):
    layers = []
    widget = label
    while widget is not None:
        colour = painted(widget)
        if colour is not None:
            layers.append(colour)
            if colour[3] >= 1:
                break
        parent = widget.parent
        widget = parent if parent is not widget else None
    result = (*clear[:3], 1.0)
    for colour in reversed(layers):
        result = over(colour, result)
    return result


def luminance(colour) -> float:
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in colour[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one, other) -> float:
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def hex_colour(colour) -> str:
    return "#" + "".join(f"{round(c * 255):02x}" for c in colour[:3])


def sizes_of(label) -> list[tuple[float, bool]]:
    """Each font size used in a label with text, in pixels, and whether it is a smaller second line."""
    found = []
    text = label.text
    if label.markup:
        for size, part in SIZE_TAG.findall(text):
            if ANY_TAG.sub("", part).strip():
                found.append((float(size), float(size) < label.font_size))
        text = ANY_TAG.sub("", SIZE_TAG.sub("", text))
    if text.strip():
        found.append((float(label.font_size), False))
    return found


def what(widget) -> str:
    name = getattr(widget, "name", "") or ""
    if name:
        return name
    text = ANY_TAG.sub("", getattr(widget, "text", "") or "").replace("\n", " ").strip()
    return f"“{text[:14]}”" if text else type(widget).__name__


def measure(app, per_mm: float, glyph: float) -> dict:
    from kivy.core.window import Window
    from kivy.uix.behaviors import ButtonBehavior
    from kivy.uix.label import Label
    from kivy.uix.modalview import ModalView

    popups = [w for w in Window.children if isinstance(w, ModalView)]
    roots = popups or [app.manager.current_screen]  # an open pop-up covers (and dims) the screen
    clear = tuple(Window.clearcolor)
    texts, targets, pairs, cut = [], [], {}, []
    banner = getattr(app.manager.current_screen, "banner", None)
    for root in roots:
        for widget in walk(root):
            if not shown(widget):
                continue
            if isinstance(widget, Label) and widget.text.strip() and widget.texture_size[1] > widget.height + 2:
                cut.append(f"{what(widget)}: text {widget.texture_size[1]:.0f} px in {widget.height:.0f}")
            x, y = widget.to_window(*widget.pos)
            if not scrolled(widget) and (getattr(widget, "name", "") or isinstance(widget, Label)) and (
                    x < -2 or y < -2 or x + widget.width > Window.width + 2 or y + widget.height > Window.height + 2):
                cut.append(f"{what(widget)}: off the window at {x:.0f},{y:.0f}")
            if isinstance(widget, ButtonBehavior) and widget.width > 0 and widget.height > 0:
                targets.append((min(widget.size) / per_mm, what(widget)))
            if not isinstance(widget, Label) or not widget.text.strip():
                continue
            # the header's site and clock, and the status banners (offline, printer out) are not body text
            secondary_label = getattr(widget.parent, "where", None) is widget or within(widget, banner)
            for size, smaller_line in sizes_of(widget):
                texts.append((size * glyph / per_mm, not (secondary_label or smaller_line), what(widget)))
            fg = tuple(widget.disabled_color if widget.disabled else widget.color)
            bg = background(widget, clear)
            key = (hex_colour(over(fg, bg)), hex_colour(bg))
            ratio = contrast(over(fg, bg), bg)
            if key not in pairs or ratio < pairs[key]["ratio"]:
                pairs[key] = {"text": key[0], "on": key[1], "ratio": round(ratio, 2), "where": what(widget)}
    body = [t for t in texts if t[1]]
    smallest_body = min(body, default=(0.0, True, ""))
    smallest = min(texts, default=(0.0, True, ""))
    target = min(targets, default=(0.0, ""))
    under = sorted({(round(mm, 2), where) for mm, where in targets if mm < ELDER_TARGET_MM})
    small = sorted({(round(mm, 2), where) for mm, body_text, where in texts if body_text and mm < ELDER_TEXT_MM})
    return {"screen": app.manager.current, "popup": bool(popups),
            "cut": cut,  # a label's text taller than the label, or a widget off the window (not a goal: a warning)
            "targets_under_goal": [[where, mm] for mm, where in under],
            "body_text_under_goal": [[where, mm] for mm, where in small],
            "body_text_mm": round(smallest_body[0], 2), "body_text_where": smallest_body[2],
            "text_mm": round(smallest[0], 2), "text_where": smallest[2],
            "target_mm": round(target[0], 2), "target_where": target[1], "targets": len(targets),
            "colours": sorted(pairs.values(), key=lambda p: p["ratio"])}


def plant(app) -> None:
    """What the measurement must catch: pale grey words (2.3:1) and a 5 mm button on home."""
    from kivy.uix.button import Button
    from kivy.uix.label import Label

    from screens import theme
    from screens.theme import SCALE

    home = app.manager.get_screen("home")  # laid over the screen: the rest keeps its layout
    label = Label(text="浅灰色的小字", color=(0.62, 0.64, 0.67, 1), font_size=SCALE.font(16), size_hint=(None, None),
                  size=(SCALE.touch() * 3, SCALE.touch()), pos=(0, 0))
    label.name = "planted_pale"
    button = Button(text="x", size_hint=(None, None), size=(SCALE.panel_mm(5), SCALE.panel_mm(5)),
                    pos=(SCALE.touch() * 3, 0), background_normal="", background_color=theme.ACCENT,
                    color=theme.ACCENT_TEXT)  # only its size misses
    button.name = "planted_small"
    home.add_widget(label)
    home.add_widget(button)


def child(config_path: str, size: str, out: str, mode: str = "", shots: str = "") -> None:
    """Run the app through the scenario in `out`.steps.json, measuring at each ["look", "measure:NAME"]."""
    from screens.theme import configure_kivy

    width, height = (int(n) for n in size.split("x"))
    configure_kivy(width, height)
    import tests.ui_driver as driver
    from appliance.config import load_config
    from screens.app import run_app

    steps = json.loads(Path(out + ".steps.json").read_text(encoding="utf-8"))
    per_mm, glyph = density(width, height), glyph_height()
    holder, results, problems = {}, [], []

    def heard(line: str, **_kwargs) -> None:
        """Each step the driver reports; a look step named measure:… is measured right then (Kivy's thread)."""
        report = json.loads(line)
        if "error" in report:
            problems.append({"step": report["step"], "error": report["error"], "screen": report["screen"]})
        step = report["step"]
        if step[0] == "look" and len(step) > 1 and step[1] == "plant":
            plant(holder["app"])
        elif step[0] == "look" and len(step) > 1 and step[1].startswith("measure:"):
            name = step[1].removeprefix("measure:")
            results.append({"name": name, **measure(holder["app"], per_mm, glyph)})
            if shots:  # what was measured, to look at
                Path(shots).mkdir(parents=True, exist_ok=True)
                target = f"{shots}/{size}-{mode}-{name.replace(': ', '-').replace(' ', '_')}.png"
                Path(holder["app"].root_window.screenshot(target)).replace(target)  # Kivy numbers the file

    driver.print = heard  # the driver's report lines come here instead of stdout

    def then(app) -> None:
        holder["app"] = app
        driver.play(app, steps)

    run_app(load_config(Path(config_path)), then=then)
    Path(out).write_text(json.dumps({"size": size, "px_per_mm": per_mm, "glyph": glyph, "screens": results,
                                     "problems": problems}, ensure_ascii=False, indent=1), encoding="utf-8")


# -- the runs and the tables (the parent process) -------------------------------------------------------------
def run(size: str, mode: str, plant_first: bool = False, shots: str = "") -> dict:
    from tests.support import free_port, kiosk_config_data, write_toml

    with tempfile.TemporaryDirectory() as tmp:
        config = write_toml(Path(tmp) / "kiosk.toml", kiosk_config_data(
            Path(tmp) / "state", free_port(), device={"site": "市民中心 24小时自助服务区", "booth_code": "01234"},
            session={"idle_timeout_s": 60, "countdown_s": 15}))
        out = Path(tmp) / "measured.json"
        Path(str(out) + ".steps.json").write_text(json.dumps(scenario(mode == "elder", plant_first),
                                                             ensure_ascii=False), encoding="utf-8")
        done = subprocess.run([sys.executable, __file__, "--child", str(config), size, str(out), mode, shots],
                              capture_output=True, text=True, timeout=600, env=os.environ)
        if not out.exists():
            raise SystemExit(f"{size} {mode}: the app stopped (exit {done.returncode}):\n{done.stderr[-3000:]}")
        measured = json.loads(out.read_text(encoding="utf-8"))
    measured["mode"] = mode
    for screen in measured["screens"]:
        screen["misses"] = misses(screen, mode == "elder")
    return measured


def misses(screen: dict, elder: bool) -> list[str]:
    found = [f"contrast {p['ratio']}:1 ({p['text']} on {p['on']}, {p['where']})" for p in screen["colours"]
             if p["ratio"] < CONTRAST_GOAL]
    if elder and screen["target_mm"] < ELDER_TARGET_MM:
        found.append(f"target {screen['target_mm']} mm ({screen['target_where']})")
    if elder and screen["body_text_mm"] < ELDER_TEXT_MM:
        found.append(f"body text {screen['body_text_mm']} mm ({screen['body_text_where']})")
    return found


def mark(value: float, goal: float | None) -> str:
    return f"{value:.1f}" + ("" if goal is None or value >= goal else " ✗")


def tables(runs: list[dict]) -> str:
    """One table per panel: each screen's minima in normal and elder mode, then every text colour pair seen."""
    out = []
    for size in dict.fromkeys(r["size"] for r in runs):
        by_mode = {r["mode"]: r for r in runs if r["size"] == size}
        first = next(iter(by_mode.values()))
        modes = [m for m in MODES if m in by_mode]
        out.append(f"**{size}** ({'7-inch' if size == '800x480' else '21.5-inch'} panel, "
                   f"{first['px_per_mm']:.2f} px/mm, {first['px_per_mm'] * 25.4:.0f} ppi):\n")
        head = ["screen"]
        for mode in modes:
            head += [f"body text mm ({mode})", f"any text mm ({mode})", f"target mm ({mode})",
                     f"lowest contrast ({mode})"]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + " --- |" * len(head))
        names = list(dict.fromkeys(s["name"] for r in by_mode.values() for s in r["screens"]))
        for name in names:
            row = [name]
            for mode in modes:
                screen = next((s for s in by_mode[mode]["screens"] if s["name"] == name), None)
                if screen is None:
                    row += ["—"] * 4
                    continue
                elder = mode == "elder"
                low = screen["colours"][0] if screen["colours"] else None
                row += [f"{mark(screen['body_text_mm'], ELDER_TEXT_MM if elder else None)} "
                        f"<sub>{screen['body_text_where']}</sub>",
                        f"{screen['text_mm']:.1f} <sub>{screen['text_where']}</sub>",
                        f"{mark(screen['target_mm'], ELDER_TARGET_MM if elder else None)} "
                        f"<sub>{screen['target_where']}</sub>",
                        f"{mark(low['ratio'], CONTRAST_GOAL)} <sub>{low['text']} on {low['on']}</sub>" if low else "—"]
            out.append("| " + " | ".join(row) + " |")
        out.append("")
    pairs: dict[tuple[str, str], dict] = {}
    for r in runs:
        for screen in r["screens"]:
            for p in screen["colours"]:
                seen = pairs.setdefault((p["text"], p["on"]), {**p, "screens": set()})
                seen["screens"].add(screen["name"])
    names = colour_names()
    out.append("Every text colour on its background, all sizes and modes (the theme's names where one is meant):\n")
    out.append("| text | on | contrast | e.g. | screens |")
    out.append("| --- | --- | --- | --- | --- |")
    for p in sorted(pairs.values(), key=lambda p: p["ratio"]):
        out.append(f"| `{p['text']}` {names.get(p['text'], '')} | `{p['on']}` {names.get(p['on'], '')} | "
                   f"{mark(p['ratio'], CONTRAST_GOAL)}:1 | {p['where']} | {len(p['screens'])} |")
    return "\n".join(out) + "\n"


def colour_names() -> dict[str, str]:
    """The theme's colours by their hex code (white is both PANEL and ACCENT_TEXT)."""
    from screens import theme

    names: dict[str, list[str]] = {}
    for name, value in vars(theme).items():
        if name.isupper() and isinstance(value, tuple) and len(value) == 4:
            names.setdefault(hex_colour(value), []).append(name)
    return {code: "/".join(found) for code, found in names.items()}


def write_readme(text: str) -> None:
    readme = README.read_text(encoding="utf-8")
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    README.write_text(readme[:start] + "\n" + text + readme[end:], encoding="utf-8")


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--readme", action="store_true", help="write the tables into README.md")
    parser.add_argument("--json", help="also write every measurement to this file")
    parser.add_argument("--plant", action="store_true", help="add a pale label and a small button to home first")
    parser.add_argument("--shots", default="", help="a screenshot of each screen measured into this directory")
    parser.add_argument("--from-json", help="no runs: the tables from the measurements an earlier --json wrote")
    args = parser.parse_args()
    shots = str(Path(args.shots).resolve()) if args.shots else ""
    if args.from_json:
        runs = json.loads(Path(args.from_json).read_text(encoding="utf-8"))
    else:
        runs = [run(size, mode, args.plant, shots) for size in args.sizes.split(",") for mode in args.modes.split(",")]
    text = tables(runs)
    print(text)
    problems = [(r["size"], r["mode"], p) for r in runs for p in r["problems"]]
    missed = [(r["size"], r["mode"], s["name"], m) for r in runs for s in r["screens"] for m in s["misses"]]
    for r in runs:
        for screen in r["screens"]:
            for cut in screen["cut"]:
                print(f"warning {r['size']} {r['mode']} {screen['name']}: {cut}", file=sys.stderr)
    for size, mode, problem in problems:
        print(f"scenario problem {size} {mode}: {problem}", file=sys.stderr)
    for size, mode, name, miss in missed:
        print(f"missed {size} {mode} {name}: {miss}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(runs, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.readme:
        write_readme(text)
    return 1 if missed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
