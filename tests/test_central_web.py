"""Central's web layer refuses what it must and allows what it should, each refusal beside its matching
success (a server that refuses everything fails here): sessions, CSRF, origin, content type, host,
body limits, security headers, roles, regions, lockout, personal data, the audit log, metrics and the
reverse proxy's prefix. Against the real dashboard (uvicorn) and intake on a real broker, on SQLite and
PostgreSQL."""

from __future__ import annotations

import socket
import time
from datetime import datetime

import httpx
import pytest
from sqlalchemy import select, update

from appliance.state.ids import UlidGenerator
from central import accounts
from central.tables import audit_log, cases, commands, follow_ups, ratings, web_sessions
from central.workdays import add_working_days
from tests.central_web import PASSWORD, add_user, logged_in, start_central
from tests.support import TEST_ID_NUMBER, TEST_NAME

new_ulid = UlidGenerator().new
PHONE = "13912345678"


@pytest.fixture
def office(broker, database):
    """Central with two regions' booths, a case each, a 差评 follow-up each, and four users."""
    central = start_central(broker.port, database)
    now = time.time()
    with central.db.transaction() as conn:
        for device, region in (("xc-0001", "110102"), ("dc-0001", "110101")):
            central.db.record_status(conn, device, {"status": "online", "boot": 1, "region": region,
                                                    "site": f"网点 {device}"}, now)
            central.db.record_events(conn, [
                (device, {"id": new_ulid(), "seq": 1, "kind": "submission", "created": "2026-12-01T09:00:00+08:00",
                          "payload": {"item": "RS-002", "session": "s1",
                                      "applicant": {"name": TEST_NAME, "id_number": TEST_ID_NUMBER},
                                      "form": {"reason": "遗失", "phone": PHONE}}}, now),
                (device, {"id": new_ulid(), "seq": 2, "kind": "rating", "created": "2026-12-01T09:01:00+08:00",
                          "payload": {"item": "RS-002", "level": 1, "channel": "kiosk", "reasons": ["等待时间长"]}},
                 now)])
    add_user(central.db, "admin", "admin")
    add_user(central.db, "oper", "operator")
    add_user(central.db, "xc-oper", "operator", ("110102",))
    add_user(central.db, "viewer", "viewer")
    yield central
    central.stop()


def case_of(central, device: str) -> str:
    with central.db.read() as conn:
        return conn.execute(select(cases.c.case_no).where(cases.c.device == device)).scalar_one()


def follow_up_of(central, device: str) -> int:
    with central.db.read() as conn:
        return conn.execute(select(follow_ups.c.id).where(follow_ups.c.device == device)).scalar_one()


def audit_lines(central, action: str) -> list[dict]:
    with central.db.read() as conn:
        return [dict(r) for r in conn.execute(select(audit_log).where(audit_log.c.action == action)
                                              .order_by(audit_log.c.id)).mappings()]


def commands_sent(central) -> int:
    with central.db.read() as conn:
        return len(conn.execute(select(commands.c.id)).all())


def test_sessions_csrf_origin_and_content_type(office) -> None:
    url = office.url
    anonymous = httpx.Client(base_url=url)
    assert anonymous.get("/api/fleet").status_code == 401
    assert anonymous.get("/openapi.json").status_code == 401
    page = anonymous.get("/usage?days=7")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=usage%3Fdays%3D7"
    assert anonymous.get("/login").status_code == 200
    assert anonymous.post("/api/devices/xc-0001/commands", json={"name": "ping"}).status_code in (401, 403)

    wrong = anonymous.post("/api/login", json={"username": "oper", "password": "not the password"})
    assert wrong.status_code == 401 and "kiosk_session" not in wrong.headers.get("set-cookie", "")
    right = anonymous.post("/api/login", json={"username": "oper", "password": PASSWORD})
    assert right.status_code == 200 and right.json() == {"username": "oper", "role": "operator", "regions": []}
    cookie = next(c for c in right.headers.get_list("set-cookie") if c.startswith("kiosk_session="))
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower() and "secure" not in cookie.lower()
    session = anonymous.get("/api/session").json()
    assert session["username"] == "oper" and len(session["csrf_token"]) > 20
    assert anonymous.get("/openapi.json").json()["paths"]["/api/login"]

    sent = commands_sent(office)
    no_token = anonymous.post("/api/devices/xc-0001/commands", json={"name": "ping"})
    assert no_token.status_code == 403 and "X-CSRF-Token" in no_token.json()["error"]
    forged = anonymous.post("/api/devices/xc-0001/commands", json={"name": "ping"}, headers={"X-CSRF-Token": "x"})
    assert forged.status_code == 403
    anonymous.headers["X-CSRF-Token"] = session["csrf_token"]
    foreign = anonymous.post("/api/devices/xc-0001/commands", json={"name": "ping"},
                             headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403 and "another origin" in foreign.json()["error"]
    cross_site = anonymous.post("/api/devices/xc-0001/commands", json={"name": "ping"},
                                headers={"Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403
    form = anonymous.post("/api/devices/xc-0001/commands", data={"name": "ping"})
    assert form.status_code == 415
    assert commands_sent(office) == sent, "nothing refused was sent"
    own = anonymous.post("/api/devices/xc-0001/commands", json={"name": "ping"}, headers={"Origin": url})
    assert own.status_code == 200 and own.json()["id"].endswith("-xc-0001")
    assert commands_sent(office) == sent + 1

    assert anonymous.post("/api/logout", json={}).status_code == 200
    assert anonymous.get("/api/fleet").status_code == 401
    command = [line for line in audit_lines(office, "command") if line["target"] == "xc-0001"]
    assert len(command) == 1 and command[0]["actor"] == "oper" and command[0]["address"] == "127.0.0.1"
    assert command[0]["details"]["name"] == "ping"
    failed = audit_lines(office, "login_failed")
    assert failed[-1]["target"] == "oper" and failed[-1]["ok"] is False
    assert [line["actor"] for line in audit_lines(office, "login")] == ["oper"]


def test_host_body_limits_and_headers(office) -> None:
    url = office.url
    evil = httpx.get(url + "/login", headers={"Host": "evil.example"})
    assert evil.status_code == 400
    good = httpx.get(url + "/login")
    assert good.status_code == 200
    policy = good.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert good.headers["x-frame-options"] == "DENY" and good.headers["x-content-type-options"] == "nosniff"

    client = logged_in(url, "oper")
    host, port = url.split("//")[1].split(":")
    cookies = "; ".join(f"{k}={v}" for k, v in client.cookies.items())

    def raw(headers: str, body: bytes = b"", chunks: list[bytes] | None = None) -> int:
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(f"POST /api/devices/xc-0001/commands HTTP/1.1\r\nHost: {host}:{port}\r\n"
                         f"Cookie: {cookies}\r\nX-CSRF-Token: {client.headers['X-CSRF-Token']}\r\n"
                         f"Content-Type: application/json\r\n{headers}\r\n".encode() + body)
            try:
                for chunk in chunks or []:
                    sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                if chunks is not None:
                    sock.sendall(b"0\r\n\r\n")
            except OSError:
                pass  # the server answered and closed before the whole body was sent
            answer = sock.recv(4096)
        return int(answer.split(b" ")[1])

    ping = b'{"name": "ping"}'
    assert raw(f"Content-Length: {len(ping)}\r\n", ping) == 200
    assert raw("Content-Length: -1\r\n", ping) == 400
    assert raw(f"Content-Length: {64 * 1024 * 1024}\r\n", b"{" + b" " * 65536) == 413
    padded = b'{"name": "ping", "pad": "' + b"x" * 4096
    assert raw("Transfer-Encoding: chunked\r\n", chunks=[padded] + [b"x" * 4096] * 8 + [b'"}']) == 413
    assert raw("Transfer-Encoding: chunked\r\n", chunks=[ping]) == 200


def test_roles_and_regions(office) -> None:
    url = office.url
    viewer, oper, local, admin = (logged_in(url, name) for name in ("viewer", "oper", "xc-oper", "admin"))
    xc_case, dc_case = case_of(office, "xc-0001"), case_of(office, "dc-0001")
    xc_follow_up, dc_follow_up = follow_up_of(office, "xc-0001"), follow_up_of(office, "dc-0001")

    assert viewer.post("/api/devices/xc-0001/commands", json={"name": "ping"}).status_code == 403
    assert viewer.post(f"/api/cases/{xc_case}/status", json={"status": "审核中"}).status_code == 403
    assert viewer.post(f"/api/follow-ups/{xc_follow_up}/close", json={"note": "回访"}).status_code == 403
    assert viewer.get("/api/audit").status_code == 403 and oper.get("/api/audit").status_code == 403
    assert admin.get("/api/audit").status_code == 200

    assert [d["device"] for d in local.get("/api/fleet").json()["devices"]] == ["xc-0001"]
    assert {d["device"] for d in oper.get("/api/fleet").json()["devices"]} == {"xc-0001", "dc-0001"}
    assert local.get("/api/devices/dc-0001").status_code == 404
    assert local.get("/api/devices/xc-0001").status_code == 200
    assert local.post("/api/devices/dc-0001/commands", json={"name": "ping"}).status_code == 404
    assert local.post("/api/devices/xc-0001/commands", json={"name": "ping"}).status_code == 200
    assert [c["case_no"] for c in local.get("/api/cases").json()["cases"]] == [xc_case]
    assert local.get(f"/api/cases/{dc_case}").status_code == 404
    assert local.post(f"/api/cases/{dc_case}/status", json={"status": "审核中"}).status_code == 404
    assert local.post(f"/api/follow-ups/{dc_follow_up}/close", json={"note": "回访"}).status_code == 404
    assert [f["id"] for f in local.get("/api/usage").json()["follow_ups"]] == [xc_follow_up]

    moved = local.post(f"/api/cases/{xc_case}/status", json={"status": "已办结", "note": "请到窗口领取"})
    assert moved.status_code == 200 and moved.json()["closed_at"]
    unknown = local.post(f"/api/cases/{xc_case}/status", json={"status": "随便"})
    assert unknown.status_code == 400 and "不予受理" in unknown.json()["error"]
    closed = local.post(f"/api/follow-ups/{xc_follow_up}/close", json={"note": "已电话回访"})
    assert closed.status_code == 200
    assert local.post(f"/api/follow-ups/{xc_follow_up}/close", json={"note": "again"}).status_code == 409
    with office.db.read() as conn:
        row = conn.execute(select(follow_ups).where(follow_ups.c.id == xc_follow_up)).mappings().one()
        progress = office.db.progress(conn, conn.execute(select(cases.c.receipt).where(
            cases.c.case_no == xc_case)).scalar_one())
    assert row["closed_by"] == "xc-oper" and row["note"] == "已电话回访"
    assert progress["status"] == "已办结" and progress["note"] == "请到窗口领取"  # what the booth now shows

    lines = admin.get("/api/audit").json()
    done = {(line["actor"], line["action"], line["target"]) for line in lines}
    assert ("xc-oper", "case_status", xc_case) in done and ("xc-oper", "follow_up_closed", str(xc_follow_up)) in done
    assert ("xc-oper", "command", "xc-0001") in done and ("admin", "login", "admin") in done


def test_personal_data_only_on_the_case_page_masked_for_viewers(office) -> None:
    url = office.url
    viewer, oper = logged_in(url, "viewer"), logged_in(url, "oper")
    case = case_of(office, "xc-0001")
    booth = oper.get("/api/devices/xc-0001").text + oper.get("/api/fleet").text + oper.get("/api/cases").text
    for secret in (TEST_NAME, TEST_ID_NUMBER, PHONE):
        assert secret not in booth
    full = oper.get(f"/api/cases/{case}").json()
    assert full["applicant"] == {"name": TEST_NAME, "id_number": TEST_ID_NUMBER, "phone": PHONE}
    assert full["item_name"] != "RS-002" and not full["masked"]
    masked = viewer.get(f"/api/cases/{case}").text
    for secret in (TEST_NAME, TEST_ID_NUMBER, PHONE):
        assert secret not in masked
    assert '"masked":true' in masked and PHONE[-4:] in masked
    opened = audit_lines(office, "case_opened")
    assert [(line["actor"], line["target"], line["details"]["masked"]) for line in opened] == [
        ("oper", case, False), ("viewer", case, True)]


def test_lockout_disabled_users_and_idle_sessions(office) -> None:
    url = office.url
    client = httpx.Client(base_url=url)
    for _ in range(accounts.LOCK_AFTER - 1):
        assert client.post("/api/login", json={"username": "viewer", "password": "guessing"}).status_code == 401
    locked = client.post("/api/login", json={"username": "viewer", "password": "guessing"})
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 60
    assert client.post("/api/login", json={"username": "viewer", "password": PASSWORD}).status_code == 429
    assert client.post("/api/login", json={"username": "oper", "password": PASSWORD}).status_code == 200
    reasons = [line["details"]["reason"] for line in audit_lines(office, "login_failed")]
    assert reasons == ["wrong_password"] * (accounts.LOCK_AFTER - 1) + ["locked", "locked"]

    admin = logged_in(url, "admin")
    assert admin.get("/api/fleet").status_code == 200
    with office.db.transaction() as conn:
        accounts.set_disabled(conn, "admin", True)
    assert admin.get("/api/fleet").status_code == 401, "a disabled user's session ends at once"

    oper = logged_in(url, "oper")
    assert oper.get("/api/fleet").status_code == 200
    with office.db.transaction() as conn:
        conn.execute(update(web_sessions).values(expires_at=time.time() - 1))  # idle past session_idle_min
    assert oper.get("/api/fleet").status_code == 401


def test_metrics_and_health_for_monitoring_only(office, broker, tmp_path) -> None:
    scraped = httpx.get(office.url + "/metrics")
    assert scraped.status_code == 200 and "central_" in scraped.text
    assert httpx.get(office.url + "/api/health").status_code == 200
    elsewhere = start_central(broker.port, f"sqlite:///{tmp_path / 'other.sqlite3'}", metrics_from=("10.9.9.9/32",))
    try:
        assert httpx.get(elsewhere.url + "/metrics").status_code == 401
        assert httpx.get(elsewhere.url + "/api/health").status_code == 401
    finally:
        elsewhere.stop()


def test_names_that_do_not_exist_are_answered_like_those_that_do(office) -> None:
    client = httpx.Client(base_url=office.url)
    made_up = f"nobody-{time.time_ns()}"  # central remembers made-up names' failures for its whole run
    for name in ("viewer", made_up):  # a real account and a made-up one: the same answers, the same lock
        answers = [client.post("/api/login", json={"username": name, "password": "guessing"})
                   for _ in range(accounts.LOCK_AFTER)]
        assert [a.status_code for a in answers] == [401] * (accounts.LOCK_AFTER - 1) + [429], name
        assert "1 more" in answers[-2].json()["error"]
    with office.db.transaction() as conn:
        accounts.set_disabled(conn, "oper", True)
    disabled = client.post("/api/login", json={"username": "oper", "password": PASSWORD})
    assert disabled.status_code == 403 and "disabled" in disabled.json()["error"]
    assert client.post("/api/login", json={"username": "admin", "password": PASSWORD}).status_code == 200
    with office.db.transaction() as conn:
        accounts.set_disabled(conn, "viewer", False)  # enabling lifts the lock too
    assert client.post("/api/login", json={"username": "viewer", "password": PASSWORD}).status_code == 200


def test_a_rating_counts_from_when_the_citizen_gave_it(office) -> None:
    """A booth offline for days: its 差评 is dated and due from the rating, not from its arrival."""
    three_days_ago = time.time() - 3 * 86_400
    rating = {"id": new_ulid(), "seq": 9, "kind": "rating", "created": datetime.fromtimestamp(three_days_ago)
              .astimezone().isoformat(timespec="milliseconds"), "created_clock_synced": True,
              "payload": {"item": "GA-001", "level": 1, "channel": "kiosk"}}
    unsynced = {**rating, "id": new_ulid(), "seq": 10, "created_clock_synced": False}
    with office.db.transaction() as conn:
        office.db.record_events(conn, [("xc-0001", rating, time.time()), ("xc-0001", unsynced, time.time())])
    with office.db.read() as conn:
        rows = {r.event: r for r in conn.execute(select(ratings.c.event, ratings.c.rated_at, ratings.c.received_at))}
        due = dict(conn.execute(select(follow_ups.c.rating, follow_ups.c.due_at)).all())
    assert abs(rows[rating["id"]].rated_at - three_days_ago) < 1
    assert rows[unsynced["id"]].rated_at == rows[unsynced["id"]].received_at  # an unsynchronised clock: arrival
    assert due[rating["id"]] == add_working_days(rows[rating["id"]].rated_at, 5)


def test_a_case_opens_by_its_receipt_number_and_commands_expire(office) -> None:
    oper = logged_in(office.url, "oper")
    case = case_of(office, "xc-0001")
    with office.db.read() as conn:
        receipt = conn.execute(select(cases.c.receipt).where(cases.c.case_no == case)).scalar_one()
    assert oper.get(f"/api/cases/{receipt}").json()["case_no"] == case
    assert oper.get(f"/api/cases/{receipt.lower()}").json()["case_no"] == case
    assert oper.get("/api/cases/000000000000").status_code == 404
    sent = oper.post("/api/devices/xc-0001/commands", json={"name": "ping", "expires_s": 1}).json()["id"]
    assert [c["state"] for c in oper.get("/api/devices/xc-0001").json()["commands"]] == ["waiting"]
    time.sleep(1.2)
    shown = oper.get("/api/devices/xc-0001").json()["commands"]
    assert [(c["id"], c["state"], c["sent_by"]) for c in shown] == [(sent, "expired", "oper")]
    assert oper.get("/nowhere").status_code == 404 and "nowhere" in oper.get("/nowhere").json()["error"]
