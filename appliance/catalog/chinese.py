"""Chinese text as search sees it: cleaned of punctuation and spaces, its characters, and their
toneless pinyin, with pypinyin imported only when it is first needed.

pypinyin's dictionaries take longer to import than the rest of search takes to load, so the booth
does not pay for them at start: `kiosk catalog build` converts the catalogue's texts once
(search_data.py), and a query's characters are read from that shipped table; pypinyin is called only
for characters the catalogue never uses.
"""

from __future__ import annotations

import re
from functools import lru_cache

HAN = re.compile(r"[\u3400-\u9fff\U00020000-\U0002ffff]")
HAN_RUN = re.compile(r"[\u3400-\u9fff\U00020000-\U0002ffff]+")
LATIN = re.compile(r"[a-z]+")
_NOISE = re.compile(r"[\s，。？！、；：“”‘’（）()《》,.?!;:'\"·\-—]+")


def clean(text: str) -> str:
    """Lower case, without spaces and punctuation."""
    return _NOISE.sub("", text.lower())


def han(text: str) -> str:
    """The Chinese characters of `text`, in order."""
    return "".join(HAN.findall(text))


def syllables(text: str) -> tuple[str, ...]:
    """Toneless pinyin of the Chinese characters in `text`, one syllable per character, read in
    context (行长 → hang zhang)."""
    chars = han(text)
    if not chars:
        return ()
    from pypinyin import Style, lazy_pinyin

    return tuple(lazy_pinyin(chars, style=Style.NORMAL, errors=list))


@lru_cache(maxsize=4096)
def syllable_of(char: str) -> str:
    """One character's usual reading (for characters the catalogue's own table does not have)."""
    return syllables(char)[0]
