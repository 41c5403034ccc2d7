"""Finding the service a citizen means, from what they type on the booth's keyboard.

A query may be Chinese ("身份证丢了"), pinyin in full or as initials ("gjj tiqu", "sbk"), or both
mixed. Every item is indexed by its name, its aliases (what citizens call it), its department, the
bundles it belongs to and its knowledge-base questions, each text both as characters and as toneless
pinyin syllables. Matching on syllables makes near-homophone typos (社宝卡, 公积今) land on the right
item; pinyin letters are matched as syllable prefixes, so "sbk", "shebaoka" and "shebk" all reach
社保卡. The same syllable index offers the on-screen keyboard Chinese word candidates taken from the
catalogue's own vocabulary. Citizens' everyday phrases (找不着了, 水钱, 打一份) reach the catalogue's
words through the lexicon (lexicon.py): a query is tried as typed and once more in the catalogue's
words, and the better match counts. The texts' pinyin, the query's pinyin table, that vocabulary and
the lexicon come built with the catalogue (search_data.py), so making an index at the booth's start
is quick.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from rapidfuzz import fuzz, process

from appliance.catalog import keypad, search_data
from appliance.catalog.chinese import HAN, LATIN, clean, syllable_of
from appliance.catalog.model import Catalog
from appliance.catalog.search_data import SearchData

# How much a match in each kind of text counts: the name says most, a FAQ question least.
WEIGHTS = {"name": 1.0, "alias": 0.95, "bundle": 0.8, "faq": 0.75, "department": 0.45}
REWRITTEN = 0.97  # a match of the query put in the catalogue's words, against one as typed
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
    cleaned: str
    chars: frozenset[str]
    bigrams: frozenset[str]
    syllables: tuple[str, ...]
    syllable_bigrams: frozenset[tuple[str, str]]
    joined: str  # syllables without spaces, for typo-tolerant letter matching


def _make_text(code: str, kind: str, text: str, sy: tuple[str, ...]) -> _Text:
    cleaned = clean(text)
    return _Text(code, kind, text, cleaned, frozenset(cleaned),
                 frozenset(cleaned[i:i + 2] for i in range(len(cleaned) - 1)), sy, frozenset(itertools.pairwise(sy)),
                 "".join(sy))


class SearchIndex:
    def __init__(self, catalog: Catalog, data: SearchData | None = None) -> None:
        """Search over `catalog`, with the search data shipped with it if the holder loaded any (else
        built here: pypinyin over every text, the slow part of a start without it)."""
        data = data or search_data.attached(catalog) or search_data.build(catalog)
        self._names = {item.code: item.name for item in catalog.items}
        self._names.update({bundle.code: bundle.name for bundle in catalog.bundles})
        texts = [_make_text(code, kind, text, tuple(sy.split())) for code, kind, text, sy in data.texts]
        self._texts = texts
        self._joined = [text.joined for text in texts]
        # Inverted indexes: which texts hold a character, a bigram, a syllable, a pair of syllables, a
        # syllable starting with a letter.
        by_char, by_bigram, by_syllable, by_pair = (defaultdict(list) for _ in range(4))
        for n, text in enumerate(texts):
            for index, keys in ((by_char, text.chars), (by_bigram, text.bigrams), (by_syllable, set(text.syllables)),
                                (by_pair, text.syllable_bigrams)):
                for key in keys:
                    index[key].append(n)
        self._by_char: dict[str, list[int]] = dict(by_char)
        self._by_bigram: dict[str, list[int]] = dict(by_bigram)
        self._by_syllable: dict[str, list[int]] = dict(by_syllable)
        self._by_pair: dict[tuple[str, str], list[int]] = dict(by_pair)
        by_letter = defaultdict(set)
        for sy, found in self._by_syllable.items():
            by_letter[sy[0]].update(found)
        self._by_letter: dict[str, set[int]] = dict(by_letter)
        self._vocabulary = {word: (tuple(sy.split()), count) for word, sy, count in data.vocabulary}
        self._readings = data.readings
        self._rewrites = {phrase: word for phrase, word, _ in data.lexicon}
        self._longest = max(map(len, self._rewrites), default=0)

    def read(self, chars: str) -> tuple[str, ...]:
        """The syllables of a query's Chinese characters, as the catalogue reads them: its words
        first (longest first), then each character's reading; pypinyin only for characters the
        catalogue never uses."""
        out: list[str] = []
        i = 0
        while i < len(chars):
            for size in (4, 3, 2):
                word = self._vocabulary.get(chars[i:i + size]) if i + size <= len(chars) else None
                if word:
                    out.extend(word[0])
                    i += size
                    break
            else:
                out.append(self._readings.get(chars[i]) or syllable_of(chars[i]))
                i += 1
        return tuple(out)

    def rewrite(self, typed: str) -> str:
        """A cleaned query in the catalogue's words: each everyday phrase (the longest first) replaced,
        fillers left out. Pinyin is left as typed: one spelling is many phrases (交电钱, 交点钱), and
        the keyboard's candidates offer the everyday phrases, so a citizen picks the one meant."""
        out: list[str] = []
        i = 0
        while i < len(typed):
            for size in range(min(self._longest, len(typed) - i), 0, -1):
                word = self._rewrites.get(typed[i:i + size])
                if word is not None:
                    out.append(word)
                    i += size
                    break
            else:
                out.append(typed[i])
                i += 1
        return "".join(out)

    # -- searching ------------------------------------------------------------------------------------
    def search(self, query: str, limit: int = 10) -> list[Hit]:
        """The items (and bundles) a citizen most likely means, best first; [] for an empty query."""
        typed = clean(query)
        best: dict[str, tuple[float, str]] = {}
        letters: dict[str, dict[int, float]] = {}  # pinyin is the same in both tries: scored once
        for said, factor in ((typed, 1.0), (self.rewrite(typed), REWRITTEN)):
            if factor != 1.0 and said == typed:
                break
            for n, similarity in self._similarities(_Query(said, self.read), letters).items():
                text = self._texts[n]
                score = similarity * WEIGHTS[text.kind] * factor
                if score > best.get(text.code, (0.0, ""))[0]:
                    best[text.code] = (score, text.text)
        ranked = sorted(best.items(), key=lambda pair: (-pair[1][0], pair[0]))
        return [Hit(code, self._names[code], round(score, 4), matched)
                for code, (score, matched) in ranked[:limit] if score >= 0.2]

    def _similarities(self, q: _Query, letters: dict[str, dict[int, float]]) -> dict[int, float]:
        """How well each text that shares anything with the query matches it, 0–1."""
        if q.empty:
            return {}
        parts: list[tuple[dict[int, float], float]] = []
        if q.han:
            parts.append((self._han_scores(q), len(q.han)))
        for token in q.letters:
            if token not in letters:
                letters[token] = self._letter_scores(token)
            parts.append((letters[token], max(1.0, len(token) / 3)))
        total_weight = sum(weight for _, weight in parts)
        combined: dict[int, float] = {}
        for scores, weight in parts:
            for n, score in scores.items():
                combined[n] = combined.get(n, 0.0) + score * weight / total_weight
        return combined

    def _han_scores(self, q: _Query) -> dict[int, float]:
        """Each text sharing a character or a sound with the query: the best of the share of the query's
        bigrams, syllable pairs, characters and sounds it holds, plus a little for how much of the text
        the query says; 1.0 for a text that holds the whole query."""
        chars, sounds, bigrams, pairs = Counter(), Counter(), Counter(), Counter()
        for counts, index, keys in ((chars, self._by_char, q.chars), (sounds, self._by_syllable, q.sounds),
                                    (bigrams, self._by_bigram, q.bigrams), (pairs, self._by_pair, q.pairs)):
            for key in keys:
                counts.update(index.get(key, ()))
        n_chars, n_sounds = len(q.chars), max(1, len(q.sounds))
        n_bigrams, n_pairs = len(q.bigrams), max(1, len(q.pairs))
        scores = {}
        for n in chars.keys() | sounds.keys():
            text = self._texts[n]
            shared = chars[n]
            if shared == n_chars and (q.han in text.text or (len(text.text) >= 2 and text.cleaned == q.han)):
                scores[n] = 1.0
                continue
            best = max(0.7 * shared / n_chars, 0.6 * sounds[n] / n_sounds)
            if n_bigrams:
                best = max(best, bigrams[n] / n_bigrams, 0.95 * pairs[n] / n_pairs)
            scores[n] = min(1.0, best + 0.1 * shared / max(1, len(text.chars)))  # and a query that says all of it
        return scores

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
        letters = clean(letters)
        if not letters or not letters.isascii():
            return []
        found = [(word, "".join(sy) == letters, count) for word, (sy, count) in self._vocabulary.items()
                 if sy and _letters_cover(letters, sy, 0)]
        return _ranked(found, limit)

    def keypad_readings(self, keys: str, before: str = "", limit: int = 3) -> list[keypad.Reading]:
        """What the 九宫格 keys pressed could mean, best first (the first is what a search follows until the
        citizen chooses), after the words `before` them: the catalogue's words they spell, those the catalogue
        writes after the last character before them first (社保卡 + "47": 挂失 before 个人), then ranked as the
        letter keyboard's `candidates` ("725" → 社保卡 read s-b-k); else the run of words that spells them all
        ("gjjtiqu" → 公积金提取: the fewest words, then the fewest joins the catalogue never writes, then the run
        whose least used word is used most), then the words it could begin with, each to be chosen alone. []
        if no run of words spells them."""
        if not keys:
            return []
        spelled: dict[str, str] = {}  # word → the letters all the keys spell on it
        firsts: dict[str, str] = {}  # word the keys begin with, whole → the letters of it
        # keys spelled → the best run of words spelling them: how many, how many joins unseen, minus the uses of
        # its least used word; and the run
        runs: dict[int, tuple[int, int, float, tuple[keypad.Reading, ...]]] = {0: (0, 0, -math.inf, ())}
        for at in range(len(keys)):
            if at == 1 and spelled:
                break
            if at not in runs:
                continue
            words, unseen, least, run = runs[at]
            last = run[-1].word if run else before
            for word, (sy, count) in self._keypad_words.get(keys[at], ()):
                for letters in keypad.spellings(keys[at:], sy):
                    end = at + len(letters)
                    if at == 0:
                        (spelled if end == len(keys) else firsts).setdefault(word, letters)
                    better = (words + 1, unseen + (not self._joins(last, word)), max(least, -count),
                              (*run, keypad.Reading(word, letters)))
                    if end not in runs or better[:3] < runs[end][:3]:
                        runs[end] = better
        if spelled:
            return self._ranked_readings(spelled, before, limit)
        if len(keys) not in runs:
            return []
        run = runs[len(keys)][3]
        whole = keypad.Reading("".join(r.word for r in run), "".join(r.letters for r in run))
        return [whole, *self._ranked_readings(firsts, before, limit - 1)]

    def _joins(self, before: str, word: str) -> bool:
        """Whether the catalogue writes `word` after the last character of `before` (yes after nothing)."""
        return not before or before[-1] + word[0] in self._by_bigram

    def _ranked_readings(self, spelled: dict[str, str], before: str, limit: int) -> list[keypad.Reading]:
        found = [(word, letters == "".join(self._vocabulary[word][0]), self._vocabulary[word][1])
                 for word, letters in spelled.items()]
        ranked = sorted(_ranked(found, len(found)), key=lambda word: not self._joins(before, word))
        return [keypad.Reading(word, spelled[word]) for word in ranked[:limit]]

    @cached_property
    def _keypad_words(self) -> dict[str, list[tuple[str, tuple[tuple[str, ...], int]]]]:
        """The vocabulary by the key of its first letter: a key pressed looks only at its own words."""
        by_key: dict[str, list[tuple[str, tuple[tuple[str, ...], int]]]] = defaultdict(list)
        for word, entry in self._vocabulary.items():
            if entry[0]:
                by_key[keypad.keys_of(entry[0][0][0])].append((word, entry))
        return dict(by_key)


def _ranked(found: list[tuple[str, bool, int]], limit: int) -> list[str]:
    """Candidate words (each with whether it was spelled in full and how often the catalogue uses it), best
    first: spelled in full, then the most used, the shorter, in code point order."""
    found.sort(key=lambda entry: (not entry[1], -entry[2], len(entry[0]), entry[0]))
    return [word for word, _, _ in found[:limit]]


class _Query:
    """What the search needs of a query: its Chinese characters (those that mean something), bigrams,
    syllables, syllable pairs, and its runs of pinyin letters."""

    def __init__(self, raw: str, read: Callable[[str], tuple[str, ...]]) -> None:
        text = clean(raw)
        self.han = "".join(c for c in text if HAN.match(c))
        meaningful = "".join(c for c in self.han if c not in STOP_CHARS) or self.han
        self.chars = frozenset(meaningful)
        self.bigrams = frozenset(self.han[i:i + 2] for i in range(len(self.han) - 1))
        syllables = read(self.han)
        self.pairs = frozenset(itertools.pairwise(syllables))
        self.sounds = frozenset(sy for c, sy in zip(self.han, syllables, strict=True) if c in meaningful)
        self.letters = LATIN.findall(text)
        self.empty = not self.han and not self.letters


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

