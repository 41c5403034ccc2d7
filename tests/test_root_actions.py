"""Root actions: the kiosk asks by request file, the root side does only what its fixed list names.
(The list's real entries reboot the machine, so here it maps the same names to harmless commands.)"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from appliance.root_actions import ACTIONS, ActionError, handle_requests, request_action


@pytest.fixture
def harmless(tmp_path: Path) -> dict:
    marker = tmp_path / "rebooted"
    return {"reboot": ("touch", str(marker)), "restart-kiosk": ("false",), "marker": marker}


def test_a_request_is_carried_out_once_with_its_result(tmp_path: Path, harmless: dict) -> None:
    actions = tmp_path / "actions"
    request_action(actions, "reboot-1", "reboot")
    marker = harmless.pop("marker")
    results = handle_requests(actions, harmless)
    assert results == [{"id": "reboot-1", "action": "reboot", "ok": True}] and marker.exists()
    assert json.loads((actions / "reboot-1.result").read_text())["ok"] is True
    assert not list(actions.glob("*.request")) and handle_requests(actions, harmless) == []  # once only
    request_action(actions, "restart-1", "restart-kiosk")
    assert handle_requests(actions, harmless)[0]["ok"] is False  # a failing action is reported, not hidden


def test_a_request_is_claimed_before_it_runs_so_a_reboot_does_not_repeat_it(tmp_path: Path) -> None:
    actions, seen = tmp_path / "actions", tmp_path / "seen-while-rebooting"
    request_action(actions, "reboot-2", "reboot")
    assert actions.stat().st_mode & 0o777 == 0o770  # the root unit writes its results through the group
    handle_requests(actions, {"reboot": ("sh", "-c", f"ls {actions} > {seen}")})
    assert "reboot-2.request" not in seen.read_text()  # gone before the machine goes down


def test_only_the_fixed_actions_exist(tmp_path: Path, harmless: dict) -> None:
    assert set(ACTIONS) == {"reboot", "restart-kiosk", "install-release", "commit-release"}
    assert ACTIONS["install-release"][-1] == "kiosk-update@install-staged.service"  # which verifies it all itself
    with pytest.raises(ActionError, match="allowed: reboot, restart-kiosk, install-release, commit-release"):
        request_action(tmp_path / "actions", "x-1", "rm -rf /")
    with pytest.raises(ActionError):
        request_action(tmp_path / "actions", "../../etc/passwd", "reboot")
    actions = tmp_path / "actions"
    actions.mkdir()
    (actions / "sneaky.request").write_text(json.dumps({"id": "sneaky", "action": "format-disk"}))
    (actions / "huge.request").write_text(json.dumps({"action": "reboot", "pad": "x" * 5000}))
    (actions / "junk.request").write_bytes(b"\xff\x00")
    harmless.pop("marker")
    results = {r["id"]: r for r in handle_requests(actions, harmless)}
    assert "not allowed" in results["sneaky"]["error"] and "over 1024 bytes" in results["huge"]["error"]
    assert results["junk"]["ok"] is False and not (tmp_path / "rebooted").exists()


def test_links_planted_by_the_kiosk_user_are_not_followed(tmp_path: Path, harmless: dict) -> None:
    actions = tmp_path / "actions"
    actions.mkdir()
    precious = tmp_path / "precious"
    precious.write_text("root's file")
    (actions / "evil.request").symlink_to(precious)  # read through a link: refused
    request_action(actions, "ok-1", "reboot")
    (actions / "ok-1.result").symlink_to(precious)  # written through a link: replaced, not followed
    harmless.pop("marker")
    results = {r["id"]: r for r in handle_requests(actions, harmless)}
    assert "unreadable" in results["evil"]["error"] and results["ok-1"]["ok"] is True
    assert precious.read_text() == "root's file" and not (actions / "ok-1.result").is_symlink()
    link = tmp_path / "linked"
    os.symlink(actions, link)
    with pytest.raises(ActionError, match="symlink"):
        handle_requests(link, harmless)


def test_the_remote_reboot_command_becomes_a_request(make_kiosk, tmp_path: Path) -> None:
    kiosk = make_kiosk(1, start=False)
    result = kiosk.commands.handle("reboot", json.dumps({"id": "r-1"}).encode())
    assert result["ok"] is True and result["result"]["requested"] == "reboot"
    requests = list((kiosk.config.storage.dir / "actions").glob("*.request"))
    assert [json.loads(r.read_text())["action"] for r in requests] == ["reboot"]
