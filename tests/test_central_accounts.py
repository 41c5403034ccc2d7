"""`kiosk central user` and `kiosk central audit` as an administrator uses them from a shell: the
password from KIOSK_CENTRAL_PASSWORD (never on the command line), refusals with a message that says
what is allowed, every change in the audit log, and the audit log readable as a table and as JSON."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from appliance import cli
from central import accounts
from central.database import Database


class Ran:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def kiosk(capsys, monkeypatch):
    """`kiosk central …` in this process (the same entry point; a process each would take seconds)."""
    def run(database: str, *args: str, password: str | None = None) -> Ran:
        monkeypatch.delenv("KIOSK_CENTRAL_PASSWORD", raising=False)
        if password is not None:
            monkeypatch.setenv("KIOSK_CENTRAL_PASSWORD", password)
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a terminal: nobody to ask a password
        code = cli.main(["central", *args, "--database", database])
        out, err = capsys.readouterr()
        return Ran(code, out, err)
    return run


def test_an_admin_manages_users_from_the_shell(tmp_path: Path, kiosk) -> None:
    database = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    env = {**os.environ, "KIOSK_CENTRAL_PASSWORD": "a long enough password"}
    added = subprocess.run([sys.executable, "-m", "appliance.cli", "central", "user", "add", "wang", "--role",
                            "operator", "--region", "110102", "--database", database],
                           capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert added.returncode == 0 and "added wang (operator, 110102)" in added.stdout, added.stderr
    short = kiosk(database, "user", "add", "li", "--role", "viewer", password="short")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    no_password = kiosk(database, "user", "add", "li", "--role", "viewer")
    assert no_password.returncode == 2 and "KIOSK_CENTRAL_PASSWORD" in no_password.stderr
    bad_region = kiosk(database, "user", "add", "li", "--role", "viewer", "--region", "beijing",
                       password="a long enough password")
    assert bad_region.returncode == 2 and "6-digit division code" in bad_region.stderr
    again = kiosk(database, "user", "add", "wang", "--role", "admin", password="a long enough password")
    assert again.returncode == 2 and "exists already" in again.stderr

    db = Database(database)
    with db.transaction() as conn:
        assert accounts.log_in(conn, "wang", "a long enough password", 0).user is not None
    assert kiosk(database, "user", "passwd", "wang", password="another long password").returncode == 0
    assert kiosk(database, "user", "disable", "wang").returncode == 0
    with db.transaction() as conn:
        assert accounts.log_in(conn, "wang", "a long enough password", 0).user is None
        assert accounts.log_in(conn, "wang", "another long password", 0).reason == "disabled"
    listed = kiosk(database, "user", "list")
    assert "wang" in listed.stdout and "110102" in listed.stdout and "disabled" in listed.stdout
    assert "password" not in kiosk(database, "user", "list", "--json").stdout
    assert kiosk(database, "user", "enable", "wang").returncode == 0
    assert kiosk(database, "user", "disable", "nobody").returncode == 2

    lines = json.loads(kiosk(database, "audit", "--json").stdout)
    assert [line["action"] for line in reversed(lines)] == ["user_added", "user_password", "user_disabled",
                                                             "user_enabled"]
    assert all(line["actor"].startswith("shell:") and line["target"] == "wang" for line in lines)
    table = kiosk(database, "audit", "--action", "user_added")
    assert table.returncode == 0 and "user_added" in table.stdout and "1 lines" in table.stdout
    assert "a long enough password" not in table.stdout + json.dumps(lines)
