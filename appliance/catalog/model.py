"""The service catalogue the booth offers: its schema, and the holder that keeps the last good one.

A catalogue is a versioned JSON document: service items with the standard guide elements (办事指南),
"一件事" bundles of items, and the knowledge base (FAQ) tied to items. It is validated here, in one
place; a broken one is refused with a message naming the item and field, and whatever was loaded
before stays in use. Without a file of its own the device uses the catalogue shipped in the package.
"""

from __future__ import annotations

from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from appliance.validation import Problem, problems

BUNDLED = "data/catalog.json"


class CatalogError(Exception):
    """A catalogue that cannot be used; the message names the item and field."""


class FormProblem(ValueError):
    """A citizen's form that cannot be filed: `code` tells the screens what to show."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Text = Field(min_length=1)


class Material(_Model):
    name: str = Text
    form: Literal["原件", "复印件", "原件及复印件", "电子证照", "现场采集"] = "原件"
    copies: int = Field(default=1, ge=1, le=20)
    source: str = Field(default="申请人自备", min_length=1)
    required: bool = True
    note: str = ""

    def line(self) -> str:
        """How a notice lists it: 户口簿（原件 1份，申请人自备）."""
        extra = f"，{self.note}" if self.note else ""
        optional = "（如有）" if not self.required else ""
        return f"{self.name}{optional}（{self.form} {self.copies}份，{self.source}{extra}）"


class FormField(_Model):
    """One thing a citizen enters when applying here: only choices and digits, never free text."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,30}$")
    label: str = Text
    kind: Literal["choice", "digits"]
    choices: tuple[str, ...] = ()
    length: int | None = Field(default=None, ge=1, le=30)  # digits: exact count (e.g. 11 for a mobile)
    required: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> FormField:
        if self.kind == "choice" and len(self.choices) < 2:
            raise ValueError("a choice field needs at least two choices")
        if self.kind == "digits" and self.choices:
            raise ValueError("a digits field has no choices")
        return self


Channel = Literal["self_service", "online", "window"]
Action = Literal["view", "print_notice", "apply", "book"]
ItemType = Literal["行政许可", "行政确认", "行政给付", "行政征收", "行政裁决", "其他行政权力", "公共服务", "便民服务"]


class Item(_Model):
    code: str = Field(pattern=r"^[A-Z]{2,4}-[0-9]{3}$")
    name: str = Text
    department: str = Text
    type: ItemType
    applicants: str = Text  # who may apply (申请对象)
    conditions: tuple[str, ...] = Field(min_length=1)
    materials: tuple[Material, ...] = ()
    steps: tuple[str, ...] = Field(min_length=1)
    legal_days: int | None = Field(default=None, ge=0, le=365)  # 法定时限; None where the law sets none
    promised_days: int = Field(ge=0, le=365)  # 承诺时限; 0 = 即办
    fee: str = Text
    result: str = Text
    channels: tuple[Channel, ...] = Field(min_length=1)
    actions: tuple[Action, ...] = Field(min_length=1)
    aliases: tuple[str, ...] = ()  # what citizens call it: 身份证丢了, 补办身份证
    form: tuple[FormField, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Item:
        if "view" not in self.actions:
            raise ValueError("every item can be viewed: actions must include view")
        if "apply" in self.actions and not self.form:
            raise ValueError("an item that can be applied for here needs its form")
        if "apply" in self.actions and "self_service" not in self.channels:
            raise ValueError("apply here needs self_service among the channels")
        if self.legal_days is not None and self.promised_days > self.legal_days:
            raise ValueError(f"promised_days {self.promised_days} exceeds legal_days {self.legal_days}")
        return self

    @property
    def time_limit(self) -> str:
        return f"{self.promised_days} 个工作日" if self.promised_days else "即办"

    def check_form(self, form: dict[str, Any]) -> dict[str, str]:
        """The citizen's entries checked against this item's form; `FormProblem` names the first bad one."""
        if "apply" not in self.actions:
            raise FormProblem("not_here", f"{self.name} cannot be applied for at the booth")
        fields = {field.key: field for field in self.form}
        unknown = sorted(set(form) - set(fields))
        if unknown:
            raise FormProblem("bad_form", f"{self.code} has no field {unknown[0]!r}")
        checked: dict[str, str] = {}
        for key, field in fields.items():
            value = form.get(key)
            if value in (None, ""):
                if field.required:
                    raise FormProblem("bad_form", f"{field.label} is required")
                continue
            if not isinstance(value, str):
                raise FormProblem("bad_form", f"{field.label} must be text")
            if field.kind == "choice" and value not in field.choices:
                raise FormProblem("bad_form", f"{field.label}: {value!r} is not one of the choices")
            if field.kind == "digits" and not (value.isascii() and value.isdigit()
                                               and (field.length is None or len(value) == field.length)):
                raise FormProblem("bad_form", f"{field.label} must be {field.length or 'some'} digits")
            checked[key] = value
        return checked


class Bundle(_Model):
    """一件事: several items a life event needs, done together."""

    code: str = Field(pattern=r"^YJS-[0-9]{3}$")
    name: str = Text
    description: str = Text
    items: tuple[str, ...] = Field(min_length=2)
    aliases: tuple[str, ...] = ()


class Faq(_Model):
    id: str = Field(pattern=r"^Q-[0-9]{4}$")
    item: str
    question: str = Text
    answer: str = Text


class Catalog(_Model):
    version: str = Field(min_length=1, max_length=40)
    # The publisher's ordering, inside the signed bytes: a booth installs only a higher one than it has
    # (catalog/updates.py), so a replayed old catalogue is refused; 0 = not ordered (built before it existed).
    sequence: int = Field(default=0, ge=0)
    items: tuple[Item, ...] = Field(min_length=1)
    bundles: tuple[Bundle, ...] = ()
    faq: tuple[Faq, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> Catalog:
        codes = [item.code for item in self.items]
        twice = sorted({code for code in codes if codes.count(code) > 1})
        if twice:
            raise ValueError(f"item codes appear twice: {', '.join(twice)}")
        known = set(codes)
        for bundle in self.bundles:
            missing = [code for code in bundle.items if code not in known]
            if missing:
                raise ValueError(f"bundle {bundle.code!r}: field items names unknown items {missing}")
        ids = set()
        for entry in self.faq:
            if entry.item not in known:
                raise ValueError(f"faq {entry.id!r}: field item {entry.item!r} is not in the catalogue")
            if entry.id in ids:
                raise ValueError(f"faq {entry.id!r}: id appears twice")
            ids.add(entry.id)
        return self

    def item(self, code: str) -> Item:
        for item in self.items:
            if item.code == code:
                return item
        raise CatalogError(f"no service item with code {code!r}")

    @property
    def departments(self) -> list[str]:
        return list(dict.fromkeys(item.department for item in self.items))


def parse_catalog(data: Any) -> Catalog:
    """A checked `Catalog`, or `CatalogError` naming each bad item (by code) and field."""
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        found = [_describe(problem, data) for problem in problems(exc)[:10]]
        raise CatalogError("catalogue refused: " + "; ".join(found)) from None


def _describe(problem: Problem, data: Any) -> str:
    """The item, bundle or question by its code, as its publisher knows it, then the field and what is wrong."""
    loc = list(problem.loc)
    where = "catalogue"
    if len(loc) >= 2 and loc[0] in ("items", "bundles", "faq") and isinstance(loc[1], int):
        kind = {"items": "item", "bundles": "bundle", "faq": "faq"}[loc[0]]
        try:
            raw = data[loc[0]][loc[1]]
            name = raw.get("code") or raw.get("id") or f"#{loc[1] + 1}"
        except (KeyError, IndexError, TypeError, AttributeError):
            name = f"#{loc[1] + 1}"
        where = f"{kind} {name!r}"
        loc = loc[2:]
    if not loc:  # the item's (or the whole catalogue's) own check
        return f"{where}: {problem.message}"
    field = "field " + ".".join(str(part) for part in loc)
    return f"{where}: {problem.describe(field, unknown='is not a known field', missing=problem.message)}"


def bundled_text() -> str:
    return resources.files("appliance.catalog").joinpath(BUNDLED).read_text(encoding="utf-8")
