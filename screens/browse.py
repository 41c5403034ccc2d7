"""Browse: departments, then the items of one department — or straight to search."""

from __future__ import annotations

from kivy.metrics import mm
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from screens import theme
from screens.strings import t
from screens.widgets import BigButton, KioskScreen, scrolling


class BrowseScreen(KioskScreen):
    title_key = "departments"

    def build(self) -> None:
        self.body.add_widget(BigButton(t("search"), lambda: self.app.open("search"), name="search", points=20))
        grid = GridLayout(cols=2 if self.app.portrait else 4, spacing=mm(2), size_hint_y=None)
        catalog = self.app.kiosk.catalog.current
        for department in catalog.departments:
            count = sum(item.department == department for item in catalog.items)
            grid.add_widget(BigButton(f"{department}\n[size=13sp]{count}[/size]", markup=True, points=19,
                                      name=f"dept_{department}", colour=theme.PANEL, text_colour=theme.TEXT,
                                      on_press=lambda d=department: self.app.open("department", department=d)))
        self.body.add_widget(scrolling(_wrap(grid)))


class DepartmentScreen(KioskScreen):
    department = ""

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
    box = BoxLayout(orientation="vertical")
    grid.bind(minimum_height=grid.setter("height"))
    box.add_widget(grid)
    box.bind(minimum_height=box.setter("height"))
    return box
