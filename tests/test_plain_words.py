"""No internal code reaches a citizen's screen: every code the core raises to the screens has plain
words, every device reason the screens may name has words too, and no screen string contains a code.

The codes are found in the source itself (what the core and the drivers raise), so a new code without
words fails here rather than on a citizen's screen.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from appliance.services.errors import CitizenError
from screens.strings import ERRORS, LEVELS, RATING_REASONS, REASONS, STRINGS, UNKNOWN_ERROR, UNKNOWN_REASON, Language

ROOT = Path(__file__).resolve().parent.parent


def _found(pattern: str, *folders: str) -> set[str]:
    return {code for folder in folders for path in (ROOT / folder).rglob("*.py")
            for code in re.findall(pattern, path.read_text(encoding="utf-8"))}


CITIZEN_CODES = _found(r'(?:CitizenError|MaintenanceError|FormProblem)\(\s*"([a-z_]+)"', "appliance")
HEALTH_REASONS = _found(r'Health\(HealthState\.[A-Z]+,\s*"([a-z_]+)"', "drivers", "appliance")
PRINT_REASONS = _found(r'PrintError\(\s*"([a-z_]+)"', "drivers")
INTERNAL = CITIZEN_CODES | HEALTH_REASONS | PRINT_REASONS


def test_the_codes_were_found() -> None:
    """The search finds what it must (a broken pattern would find nothing and pass everything below)."""
    assert {"print_failed", "not_identified", "bad_form"} <= CITIZEN_CODES
    assert {"paper_end", "no_answer", "port_missing"} <= HEALTH_REASONS
    assert {"not_accepting", "port_lost"} <= PRINT_REASONS


def test_every_code_the_core_raises_has_plain_words() -> None:
    assert CITIZEN_CODES - set(ERRORS) == set()


def test_every_reason_a_screen_may_name_has_words() -> None:
    assert (HEALTH_REASONS | PRINT_REASONS) - {"ok"} - set(REASONS) == set()


def test_no_screen_string_contains_a_code() -> None:
    words = [text for pair in (*STRINGS.values(), *ERRORS.values(), *REASONS.values(), *LEVELS.values(),
                               UNKNOWN_ERROR, UNKNOWN_REASON) for text in pair]
    words += list(RATING_REASONS.values())
    leaks = {(code, text) for text in words for code in INTERNAL if re.search(rf"\b{code}\b", text)}
    assert leaks == set()


@pytest.mark.parametrize("english", [False, True])
def test_an_error_reads_as_words_whatever_its_code(english: bool) -> None:
    language = Language()
    language.english = english
    failed_print = language.error(CitizenError("print_failed", "print failed: no answer", reason="no_answer"))
    assert failed_print == ("Printing failed (not answering). Please ask staff." if english
                            else "打印失败（无响应），请到窗口或呼叫工作人员。")
    unknown = language.error(CitizenError("some_new_code", "internal detail"))
    assert unknown == UNKNOWN_ERROR[1 if english else 0] and "some_new_code" not in unknown
    assert language.reason("some_new_reason") == UNKNOWN_REASON[1 if english else 0]
