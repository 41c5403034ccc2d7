"""A filing's result as the citizen keeps it: what was filed, its number large and its QR code whole beside it
(below it in portrait), whether the paper came — then the rating offered ("请评价本次服务", or skip and finish),
or "finish" once the offer no longer stands. The receipt of an application and a booking made show it alike."""

from __future__ import annotations

import io

import qrcode
from kivy.core.image import Image as CoreImage
from kivy.metrics import mm
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.image import Image

from appliance.services.citizen import FiledReceipt
from screens import theme
from screens.rate import RatingOffer, rating_offered
from screens.strings import LANGUAGE, t
from screens.theme import SCALE
from screens.widgets import BigButton, KioskScreen, Text


def show_filed(screen: KioskScreen, filed: FiledReceipt, heading: str, number_key: str, printed_key: str,
               not_printed_key: str) -> tuple[RatingOffer | None, Text]:
    """Fill `screen`'s body with `filed`'s result (nothing to scroll, at 800×480 in elder mode too); returns the
    rating offer shown below it, if one stands, and the line that says whether the paper came (voice says it)."""
    facts = BoxLayout(orientation="vertical")  # each line has its own margin (Text): tight on the 7-inch panel in
    tight = {"margin": mm(0.5)} if SCALE.side_rail else {}  # elder mode, where a paper that failed takes two lines
    facts.add_widget(Text(heading, points=20, bold=True, **tight))
    facts.add_widget(Text(t(number_key), points=14, colour=theme.MUTED, **tight))
    facts.add_widget(Text(filed.number_shown, points=28, bold=True, colour=theme.ACCENT, **tight))
    if filed.printed:
        paper = Text(t(printed_key), points=18)
    else:
        reason = LANGUAGE.reason(filed.print_problem or "print_failed")
        paper = Text(t(not_printed_key, reason=reason), points=18, colour=theme.DANGER)
    code = qr_image(filed.number or filed.case_ref)
    if screen.app.portrait:  # top down, the room left over below: the code large, the buttons at the bottom
        facts.size_hint_y = None
        facts.bind(minimum_height=facts.setter("height"))
        code.size_hint_y, code.height = None, SCALE.length(70, 1.0)
        for part in (facts, code, paper, BoxLayout()):
            screen.body.add_widget(part)
    else:  # the code as tall as the room left, and as wide as it is tall: always whole
        row = BoxLayout(spacing=mm(3))
        code.size_hint = (None, 1)
        code.bind(height=lambda image, height: setattr(image, "width", height))
        facts.add_widget(BoxLayout())
        row.add_widget(facts)
        row.add_widget(code)
        screen.body.add_widget(row)
        screen.body.add_widget(paper)
    # 好差评 offered as the task is done, below its number and code (never over them): "rate this service" with
    # the item (and this filing) chosen, or skip, which finishes as "finish" would.
    if rating_offered(screen.app, filed.item, filed.case_ref):
        offer = RatingOffer(screen.app, filed.item, filed.case_ref, then=screen.app.go_home,
                            skip_key="rate_skip_finish", skip_name="finish")
        screen.body.add_widget(offer)
        return offer, paper
    screen.body.add_widget(BigButton(t("finish"), screen.app.go_home, name="finish", points=22))  # rated already
    return None, paper


def qr_image(data: str) -> Image:
    picture = qrcode.make(data, box_size=8, border=2).get_image().convert("RGB")
    buffer = io.BytesIO()
    picture.save(buffer, format="png")
    buffer.seek(0)
    texture = CoreImage(buffer, ext="png").texture
    texture.mag_filter = "nearest"  # crisp modules when scaled up
    image = Image(texture=texture, fit_mode="contain")
    image.name = "receipt_qr"  # what tests look for
    return image
