"""The 业务办理登记台账 export and the catalogue names central shows: a real SQLite database filled the way the
intake fills it (two regions, several days), exported as XLSX and CSV and read back."""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select, update

from appliance.state.ids import UlidGenerator
from central.accounts import User
from central.assist_desk import NO_ITEM, OUTCOME_NAMES, AssistDesk, take_s
from central.catalogue_names import UNKNOWN, CatalogueNames, CatalogueNamesError
from central.database import Database
from central.ledger import (
    ASSIST_COLUMNS,
    CASE_COLUMNS,
    MAX_DAYS,
    RATING_COLUMNS,
    SECTIONS,
    USAGE_COLUMNS,
    cell_text,
    ledger,
    to_csv,
    to_xlsx,
)
from central.settings import build_settings
from central.tables import assists, cases, events, follow_ups

SHIPPED = Path(__file__).resolve().parents[1] / "central" / "catalog"
NAMES = CatalogueNames.load(None)

# What a citizen's card and form carry: none of it may reach the ledger in any form.
APPLICANT_NAME = "欧阳明月"
ID_NUMBER = "37020219800101123X"
PHONE = "13912345678"
ADDRESS = "青岛市市南区香港中路100号"

D1, D2, D3, D4 = date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4), date(2026, 11, 12)
START, END = D1, D3  # the period; D4 is outside it
A, B = "kiosk-qd-0001", "kiosk-yt-0001"  # 370202 (Qingdao, Shinan) and 370611 (Yantai, Fushan)

new_ulid = UlidGenerator().new


def at(day: date, hour: int, minute: int = 0) -> float:
    return datetime(day.year, day.month, day.day, hour, minute).timestamp()


def stamp(unix: float) -> str:
    """As a booth stamps a time (appliance.contract.iso): local wall clock with its offset."""
    return datetime.fromtimestamp(unix).astimezone().isoformat(timespec="seconds")


class Fleet:
    """Two booths and their events, recorded through Database.record_events as the intake does (and assist
    requests put on the desk, taken and closed as the intake and the operators do)."""

    def __init__(self, db: Database, key: Path) -> None:
        self.db = db
        self.desk = AssistDesk(db, build_settings(personal_data_key=key))
        self.seq = {A: 0, B: 0}
        with db.transaction() as conn:
            for device, region in ((A, "370202"), (B, "370611")):
                db.record_status(conn, device, {"status": "online", "boot": 1, "software": "1.0",
                                                "site": f"site of {device}", "region": region}, at(D1, 8))

    def event(self, device: str, kind: str, payload: dict, received: float) -> str:
        self.seq[device] += 1
        event_id = new_ulid()
        envelope = {"id": event_id, "seq": self.seq[device], "kind": kind, "created": stamp(received),
                    "payload": payload}
        with self.db.transaction() as conn:
            assert self.db.record_events(conn, [(device, envelope, received)])
        return event_id

    def usage(self, device: str, window_start: float, counts: list[tuple[str, str, int]]) -> str:
        return self.event(device, "usage", {
            "window_start": stamp(window_start), "window_end": stamp(window_start + 900),
            "counts": [{"action": action, "item": item, "count": n} for action, item, n in counts]},
            window_start + 960)

    def submission(self, device: str, item: str, received: float) -> str:
        return self.event(device, "submission", {
            "item": item, "session": new_ulid(),
            "applicant": {"name": APPLICANT_NAME, "id_number": ID_NUMBER, "sex": "女", "nation": "汉",
                          "birth_date": "1980-01-01", "address": ADDRESS},
            "form": {"reason": "遗失", "phone": PHONE}}, received)

    def assist(self, device: str, item: str | None, received: float, phone: str | None = None,
               taken_after_s: float | None = None, outcome: str | None = None) -> str:
        """A call for help put on the desk as the intake does, then taken and closed as an operator does."""
        payload = {"item": item, "screen": "guide", "mode": "call_back" if phone else "on_site", "session": "s"}
        request = self.event(device, "assist", payload, received)
        operator = User("operator1", "operator", ())
        with self.db.transaction() as conn:
            self.desk.record(conn, device, {"id": request, "created": stamp(received), "payload": payload}, received,
                             phone)
            assist_id = conn.execute(select(assists.c.id).where(assists.c.request == request)).scalar_one()
            if taken_after_s is not None:
                self.desk.take(conn, operator, assist_id, None, "", received + taken_after_s)
            if outcome is not None:
                self.desk.close(conn, operator, assist_id, outcome, f"回电 {phone}", "", received + 600)
        return request

    def rating(self, device: str, item: str, level: int, received: float, case: str | None = None) -> str:
        payload = {"item": item, "level": level, "channel": "kiosk", "session": new_ulid(),
                   "comment": f"我是{APPLICANT_NAME}，电话{PHONE}"}  # free text: it stays out of the ledger
        if case:
            payload["case"] = case
        return self.event(device, "rating", payload, received)


@pytest.fixture
def fleet(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    f = Fleet(db, tmp_path / "personal-data.key")
    # usage: two windows of one day add up; an unknown code, a hostile one, a day outside the period
    f.usage(A, at(D1, 10), [("guide_viewed", "GA-001", 3), ("notice_printed", "GA-001", 1), ("session_start", "", 4)])
    f.usage(A, at(D1, 11), [("guide_viewed", "GA-001", 2)])
    f.usage(A, at(D2, 9), [("submission", "RS-002", 1), ("guide_viewed", "ZZ-999", 1), ("guide_viewed", "=1+2", 1)])
    f.usage(B, at(D2, 15), [("appointment", "GA-001", 2), ("guide_viewed", "RS-002", 6)])
    f.usage(B, at(D3, 16), [("guide_viewed", "YJS-001", 1)])
    f.usage(A, at(D4, 10), [("guide_viewed", "GA-001", 7)])
    # malformed rows recorded before the intake refused them: no usable day; counts not a list; one bad count
    f.event(A, "usage", {"window_start": "yesterday-ish", "counts": [{"action": "guide_viewed", "count": 9}]},
            at(D2, 12))
    f.event(A, "usage", {"window_start": stamp(at(D2, 13)), "counts": "lots"}, at(D2, 13, 20))
    f.event(B, "usage", {"window_start": stamp(at(D3, 8)), "counts": [
        {"action": "guide_viewed", "item": "GA-001", "count": "many"}, {"action": "notice_printed", "item": "GA-001",
                                                                         "count": 2}]}, at(D3, 8, 20))
    # submissions (each opens a case) and ratings
    f.receipt_a = f.submission(A, "RS-002", at(D2, 9, 5))
    f.receipt_b = f.submission(B, "GA-002", at(D3, 14))
    f.receipt_late = f.submission(A, "RS-002", at(D4, 9))
    f.rating(A, "GA-001", 5, at(D1, 10, 30))
    closed = f.rating(A, "RS-002", 1, at(D2, 9, 10), case=f.receipt_a)
    overdue = f.rating(B, "GA-002", 2, at(D3, 14, 10), case=f.receipt_b)
    old = f.rating(A, "GA-001", 2, at(D3, 11))  # its follow-up predates deadlines: due_at NULL
    recent = f.rating(B, "GA-001", 1, at(D3, 17))  # due later on the day the ledger is made
    f.rating(A, "GA-001", 4, at(D4, 11))
    with db.transaction() as conn:
        conn.execute(update(follow_ups).where(follow_ups.c.rating == overdue).values(due_at=at(D3 + timedelta(1), 18)))
        conn.execute(update(follow_ups).where(follow_ups.c.rating == old).values(due_at=None))
        conn.execute(update(follow_ups).where(follow_ups.c.rating == recent).values(due_at=at(D4, 18)))
        follow_up = conn.execute(select(follow_ups.c.id).where(follow_ups.c.rating == closed)).scalar_one()
        assert db.close_follow_up(conn, follow_up, "operator1", "已电话回访", at(D3, 9))
        conn.execute(update(cases).where(cases.c.receipt == f.receipt_a).values(
            status="已办结", updated_at=at(D3, 10), updated_by="operator1", closed_at=at(D3, 10)))
    f.case_no = {receipt: no for receipt, no in _case_numbers(db)}
    # calls for help: A's two taken after 2 and 1 minutes (and a fraction) and closed; B's (no item) never taken;
    # one after the period
    f.assist(A, "GA-001", at(D2, 10), phone=PHONE, taken_after_s=120.8, outcome="called_back")
    f.assist(A, "GA-001", at(D2, 11), taken_after_s=61.6, outcome="helped_on_site")
    f.assist(B, None, at(D3, 20))
    f.assist(A, "GA-001", at(D4, 9), outcome="citizen_gone")
    return f


def _case_numbers(db: Database):
    with db.read() as conn:
        return conn.execute(select(cases.c.receipt, cases.c.case_no)).all()


def made(fleet: Fleet, regions: tuple[str, ...] = (), start: date = START, end: date = END):
    with fleet.db.read() as conn:
        return ledger(conn, start, end, regions, NAMES, now=at(D4, 12))


def sheet_rows(book, title: str) -> list[tuple]:
    return list(book[title].iter_rows(values_only=True))


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute)


def test_the_xlsx_holds_every_section_with_names_counts_and_real_dates(fleet: Fleet) -> None:
    result = made(fleet)
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(result)))
    assert book.sheetnames == ["使用统计", "好差评", "办件", "帮办代办"]

    usage = sheet_rows(book, "使用统计")
    assert usage[0] == USAGE_COLUMNS
    assert usage[1:] == [
        (local(D1, 0), A, "370202", None, None, None, "session_start", "开始使用", 4),
        (local(D1, 0), A, "370202", "GA-001", "居民身份证到期换领", "公安", "guide_viewed", "查看办事指南", 5),
        (local(D1, 0), A, "370202", "GA-001", "居民身份证到期换领", "公安", "notice_printed", "打印一次性告知单", 1),
        (local(D2, 0), A, "370202", "=1+2", f"=1+2{UNKNOWN}", None, "guide_viewed", "查看办事指南", 1),
        (local(D2, 0), A, "370202", "RS-002", NAMES.item("RS-002"), "人社", "submission", "提交申请", 1),
        (local(D2, 0), A, "370202", "ZZ-999", f"ZZ-999{UNKNOWN}", None, "guide_viewed", "查看办事指南", 1),
        (local(D2, 0), B, "370611", "GA-001", "居民身份证到期换领", "公安", "appointment", "预约", 2),
        (local(D2, 0), B, "370611", "RS-002", NAMES.item("RS-002"), "人社", "guide_viewed", "查看办事指南", 6),
        (local(D3, 0), B, "370611", "GA-001", "居民身份证到期换领", "公安", "notice_printed", "打印一次性告知单", 2),
        (local(D3, 0), B, "370611", "YJS-001", "新生儿出生“一件事”", NAMES.department("YJS-001"), "guide_viewed",
         "查看办事指南", 1),
    ]
    assert NAMES.item("RS-002") == "社会保障卡挂失"
    sheet = book["使用统计"]
    assert sheet.freeze_panes == "A2" and all(cell.font.b for cell in sheet[1])
    assert sheet["A2"].is_date and sheet["A2"].number_format == "yyyy-mm-dd"
    assert sheet["D5"].data_type == "s"  # the hostile "=1+2" is text, not a formula
    assert sheet.column_dimensions["E"].width >= 20  # wide enough for an item's name

    ratings = sheet_rows(book, "好差评")
    assert ratings[0] == RATING_COLUMNS
    assert [(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[9], r[10]) for r in ratings[1:]] == [
        (local(D1, 10, 30), A, "370202", "GA-001", "居民身份证到期换领", "公安", 5, "非常满意", None, "无需回访"),
        (local(D2, 9, 10), A, "370202", "RS-002", NAMES.item("RS-002"), "人社", 1, "非常不满意", fleet.receipt_a,
         "已回访"),
        (local(D3, 11), A, "370202", "GA-001", "居民身份证到期换领", "公安", 2, "不满意", None, "待回访"),
        (local(D3, 14, 10), B, "370611", "GA-002", NAMES.item("GA-002"), "公安", 2, "不满意", fleet.receipt_b,
         "已超期"),
        (local(D3, 17), B, "370611", "GA-001", "居民身份证到期换领", "公安", 1, "非常不满意", None, "待回访"),
    ]
    assert ratings[4][11] == local(D3 + timedelta(1), 18) and ratings[3][11] is None  # the deadline, as a time
    assert book["好差评"]["A2"].is_date

    case_rows = sheet_rows(book, "办件")
    assert case_rows[0] == CASE_COLUMNS
    assert case_rows[1:] == [
        (fleet.case_no[fleet.receipt_a], fleet.receipt_a, A, "370202", "RS-002", NAMES.item("RS-002"), "人社",
         "已办结", local(D2, 9, 5), local(D3, 10), "operator1", local(D3, 10)),
        (fleet.case_no[fleet.receipt_b], fleet.receipt_b, B, "370611", "GA-002", NAMES.item("GA-002"), "公安",
         "已受理", local(D3, 14), local(D3, 14), None, None),
    ]
    assert result.skipped_usage == 2  # the report without a usable day, the one whose counts are not a list

    helped = sheet_rows(book, "帮办代办")
    assert helped[0] == ASSIST_COLUMNS
    assert helped[1:] == [  # per booth and item: requests, taken, median seconds to take, the outcomes, open
        (A, "370202", "GA-001", "居民身份证到期换领", "公安", 2, 2, 90, 1, 1, 0, 0, 0),
        (B, "370611", None, NO_ITEM, NO_ITEM, 1, 0, None, 0, 0, 0, 0, 1),  # no item picked: said, not blank
    ]
    # the outcomes in the words the desk uses (central.assist_desk.OUTCOME_NAMES), in the contract's order
    assert [title.split()[0] for title in helped[0][8:12]] == list(OUTCOME_NAMES.values())


def test_the_time_to_take_is_the_desks_in_the_ledger_and_the_usage_page(fleet: Fleet) -> None:
    """One definition, one rounding: each request's time to take as the desk shows it (whole seconds, cut),
    and the median of those, never of the unrounded times (23.6 s is 23 s on the desk and in the 台账)."""
    with fleet.db.read() as conn:
        rows = conn.execute(select(assists).where(assists.c.taken_at.is_not(None))
                            .order_by(assists.c.made_at)).mappings().all()
    assert [take_s(r) for r in rows] == [120, 61]  # 120.8 s and 61.6 s, as the desk lists them
    quick = fleet.assist(B, "GA-001", at(D3, 9), taken_after_s=23.6, outcome="no_answer")
    with fleet.db.read() as conn:
        row = conn.execute(select(assists).where(assists.c.request == quick)).mappings().one()
    assert take_s(row) == 23
    assert [r[7] for r in made(fleet).assists.rows if r[0] == B and r[2] == "GA-001"] == [23]


def test_the_region_filter_keeps_only_that_regions_rows(fleet: Fleet) -> None:
    qingdao = made(fleet, ("3702",))
    assert {row[1] for row in qingdao.usage.rows} == {A}
    assert {row[1] for row in qingdao.ratings.rows} == {A} and len(qingdao.ratings.rows) == 3
    assert [row[0] for row in qingdao.assists.rows] == [A]
    assert [row[1] for row in qingdao.cases.rows] == [fleet.receipt_a]
    both = made(fleet, ("370202", "3706"))
    assert {row[1] for row in both.usage.rows} == {A, B}
    assert not any(section.rows for section in made(fleet, ("1101",)).sections)
    yantai = openpyxl.load_workbook(io.BytesIO(to_xlsx(made(fleet, ("370611",)))))
    for title in ("使用统计", "好差评", "办件"):
        assert A not in {cell for row in sheet_rows(yantai, title) for cell in row}
    with pytest.raises(TypeError, match="tuple"):
        made(fleet, "3702")  # type: ignore[arg-type]


def test_the_period_excludes_what_happened_outside_it(fleet: Fleet) -> None:
    result = made(fleet)
    assert all(START <= row[0] <= END for row in result.usage.rows)
    assert 7 not in [row[-1] for row in result.usage.rows]  # D4's usage
    assert all(row[0].date() <= END for row in result.ratings.rows)
    assert fleet.receipt_late not in [row[1] for row in result.cases.rows]
    later = made(fleet, start=D4, end=D4)
    assert [(row[0], row[5], row[11]) for row in later.assists.rows] == [(A, 1, 1)]  # 1 request, the citizen gone
    assert [(row[0], row[3], row[-1]) for row in later.usage.rows] == [(D4, "GA-001", 7)]
    assert [row[6] for row in later.ratings.rows] == [4]
    assert [row[1] for row in later.cases.rows] == [fleet.receipt_late]
    one_day = made(fleet, start=D2, end=D2)
    assert {row[0] for row in one_day.usage.rows} == {D2}
    assert [row[1] for row in one_day.cases.rows] == [fleet.receipt_a]


def test_csv_reads_back_as_the_same_rows_with_a_bom(fleet: Fleet) -> None:
    result = made(fleet)
    for name in SECTIONS:
        data = to_csv(result, name)
        assert data.startswith(b"\xef\xbb\xbf")
        parsed = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        section = result.section(name)
        assert parsed[0] == list(section.columns)
        assert parsed[1:] == [[cell_text(value) for value in row] for row in section.rows]
        assert len(parsed) == len(section.rows) + 1 > 1
    usage = list(csv.reader(io.StringIO(to_csv(result, "usage").decode("utf-8-sig"))))
    assert ["2026-11-02", A, "370202", "GA-001", "居民身份证到期换领", "公安", "guide_viewed", "查看办事指南",
            "5"] in usage
    assert any(row[3] == "'=1+2" for row in usage)  # a spreadsheet would run =1+2 as a formula
    cases_csv = list(csv.reader(io.StringIO(to_csv(result, "cases").decode("utf-8-sig"))))
    assert cases_csv[1][8] == "2026-11-03 09:05:00"
    with pytest.raises(ValueError, match="no ledger section"):
        to_csv(result, "applicants")


def test_no_personal_data_reaches_the_ledger_in_any_form(fleet: Fleet) -> None:
    with fleet.db.read() as conn:  # the database does hold it: the export must leave it behind
        payload = conn.execute(select(events.c.payload).where(events.c.id == fleet.receipt_a)).scalar_one()
    assert payload["applicant"]["id_number"] == ID_NUMBER and payload["form"]["phone"] == PHONE

    secrets = (APPLICANT_NAME, ID_NUMBER, PHONE, ADDRESS, "1980-01-01")
    result = made(fleet)
    texts = [to_csv(result, name).decode("utf-8-sig") for name in SECTIONS]
    with zipfile.ZipFile(io.BytesIO(to_xlsx(result))) as book:
        texts += [book.read(member).decode("utf-8", "replace") for member in book.namelist()]
    texts.append(repr(result))
    for text in texts:
        for secret in secrets:
            assert secret not in text
    assert fleet.receipt_a in texts[2]  # the case is there, without its applicant


def test_a_malformed_old_usage_row_is_skipped_without_failing(fleet: Fleet) -> None:
    fleet.event(A, "usage", ["not", "a", "mapping"], at(D2, 20))
    fleet.event(A, "usage", {"counts": [{"action": "guide_viewed", "item": "GA-001", "count": 1}]}, at(D2, 21))
    result = made(fleet)
    assert result.skipped_usage == 4
    assert to_xlsx(result) and to_csv(result, "usage")
    assert [row[-1] for row in result.usage.rows if row[0] == D1 and row[6] == "guide_viewed"] == [5]


def test_a_period_too_long_or_backwards_is_refused(fleet: Fleet) -> None:
    with fleet.db.read() as conn:
        with pytest.raises(ValueError, match=f"at most {MAX_DAYS} days"):
            ledger(conn, date(2025, 1, 1), date(2026, 1, 2), (), NAMES)
        with pytest.raises(ValueError, match="before it starts"):
            ledger(conn, D3, D1, (), NAMES)
        whole_year = ledger(conn, date(2026, 1, 1), date(2026, 12, 31), (), NAMES)  # 365 days: fine
    assert len(whole_year.cases.rows) == 3


# -- the catalogue's names ----------------------------------------------------------------------------------
def test_names_of_known_codes_and_a_marker_for_unknown_ones() -> None:
    assert NAMES.item("GA-001") == "居民身份证到期换领" and NAMES.department("GA-001") == "公安"
    assert NAMES.item("YJS-001") == "新生儿出生“一件事”"
    assert NAMES.item("GA-999") == "GA-999（目录中无此事项）" and NAMES.department("GA-999") == ""
    assert NAMES.item("") == "" and NAMES.department("") == ""
    rows = NAMES.rows()
    assert ("GA-001", "居民身份证到期换领", "公安") in rows and len(rows) == len({code for code, _, _ in rows})
    assert CatalogueNames.load(SHIPPED).rows() == rows
    assert NAMES.field("RS-002", "phone") == "联系电话" and NAMES.field("RS-002", "nickname") == "nickname"
    assert CatalogueNames.load(None) is NAMES  # the shipped catalogue is built once per process
    with pytest.raises(TypeError):
        NAMES._names["GA-001"] = "改"  # type: ignore[index]
    with pytest.raises(AttributeError):
        NAMES._names = {}  # type: ignore[misc]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    copy = tmp_path / "catalog"
    shutil.copytree(SHIPPED, copy)
    return copy


def test_a_broken_yaml_file_is_named(source: Path) -> None:
    broken = source / "departments" / "03-yibao.yaml"
    broken.write_text("department: 医保\nitems: [\n  - code: YB-001\n", encoding="utf-8")
    with pytest.raises(CatalogueNamesError, match=r"03-yibao\.yaml"):
        CatalogueNames.load(source)


def test_a_wrong_item_or_shape_is_named_by_its_file(source: Path) -> None:
    path = source / "departments" / "02-renshe.yaml"
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace("promised_days:", "promised_dayz:", 1), encoding="utf-8")
    with pytest.raises(CatalogueNamesError, match=r"02-renshe\.yaml.*RS-001"):
        CatalogueNames.load(source)
    path.write_text(original.replace("department:", "dept:", 1), encoding="utf-8")
    with pytest.raises(CatalogueNamesError, match=r"02-renshe\.yaml.*department"):
        CatalogueNames.load(source)
    path.write_text(original, encoding="utf-8")
    (source / "bundles.yaml").write_text("bundles: {", encoding="utf-8")
    with pytest.raises(CatalogueNamesError, match=r"bundles\.yaml"):
        CatalogueNames.load(source)
    with pytest.raises(CatalogueNamesError, match="no such folder"):
        CatalogueNames.load(source / "nowhere")
