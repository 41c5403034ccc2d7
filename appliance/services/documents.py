"""Every paper the booth prints for a citizen, built from the catalogue's item and what was filed.
Names and ID numbers appear only masked, as on every receipt."""

from __future__ import annotations

from datetime import date, datetime

from appliance.catalog.model import Item
from appliance.privacy import mask_id_number, mask_name
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


def application_receipt(item: Item, card: IdCard, case_ref: str) -> Document:
    """受理回执: proof of an application filed, with the number to ask about it."""
    return (Document().title("受理回执").row("事项", item.name)
            .row("申请人", mask_name(card.name)).row("证件号码", mask_id_number(card.id_number))
            .row("受理编号", case_ref).row("受理时间", paper_time())
            .row("承诺时限", item.time_limit)
            .separator().qr(case_ref).text("凭受理编号查询办件进度 · 12345"))


def booking_slip(item: Item, card: IdCard, day: date, half: str, case_ref: str) -> Document:
    """预约凭条: the half-day booked at the service hall."""
    return (Document().title("预约凭条").row("事项", item.name).row("预约人", mask_name(card.name))
            .row("证件号码", mask_id_number(card.id_number))
            .row("预约时间", f"{day.isoformat()} {HALF_DAYS[half]}").row("预约编号", case_ref)
            .separator().qr(case_ref).text("请携带居民身份证按时到政务服务大厅取号 · 12345"))
