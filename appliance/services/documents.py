"""Every paper the booth prints for a citizen, built from the catalogue's item and what was filed.
Names and ID numbers appear only masked, as on every receipt."""

from __future__ import annotations

from datetime import date, datetime

from appliance.catalog.model import Item
from appliance.privacy import mask_id_number, mask_name
from appliance.receipt_numbers import grouped
from drivers.card_reader import IdCard
from drivers.printer import Document

HOTLINE = "政务服务便民热线 12345"
HALF_DAYS = {"am": "上午", "pm": "下午"}


def paper_time() -> str:
    """Now as a citizen reads it on paper: local time (the device's time zone), to the minute. Events
    carry local time with its UTC offset (`contract.iso`); paper is for the people at the booth."""
    return datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")


def notice(item: Item) -> Document:
    """一次性告知单: everything to bring for an item, at once."""
    doc = Document().title("一次性告知单").row("事项", item.name).row("部门", item.department).separator()
    doc.text("申请材料：", bold=True)
    for number, material in enumerate(item.materials, 1):
        doc.text(f"{number}. {material.line()}")
    doc.separator().row("承诺时限", item.time_limit).row("收费", item.fee)
    return doc.text(HOTLINE).row("打印时间", paper_time())


def application_receipt(item: Item, card: IdCard, number: str) -> Document:
    """受理回执: proof of an application filed, with the number to ask about it — large, for reading out on
    the phone and keying in on a digit pad — and the same number as a QR code for the booth's scanner."""
    doc = (Document().title("受理回执").row("事项", item.name)
           .row("申请人", mask_name(card.name)).row("证件号码", mask_id_number(card.id_number))
           .row("受理时间", paper_time()).row("承诺时限", item.time_limit).separator())
    return _number(doc, "受理编号", number).text(PROGRESS_HOW)


def booking_slip(item: Item, card: IdCard, day: date, half: str, number: str) -> Document:
    """预约凭条: the half-day booked at the service hall."""
    doc = (Document().title("预约凭条").row("事项", item.name).row("预约人", mask_name(card.name))
           .row("证件号码", mask_id_number(card.id_number))
           .row("预约时间", f"{day.isoformat()} {HALF_DAYS[half]}").separator())
    return _number(doc, "预约编号", number).text("请携带居民身份证按时到政务服务大厅取号 · 12345")


PROGRESS_HOW = "凭受理编号、扫描本回执二维码或放置身份证，均可在自助机查询办件进度 · 12345"


def _number(doc: Document, label: str, number: str) -> Document:
    """The receipt number: its label, the digits in groups of four in double size, and its QR code."""
    return doc.text(label, bold=True).text(grouped(number), bold=True, large=True).qr(number)
