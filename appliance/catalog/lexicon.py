"""How citizens say what the catalogue says otherwise: everyday phrases and the catalogue's words for
them (找不着了 → 丢了, 水钱 → 水费, 打一份 → 打印, 没房 → 无房), and fillers that say nothing about the
service (一下, 给我). Search tries a query as typed and once more in the catalogue's words, and keeps
the better match (search.py).

The lexicon is a catalogue source (`central/catalog/lexicon.yaml`), validated here in one place and
shipped inside the search index built with the catalogue (search_data.py):

    words:
      丢了: [找不着了, 不见了, 弄丢了]      the catalogue's words: the everyday phrases that mean them
    fillers: [一下, 给我]

Every catalogue word must occur in the catalogue's names, aliases or questions (else it could match
nothing), and an everyday phrase may mean one thing only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from appliance.catalog.model import Catalog, CatalogError
from appliance.validation import problems

FILE = "lexicon.yaml"
Phrase = Annotated[str, StringConstraints(pattern=r"^[\u3400-\u9fff]{1,8}$")]


class Lexicon(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    words: dict[Phrase, tuple[Phrase, ...]] = Field(default_factory=dict)
    fillers: tuple[Phrase, ...] = ()

    @model_validator(mode="after")
    def _one_meaning_each(self) -> Lexicon:
        said: dict[str, str] = {}
        for word, phrases in [*self.words.items(), ("", self.fillers)]:
            for phrase in phrases:
                if phrase == word:
                    raise ValueError(f"{phrase!r} is listed as an everyday phrase of itself")
                if phrase in said:
                    raise ValueError(f"{phrase!r} is listed twice (under {said[phrase] or 'fillers'!r} and "
                                     f"{word or 'fillers'!r}): an everyday phrase means one thing")
                said[phrase] = word
        return self

    def rewrites(self) -> dict[str, str]:
        """Everyday phrase → the catalogue's words ("" for a filler)."""
        out = {phrase: word for word, phrases in self.words.items() for phrase in phrases}
        return out | dict.fromkeys(self.fillers, "")

    def check_against(self, catalog: Catalog) -> None:
        """`CatalogError` naming the first catalogue word that occurs nowhere in the catalogue's texts."""
        texts = "\n".join([item.name for item in catalog.items] + [a for item in catalog.items for a in item.aliases]
                          + [entry.question for entry in catalog.faq]
                          + [b.name for b in catalog.bundles] + [a for b in catalog.bundles for a in b.aliases])
        missing = [word for word in self.words if word not in texts]
        if missing:
            raise CatalogError(f"{FILE}: words {missing[0]!r}: not in any name, alias or question of the catalogue "
                               f"({len(missing)} such)")


def load_lexicon(source: Path) -> Lexicon:
    """The lexicon of a catalogue source folder (an empty one if it has none); `CatalogError` naming
    the entry and what is wrong."""
    path = source / FILE
    if not path.exists():
        return Lexicon()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Lexicon.model_validate(data or {})
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"{path}: cannot be read: {exc}") from None
    except ValidationError as exc:
        problem = problems(exc)[0]
        where = ".".join(str(part) for part in problem.loc) or "(top level)"
        raise CatalogError(f"{path}: {where}: {problem.message}") from None
