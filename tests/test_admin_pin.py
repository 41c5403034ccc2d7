"""The admin PIN: a salted hash only, a paced and limited number of tries, a lockout that outlives a
restart, and every judged attempt reported to central as an alert event."""

from __future__ import annotations

import json
import time

import pytest

from appliance.config import ConfigError, parse_config
from appliance.state.admin_pin import LOCKOUT_S, MAX_FAILURES, MIN_INTERVAL_S, PinError, PinGuard, hash_pin, pin_matches
from appliance.state.store import Store
from tests.support import kiosk_config_data


def test_the_pin_is_kept_only_as_a_salted_hash() -> None:
    first, second = hash_pin("246810"), hash_pin("246810")
    assert first != second and "246810" not in first  # salted: the same PIN never hashes alike
    assert pin_matches("246810", first) and not pin_matches("246811", first)
    for bad in ("1234", "12345a", "1" * 13, ""):
        with pytest.raises(PinError, match="6 to 12 digits"):
            hash_pin(bad)


def test_failures_lock_out_and_the_lockout_survives_a_restart(tmp_path) -> None:
    store = Store(tmp_path / "state.sqlite3")
    guard, now = PinGuard(store, hash_pin("246810")), 1_000_000.0
    assert guard.attempt("000000", now).outcome == "wrong"
    assert guard.attempt("000000", now + 0.5).outcome == "too_fast"  # paced: one try per 2 s
    outcomes = [guard.attempt("000000", now + MIN_INTERVAL_S * n).outcome for n in range(1, MAX_FAILURES)]
    assert outcomes == ["wrong"] * (MAX_FAILURES - 2) + ["locked"]
    store.close()
    restarted = PinGuard(Store(tmp_path / "state.sqlite3"), hash_pin("246810"))
    locked = restarted.attempt("246810", now + 60)  # even the right PIN waits out the lockout
    assert locked.outcome == "locked" and locked.locked_until == pytest.approx(now + MIN_INTERVAL_S * 4 + LOCKOUT_S)
    assert restarted.attempt("246810", now + LOCKOUT_S + 60).outcome == "ok"


def test_a_config_holds_a_hash_not_a_pin(tmp_path) -> None:
    data = kiosk_config_data(tmp_path / "state", 1883)
    assert parse_config({**data, "admin": {"pin_hash": hash_pin("135790")}}).admin.pin_hash.startswith("scrypt$")
    with pytest.raises(ConfigError, match=r"admin\.pin_hash"):
        parse_config({**data, "admin": {"pin_hash": "135790"}})


def test_every_attempt_at_the_booth_is_reported_and_the_right_pin_opens_maintenance(make_kiosk) -> None:
    kiosk = make_kiosk(1, start=False, admin={"pin_hash": hash_pin("246810")})
    assert kiosk.enter_maintenance("111111").outcome == "wrong"
    time.sleep(MIN_INTERVAL_S)  # a second attempt at once is refused as too fast
    assert kiosk.enter_maintenance("246810").outcome == "ok" and kiosk.maintenance
    alerts = [json.loads(p.envelope)["payload"] for p in kiosk.outbox.take(10) if p.kind == "alert"]
    assert [(a["code"], a["details"]["failures"]) for a in alerts] == [("admin_pin_failed", 1), ("admin_pin_ok", 0)]
    assert all("246810" not in str(a) and "111111" not in str(a) for a in alerts)
