"""Remote commands over a real broker: every malformed one gets its error result, the kiosk runs on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support import printed, set_printer, wait_until

DEVICE = "test-kiosk-0001"


@pytest.fixture
def remote(broker, collector, make_kiosk):
    kiosk = make_kiosk(broker.port)
    wait_until(lambda: kiosk.link.connected)
    collector.wait_for(lambda c: c.on("0001/status"))

    def send(name: str, payload: bytes | str | dict) -> dict:
        raw = json.dumps(payload) if isinstance(payload, dict) else payload
        before = len(collector.on("/cmd-result"))
        collector.client.publish(f"kiosk/v1/{DEVICE}/cmd/{name}", raw, qos=1)
        collector.wait_for(lambda c: len(c.on("/cmd-result")) > before)
        return collector.on("/cmd-result")[before].json()

    send.kiosk = kiosk
    return send


def _error(result: dict) -> str:
    assert result["ok"] is False, result
    assert result["error"]["message"]
    return result["error"]["code"]


def test_malformed_commands_each_get_an_error_result(remote) -> None:
    assert _error(remote("ping", b"{not json")) == "malformed_json"
    assert _error(remote("ping", b"\xff\xfe\x00")) == "malformed_json"
    assert _error(remote("ping", "[1, 2]")) == "malformed"
    assert _error(remote("ping", {"args": {}})) == "missing_id"
    assert _error(remote("ping", {"id": ""})) == "missing_id"
    assert _error(remote("ping", {"id": 42})) == "missing_id"
    assert _error(remote("self-destruct", {"id": "u-1"})) == "unknown_command"
    past = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    expired = remote("ping", {"id": "e-1", "expires": past})
    # An expiry is judged only on a synchronised clock; otherwise the command runs (and says so).
    if expired["clock_synced"]:
        assert _error(expired) == "expired"
    else:
        assert expired["ok"] is True
    assert _error(remote("ping", {"id": "e-2", "expires": "tomorrow"})) == "bad_expires"
    oversized = remote("ping", json.dumps({"id": "big", "pad": "x" * 20_000}))
    assert _error(oversized) == "oversized" and oversized["id"] is None
    assert _error(remote("maintenance", {"id": "m-1", "args": {"on": "yes"}})) == "bad_args"
    assert _error(remote("ping", {"id": "a-1", "args": [1]})) == "bad_args"
    # …and the kiosk is still there and answering.
    pong = remote("ping", {"id": "p-1"})
    assert pong["ok"] and pong["result"]["pong"] is True
    assert remote.kiosk.link.connected


def test_a_repeated_request_id_returns_the_first_result_without_running_again(remote) -> None:
    kiosk = remote.kiosk
    first = remote("print-test", {"id": "r-1"})
    assert first["ok"] and len(printed(kiosk)) == 1
    again = remote("print-test", {"id": "r-1"})
    assert len(printed(kiosk)) == 1, "the repeat must not print again"
    assert again["result"] == first["result"] and again["id"] == "r-1"


def test_each_command_does_its_job(remote, tmp_path: Path) -> None:
    kiosk = remote.kiosk
    status = remote("status", {"id": "s-1"})["result"]
    assert status["boot"] == kiosk.boot and status["drivers"]["printer"]["state"] == "ok"
    assert remote("maintenance", {"id": "m-on", "args": {"on": True}})["result"] == {"mode": "maintenance"}
    assert kiosk.maintenance and kiosk.hardware.leds.pattern == "maintenance"
    remote("maintenance", {"id": "m-off", "args": {"on": False}})
    assert not kiosk.maintenance
    led = remote("led-test", {"id": "l-1"})
    assert led["result"] == {"cycled": ["green", "amber", "red"]}

    kiosk.hardware.printer_sim.set_state(cover_open=True)
    failed = remote("print-test", {"id": "pt-2"})
    assert _error(failed) == "print_failed" and "cover_open" in failed["error"]["message"]
    set_printer(kiosk, None)

    assert remote("reload-catalog", {"id": "rc-1"})["result"]["version"] == "2026.11-1"
    kiosk.config.catalog_file.write_text('{"version": "bad", "items": [{"code": "X"}]}', encoding="utf-8")
    broken = remote("reload-catalog", {"id": "rc-2"})
    assert _error(broken) == "catalog_invalid"
    assert "item 'X': field name" in broken["error"]["message"]
    assert kiosk.catalog.version == "2026.11-1", "the last good catalogue stays in use"

    assert remote("retry-set-aside", {"id": "rs-1"})["result"] == {"retried": 0}


def test_a_command_that_takes_long_holds_up_no_other_message(broker, collector, confirmer, make_kiosk) -> None:
    """A print-test on a printer still busy with the page holds the core worker until the printer is done
    (up to the job's bound, 15 s and more); meanwhile paho's network thread goes on taking central's
    confirmations (and with them the keepalive and every other message). Were the command on the network
    thread, the confirmation of the event filed meanwhile would wait for the printer."""
    kiosk = make_kiosk(broker.port)
    wait_until(lambda: kiosk.link.connected)
    collector.wait_for(lambda c: c.on("0001/status"))  # sent after its subscriptions: the command will be heard
    kiosk.hardware.printer_sim.set_state(busy=True)
    handled = kiosk.commands.handled
    collector.client.publish(f"kiosk/v1/{DEVICE}/cmd/print-test", json.dumps({"id": "slow-1"}), qos=1)
    wait_until(lambda: kiosk.commands.handled > handled, timeout=30)  # the worker is printing

    def result() -> dict | None:
        return next((r.json() for r in collector.on("/cmd-result") if r.json()["id"] == "slow-1"), None)

    confirmed = kiosk.pump.confirmed
    kiosk.rate("GA-001", 5)  # at least one confirmation is due now
    wait_until(lambda: kiosk.pump.confirmed > confirmed, timeout=30)  # taken on the network thread
    assert result() is None, "the page is still printing"
    kiosk.hardware.printer_sim.set_state(busy=False)
    collector.wait_for(lambda c: result() is not None, timeout=20)
    assert result()["ok"] and result()["result"] == {"printed": True} and len(printed(kiosk)) == 1
