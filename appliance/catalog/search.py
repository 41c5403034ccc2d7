"""Finding the service a citizen means, from what they type on the booth's keyboard.

A query may be Chinese ("身份证丢了"), pinyin in full or as initials ("gjj tiqu", "sbk"), or both
mixed. Every item is indexed by its name, its aliases (what citizens call it), its department, the
bundles it belongs to and its knowledge-base questions, each text both as characters and as toneless
pinyin syllables. Matching on syllables makes near-homophone typos (社宝卡, 公积今) land on the right
item; pinyin letters are matched as syllable prefixes, so "sbk", "shebaoka" and "shebk" all reach
社保卡. The same syllable index offers the on-screen keyboard Chinese word candidates taken from the
catalogue's own vocabulary.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

from pypinyin import Style, lazy_pinyin
from rapidfuzz import fuzz, process

from appliance.catalog.model import Catalog

# How much a match in each kind of text counts: the name says most, a FAQ question least.
WEIGHTS = {"name": 1.0, "alias": 0.95, "bundle": 0.8, "faq": 0.75, "department": 0.45}
_HAN = re.compile(r"[\u3400-\u9fff\U00020000-\U0002ffff]")
_LATIN = re.compile(r"[a-z]+")
_NOISE = re.compile(r"[\s，。？！、；：“”‘’（）()《》,.?!;:'\"·\-—]+")
STOP_CHARS = set("的了吗呢啊吧怎么办要去哪里在我想请问如何可以能不")


@dataclass(frozen=True)
class Hit:
    code: str
    name: str
    score: float
    matched: str  # the text that matched best, so a screen can say why


@dataclass(frozen=True)
class _Text:
    code: str
    kind: str
    text: str
    chars: frozenset[str]
    bigrams: frozenset[str]
    syllables: tuple[str, ...]
    syllable_bigrams: frozenset[tuple[str, str]]
    joined: str  # syllables without spaces, for typo-tolerant letter matching


@lru_cache(maxsize=65536)
def _syllable(char: str) -> str:
    return lazy_pinyin(char, style=Style.NORMAL)[0]


def syllables(text: str) -> tuple[str, ...]:
    """Toneless pinyin of the Chinese characters in `text`, in context (行长 → hang zhang)."""
    han = "".join(_HAN.findall(text))
    return tuple(lazy_pinyin(han, style=Style.NORMAL)) if han else ()


def _clean(text: str) -> str:
    return _NOISE.sub("", text.lower())


def _make_text(code: str, kind: str, text: str) -> _Text:
    clean = _clean(text)
    sy = syllables(clean)
    return _Text(code, kind, text, frozenset(clean), frozenset(clean[i:i + 2] for i in range(len(clean) - 1)),
                 sy, frozenset(itertools.pairwise(sy)), "".join(sy))


class SearchIndex:
    def __init__(self, catalog: Catalog) -> None:
        self._names = {item.code: item.name for item in catalog.items}
        self._names.update({bundle.code: bundle.name for bundle in catalog.bundles})
        texts: list[_Text] = []
        for item in catalog.items:
            texts.append(_make_text(item.code, "name", item.name))
            texts.extend(_make_text(item.code, "alias", alias) for alias in item.aliases)
            texts.append(_make_text(item.code, "department", item.department))
        for bundle in catalog.bundles:
            texts.append(_make_text(bundle.code, "name", bundle.name))
            texts.extend(_make_text(bundle.code, "alias", alias) for alias in bundle.aliases)
        for entry in catalog.faq:
            texts.append(_make_text(entry.item, "faq", entry.question))
        self._texts = texts
        self._joined = [text.joined for text in texts]
        # Inverted indexes: which texts hold a character, a syllable, a syllable starting with a letter.
        self._by_char: dict[str, set[int]] = {}
        self._by_syllable: dict[str, set[int]] = {}
        self._by_letter: dict[str, set[int]] = {}
        for n, text in enumerate(texts):
            for char in text.chars:
                self._by_char.setdefault(char, set()).add(n)
            for syllable in text.syllables:
                self._by_syllable.setdefault(syllable, set()).add(n)
                self._by_letter.setdefault(syllable[0], set()).add(n)
        self._vocabulary = _vocabulary(catalog)

    # -- searching ------------------------------------------------------------------------------------
    def search(self, query: str, limit: int = 10) -> list[Hit]:
        """The items (and bundles) a citizen most likely means, best first; [] for an empty query."""
        q = _Query(query)
        if q.empty:
            return []
        parts: list[tuple[dict[int, float], float]] = []
        if q.han:
            parts.append((self._han_scores(q), len(q.han)))
        for token in q.letters:
            parts.append((self._letter_scores(token), max(1.0, len(token) / 3)))
        total_weight = sum(weight for _, weight in parts)
        combined: dict[int, float] = {}
        for scores, weight in parts:
            for n, score in scores.items():
                combined[n] = combined.get(n, 0.0) + score * weight / total_weight
        best: dict[str, tuple[float, str]] = {}
        for n, similarity in combined.items():
            text = self._texts[n]
            score = similarity * WEIGHTS[text.kind]
            if score > best.get(text.code, (0.0, ""))[0]:
                best[text.code] = (score, text.text)
        ranked = sorted(best.items(), key=lambda pair: (-pair[1][0], pair[0]))
        return [Hit(code, self._names[code], round(score, 4), matched)
                for code, (score, matched) in ranked[:limit] if score >= 0.2]

    def _han_scores(self, q: _Query) -> dict[int, float]:
        candidates: set[int] = set()
        for char in q.chars:
            candidates |= self._by_char.get(char, set())
        for syllable in q.meaningful_syllables:
            candidates |= self._by_syllable.get(syllable, set())
        return {n: q.han_similarity(self._texts[n]) for n in candidates}

    def _letter_scores(self, token: str) -> dict[int, float]:
        scores = {}
        for n in self._by_letter.get(token[0], ()):
            score = _letters_similarity(token, self._texts[n].syllables)
            if score:
                scores[n] = score
        if len(token) >= 4:  # typos: fuzzy over every text's pinyin, in rapidfuzz's C loop
            for _, ratio, n in process.extract(token, self._joined, scorer=fuzz.partial_ratio, score_cutoff=80,
                                               limit=None):
                if n not in scores:
                    scores[n] = 0.7 * ratio / 100
        return scores

    # -- the keyboard's word candidates -----------------------------------------------------------------
    def candidates(self, letters: str, limit: int = 8) -> list[str]:
        """Chinese words from the catalogue whose pinyin the typed letters could be: full syllables,
        initials or a mix ("gjj" → 公积金, "shebao" → 社保, "sf" → 身份证 …), most common first."""
        letters = _clean(letters)
        if not letters or not letters.isascii():
            return []
        found = [(word, "".join(sy) == letters, count) for word, (sy, count) in self._vocabulary.items()
                 if sy and _letters_cover(letters, sy, 0)]
        found.sort(key=lambda entry: (not entry[1], -entry[2], len(entry[0]), entry[0]))  # exact spelling first
        return [word for word, _, _ in found[:limit]]


class _Query:
    def __init__(self, raw: str) -> None:
        text = _clean(raw)
        self.han = "".join(c for c in text if _HAN.match(c))
        meaningful = "".join(c for c in self.han if c not in STOP_CHARS) or self.han
        self.chars = frozenset(meaningful)
        self.bigrams = frozenset(self.han[i:i + 2] for i in range(len(self.han) - 1))
        self.syllables = syllables(self.han)
        self.syllable_bigrams = frozenset(itertools.pairwise(self.syllables))
        self.meaningful_syllables = frozenset(syllables(meaningful))
        self.letters = _LATIN.findall(text)
        self.empty = not self.han and not self.letters

    def han_similarity(self, text: _Text) -> float:
        if self.han in text.text or (len(text.text) >= 2 and _clean(text.text) == self.han):
            return 1.0
        scores = []
        if self.bigrams:
            scores.append(len(self.bigrams & text.bigrams) / len(self.bigrams))
            scores.append(0.95 * len(self.syllable_bigrams & text.syllable_bigrams) / len(self.syllable_bigrams))
        chars = len(self.chars & text.chars) / len(self.chars)
        sounds = len(self.meaningful_syllables & set(text.syllables)) / max(1, len(self.meaningful_syllables))
        scores.append(0.7 * chars)
        scores.append(0.6 * sounds)
        best = max(scores)
        coverage = len(self.chars & text.chars) / max(1, len(text.chars))  # a query that says all of it
        return min(1.0, best + 0.1 * coverage)


def _letters_similarity(token: str, sy: tuple[str, ...]) -> float:
    """How well typed pinyin letters match a text's syllables: a run of syllables they spell (in
    full, by initials or a mix) scores by how much of the text it covers."""
    best = 0.0
    for start in range(len(sy)):
        if sy[start][0] != token[0]:
            continue
        end = _letters_cover(token, sy, start)
        if end:
            covered = (end - start) / len(sy)
            full = 1.0 if token == "".join(sy[start:end]) else 0.9
            best = max(best, full * (0.75 + 0.25 * covered))
    return best


def _letters_cover(token: str, sy: tuple[str, ...], start: int, t: int = 0) -> int:
    """The end of the run of syllables from `start` that `token[t:]` spells, each syllable written in
    full or as a prefix of at least its first letter; 0 if none."""
    if t == len(token):
        return start
    if start == len(sy):
        return 0
    syllable = sy[start]
    for take in range(min(len(syllable), len(token) - t), 0, -1):
        if token.startswith(syllable[:take], t):
            end = _letters_cover(token, sy, start + 1, t + take)
            if end:
                return end
    return 0


def _vocabulary(catalog: Catalog) -> dict[str, tuple[tuple[str, ...], int]]:
    """Words a citizen may want to type: 2–4 character runs of names and aliases, with how often
    they occur, and their syllables."""
    counts: dict[str, int] = {}
    sources = [item.name for item in catalog.items] + [a for item in catalog.items for a in item.aliases]
    for text in sources:
        for run in re.findall(r"[\u3400-\u9fff]+", text):
            for size in (2, 3, 4):
                for i in range(len(run) - size + 1):
                    counts[run[i:i + size]] = counts.get(run[i:i + size], 0) + 1
    return {word: (syllables(word), count) for word, count in counts.items() if count >= 2 or len(word) == 2}
