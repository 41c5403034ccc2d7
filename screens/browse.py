"""Browse: departments, then the items of one department — or straight to search."""

from __future__ import annotations

from typing import ClassVar

from kivy.metrics import mm
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from screens import theme
from screens.strings import t
from screens.theme import SCALE
from screens.widgets import BigButton, KioskScreen, Text, scrolling


class BrowseScreen(KioskScreen):
    title_key = "departments"

    def build(self) -> None:
        self.body.add_widget(BigButton(t("search"), lambda: self.app.open("search"), name="search", points=20))
        columns = 2 if self.app.portrait else (3 if SCALE.side_rail else 4)  # the rail takes a column's width
        grid = GridLayout(cols=columns, spacing=mm(2), size_hint_y=None)
        catalog = self.app.kiosk.catalog.current
        for department in catalog.departments:
            count = sum(item.department == department for item in catalog.items)
            # The count inside its tile, under the name (the tile grows to hold both lines).
            label = f"{department}\n[size={int(SCALE.font(13))}]{t('item_count', count=count)}[/size]"
            grid.add_widget(BigButton(label, markup=True, points=19,
                                      name=f"dept_{department}", colour=theme.PANEL, text_colour=theme.TEXT,
                                      on_press=lambda d=department: self.app.open("department", department=d)))
        bundles = GridLayout(cols=columns, spacing=mm(2), size_hint_y=None)
        for bundle in catalog.bundles:
            bundles.add_widget(BigButton(bundle.name, lambda code=bundle.code: self.app.open("bundle", code=code),
                                         name=f"bundle_{bundle.code}", colour=theme.WARNING, points=17))
        page = BoxLayout(orientation="vertical", spacing=mm(2))
        page.add_widget(_wrap(grid))
        page.add_widget(Text(t("bundles"), points=18, bold=True, colour=theme.ACCENT))
        page.add_widget(_wrap(bundles))
        self.body.add_widget(scrolling(page))


class BundleScreen(KioskScreen):
    """一件事: what a life event needs, each item one touch away."""

    params: ClassVar[dict[str, object]] = {"code": ""}

    def heading(self) -> str:
        return self._bundle().name

    def _bundle(self):
        return next(b for b in self.app.kiosk.catalog.current.bundles if b.code == self.code)

    def build(self) -> None:
        bundle = self._bundle()
        page = BoxLayout(orientation="vertical", spacing=mm(1.5))
        page.add_widget(Text(bundle.description, points=18))
        for number, code in enumerate(bundle.items, 1):
            item = self.app.kiosk.catalog.item(code)
            small = int(SCALE.font(13))
            page.add_widget(BigButton(f"{number}. {item.name}  [size={small}]{item.department}[/size]", markup=True,
                                      on_press=lambda c=code: self.app.open("guide", code=c), name=f"item_{code}",
                                      colour=theme.PANEL, text_colour=theme.TEXT))
        self.body.add_widget(scrolling(page))


class DepartmentScreen(KioskScreen):
    params: ClassVar[dict[str, object]] = {"department": ""}

    def heading(self) -> str:
        count = sum(item.department == self.department for item in self.app.kiosk.catalog.current.items)
        return t("items_of", department=self.department, count=count)

    def build(self) -> None:
        items = BoxLayout(orientation="vertical", spacing=mm(1.5))
        for item in self.app.kiosk.catalog.current.items:
            if item.department == self.department:
                items.add_widget(BigButton(item.name, lambda code=item.code: self.app.open("guide", code=code),
                                           name=f"item_{item.code}", colour=theme.PANEL, text_colour=theme.TEXT,
                                           points=18))
        self.body.add_widget(scrolling(items))


def _wrap(grid: GridLayout) -> BoxLayout:
    box = BoxLayout(orientation="vertical", size_hint_y=None)
    grid.bind(minimum_height=grid.setter("height"))
    box.add_widget(grid)
    box.bind(minimum_height=box.setter("height"))
    return box
