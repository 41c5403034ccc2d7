"""The 九宫格 pinyin keypad of every Chinese phone (2 abc … 9 wxyz), for a panel too narrow for a letter
keyboard of touch targets an elderly finger can hit: one key stands for three or four letters, and the
catalogue's own words decide which letters were meant ("725" spells 社保卡 as s-b-k). Each syllable is keyed
in full or by its first letters, as on the letter keyboard (search.py's candidates). SearchIndex offers the
words (`keypad_readings`); this module knows the keys and what a run of them spells on a word.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

KEYS: dict[str, str] = {"2": "abc", "3": "def", "4": "ghi", "5": "jkl", "6": "mno", "7": "pqrs", "8": "tuv",
                        "9": "wxyz"}
_KEY_OF = {letter: key for key, letters in KEYS.items() for letter in letters}


@dataclass(frozen=True)
class Reading:
    """A catalogue word the keys pressed could mean, and the letters they spell on its pinyin."""

    word: str
    letters: str


@lru_cache(maxsize=8192)  # the syllables' prefixes, a few thousand, looked up for every word at every key
def keys_of(letters: str) -> str:
    """The keys that type `letters` ("sbk" → "725"); anything but a–z stays as it is, so no key matches it
    (pinyin writes ü as v)."""
    return "".join(_KEY_OF.get(letter, letter) for letter in letters)


def spellings(keys: str, syllables: Sequence[str]) -> Iterator[str]:
    """Each way `keys`, from their first on, spell the beginning of a word of these syllables: the letters they
    stand for. Each syllable is keyed in full or by a prefix of it, the longest first ("74" on 社保 is "sh");
    a spelling ends where the keys end (inside the word or at its end), or where the word ends, the keys left
    over for the next word."""
    if not keys or not syllables or keys_of(syllables[0][:1]) != keys[0]:
        return  # most words, at once

    def cover(at: int, syllable: int) -> Iterator[str]:
        if at == len(keys) or syllable == len(syllables):
            yield ""
            return
        sound = syllables[syllable]
        for take in range(min(len(sound), len(keys) - at), 0, -1):
            if keys_of(sound[:take]) == keys[at:at + take]:
                for rest in cover(at + take, syllable + 1):
                    yield sound[:take] + rest

    yield from cover(0, 0)
