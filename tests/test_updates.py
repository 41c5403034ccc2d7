"""Installing a release without a way to break (issue 17 points 4, 5 and 7), on real files: each release a
real virtual environment built offline by pip from the bundle's wheels, beside the running one; the
`current` and `committed` links; the guard's trial (starts counted, rolled back after three or past the
deadline); refusals that change nothing; the state database's version. Small real releases
(tests/release_kit.py) stand in for the product's 43 MiB bundle; the product itself goes through the
same path in the booted systemd root (tests/test_install.py)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.contract import UpdateState
from appliance.release.guard import MAX_TRIAL_STARTS, TrialGuard, staged_release
from appliance.release.installer import InstallRefused, ReleaseInstaller
from appliance.release.layout import ReleaseLayout, Trial
from appliance.release.trial_watch import TrialWatch, update_block
from appliance.state.store import SCHEMA_VERSION, Store, StoreError
from tests.release_kit import release_bundle

MACHINE = platform.machine()
WINDOW_S = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def booth(tmp_path: Path, key: Ed25519PrivateKey):
    layout = ReleaseLayout(tmp_path / "opt")
    clock = Clock()
    restarts: list[str] = []
    installer = ReleaseInstaller(layout, key.public_key(), commit_window_s=WINDOW_S, machine=MACHINE, clock=clock)
    guard = TrialGuard(layout, restart=lambda: restarts.append("kiosk"), clock=clock)
    return layout, installer, guard, clock, restarts


def runs(layout: ReleaseLayout) -> str:
    """What the booth's `current` release says when run: its console script, as kiosk.service would start it."""
    done = subprocess.run([str(layout.current / "bin" / "trialapp")], capture_output=True, text=True, timeout=60)
    return done.stdout.strip() or done.stderr.strip()[-200:]


def committed_release(layout, installer, guard, tmp_path, key, version="1.0.0") -> None:
    installer.install_bundle(release_bundle(tmp_path, version, key, MACHINE))
    assert guard.on_start().startswith(f"release {version} on trial")
    assert guard.commit() == f"release {version} committed"


def test_a_release_installs_beside_the_running_one_runs_on_trial_and_commits(booth, tmp_path, key) -> None:
    layout, installer, guard, clock, _ = booth
    committed_release(layout, installer, guard, tmp_path, key)
    assert runs(layout) == "trialapp 1.0.0"
    manifest = installer.install_bundle(release_bundle(tmp_path, "1.1.0", key, MACHINE))
    assert manifest.version == "1.1.0"
    record = layout.read_record()
    assert record.trial is not None and record.trial.version == "1.1.0" and record.trial.starts == 0
    assert layout.target(layout.current) == layout.release_dir("1.1.0").resolve()
    assert layout.target(layout.committed) == layout.release_dir("1.0.0").resolve(), "the old one stays the way back"
    assert runs(layout) == "trialapp 1.1.0"
    assert guard.on_start() == f"release 1.1.0 on trial, start 1 of {MAX_TRIAL_STARTS}"
    clock.now += WINDOW_S
    assert guard.commit() == "release 1.1.0 committed"
    record = layout.read_record()
    assert record.trial is None and record.last.state == "committed" and record.last.version == "1.1.0"
    assert layout.target(layout.committed) == layout.release_dir("1.1.0").resolve()
    assert sorted(p.name for p in layout.releases.iterdir()) == ["1.0.0", "1.1.0"], "the previous release is kept"
    # Only what changed travelled into the store: trialdep 1.0.0 is there once, by its hash.
    assert sorted(layout.wheel_hashes()) == ["trialapp-1.0.0-py3-none-any.whl", "trialapp-1.1.0-py3-none-any.whl",
                                             "trialdep-1.0.0-py3-none-any.whl"]
    committed_release(layout, installer, guard, tmp_path, key, "1.2.0")
    assert sorted(p.name for p in layout.releases.iterdir()) == ["1.1.0", "1.2.0"], "older ones pruned"
    assert "trialapp-1.0.0-py3-none-any.whl" not in layout.wheel_hashes()


def test_a_release_that_keeps_crashing_goes_back_by_itself_with_the_reason(booth, tmp_path, key) -> None:
    layout, installer, guard, _, _ = booth
    committed_release(layout, installer, guard, tmp_path, key)
    crashing = 'def main():\n    raise SystemExit("trialapp 2.0.0 cannot start")\n'
    installer.install_bundle(release_bundle(tmp_path, "2.0.0", key, MACHINE, code=crashing))
    for start in range(1, MAX_TRIAL_STARTS + 1):  # kiosk.service restarts it; each start costs the trial one
        assert guard.on_start() == f"release 2.0.0 on trial, start {start} of {MAX_TRIAL_STARTS}"
        assert runs(layout) == "trialapp 2.0.0 cannot start"
    said = guard.on_start()
    assert said.startswith("rolled back to 1.0.0: release 2.0.0 stopped 3 times during its trial"), said
    assert runs(layout) == "trialapp 1.0.0"
    record = layout.read_record()
    assert record.trial is None and record.last.state == "rolled_back" and "stopped 3 times" in record.last.reason
    assert not layout.release_dir("2.0.0").exists()
    block = update_block(record, "1.0.0", None)
    assert block["state"] == UpdateState.ROLLED_BACK and block["version"] == "2.0.0" and "stopped" in block["reason"]
    # Nothing signed goes backwards, the failed release included: a fixed one needs a new version.
    with pytest.raises(InstallRefused, match="not newer"):
        installer.install_bundle(release_bundle(tmp_path / "again", "2.0.0", key, MACHINE))
    installer.install_bundle(release_bundle(tmp_path, "2.0.1", key, MACHINE))
    assert layout.read_record().trial.version == "2.0.1"


def test_a_release_never_healthy_in_time_goes_back_at_the_next_check(booth, tmp_path, key) -> None:
    layout, installer, guard, clock, restarts = booth
    committed_release(layout, installer, guard, tmp_path, key)
    installer.install_bundle(release_bundle(tmp_path, "1.1.0", key, MACHINE))
    guard.on_start()
    clock.now += WINDOW_S
    assert guard.check() == "nothing to do" and restarts == []
    clock.now += WINDOW_S + 1  # the deadline is twice the window after the switch
    assert guard.check().startswith("rolled back to 1.0.0: release 1.1.0 was not healthy within its commit window")
    assert restarts == ["kiosk"] and runs(layout) == "trialapp 1.0.0"
    assert guard.commit() == "no release on trial", "a late commit request changes nothing"


def test_a_power_cut_between_the_record_and_the_switch_is_finished_at_the_next_start(booth, tmp_path, key) -> None:
    layout, installer, guard, _, _ = booth
    committed_release(layout, installer, guard, tmp_path, key)
    installer.install_bundle(release_bundle(tmp_path, "1.1.0", key, MACHINE))
    layout.point(layout.current, layout.release_dir("1.0.0"))  # as if the switch had not happened
    assert guard.on_start() == f"release 1.1.0 on trial, start 1 of {MAX_TRIAL_STARTS}"
    assert runs(layout) == "trialapp 1.1.0"
    (layout.release_dir("1.1.0") / ".complete").unlink()  # as if a cut had come during the build
    assert "is incomplete on disk" in guard.on_start() and runs(layout) == "trialapp 1.0.0"


def _rewritten(bundle: Path, target: Path, change) -> Path:
    with tarfile.open(bundle) as source, tarfile.open(target, "w") as out:
        for member in source.getmembers():
            data = change(member.name, source.extractfile(member).read())
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return target


def _state_of(layout: ReleaseLayout) -> dict[str, str]:
    """Every file under the release area with its sha256 (what a refusal must leave as it was)."""
    seen = {}
    for path in sorted(layout.root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            seen[str(path.relative_to(layout.root))] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_symlink():
            seen[str(path.relative_to(layout.root))] = os.readlink(path)
    return seen


def test_a_tampered_foreign_older_or_wrong_platform_release_is_refused_and_nothing_changes(booth, tmp_path,
                                                                                            key) -> None:
    layout, installer, guard, _, _ = booth
    committed_release(layout, installer, guard, tmp_path, key, "1.1.0")
    good = release_bundle(tmp_path, "1.2.0", key, MACHINE)
    flipped = _rewritten(good, tmp_path / "flipped.bundle",
                         lambda name, data: data[:50] + bytes([data[50] ^ 1]) + data[51:]
                         if name.startswith("wheels/trialapp") else data)
    cases = {
        "flipped byte": (flipped, "hash_mismatch"),
        "foreign key": (release_bundle(tmp_path / "foreign", "1.2.0", Ed25519PrivateKey.generate(), MACHINE),
                        "bad_signature"),
        "older": (release_bundle(tmp_path / "old", "1.0.5", key, MACHINE), "older"),
        "other platform": (release_bundle(tmp_path / "arm", "1.2.0", key,
                                          "aarch64" if MACHINE == "x86_64" else "x86_64"), "platform"),
        "upgrade path": (release_bundle(tmp_path / "path", "1.3.0", key, MACHINE, min_upgrade_from="1.2.0"),
                         "upgrade_path"),
    }
    for case, (bundle, code) in cases.items():
        before = {path: digest for path, digest in _state_of(layout).items() if path != "update-state.json"}
        with pytest.raises(InstallRefused) as refused:
            installer.install_bundle(bundle)
        assert refused.value.code == code, (case, str(refused.value))
        after = {path: digest for path, digest in _state_of(layout).items() if path != "update-state.json"}
        assert after == before, f"{case}: the refusal changed files"
        assert runs(layout) == "trialapp 1.1.0"
    installer.install_bundle(good)  # the matching success: the untouched bundle installs
    assert layout.read_record().trial.version == "1.2.0"
    with pytest.raises(InstallRefused, match="still on trial"):
        installer.install_bundle(release_bundle(tmp_path / "next", "1.3.0", key, MACHINE))


def test_a_staged_release_installs_from_only_the_wheels_the_booth_lacked(booth, tmp_path, key) -> None:
    layout, installer, guard, _, _ = booth
    committed_release(layout, installer, guard, tmp_path, key)
    bundle = release_bundle(tmp_path, "1.1.0", key, MACHINE)
    updates = tmp_path / "var" / "updates"
    staged = updates / "1.1.0"
    (staged / "wheels").mkdir(parents=True)
    with tarfile.open(bundle) as tar:
        for member in tar.getmembers():  # what the fetcher leaves: manifest, signature, the one new wheel
            if member.name in ("manifest.json", "manifest.sig") or member.name.startswith("wheels/trialapp"):
                (staged / member.name).write_bytes(tar.extractfile(member).read())
    assert staged_release(updates) is None, "not complete until the fetcher's marker is written"
    (staged / "staged.json").write_text(json.dumps({"version": "1.1.0", "sequence": 1_001_000}))
    assert staged_release(updates) == staged
    wheel = next((staged / "wheels").iterdir())
    original = wheel.read_bytes()
    wheel.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # changed after staging
    with pytest.raises(InstallRefused, match="is not the file the manifest signed"):
        installer.install_staged(staged)
    wheel.unlink()
    wheel.symlink_to(tmp_path / "wheels-1.1.0" / wheel.name)  # a link the kiosk user planted: never followed
    with pytest.raises(InstallRefused, match="neither staged nor in the store"):
        installer.install_staged(staged)
    wheel.unlink()
    wheel.write_bytes(original)
    assert installer.install_staged(staged).version == "1.1.0"
    guard.on_start()
    assert runs(layout) == "trialapp 1.1.0"


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs in a private mount namespace (needs root)")
def test_a_release_that_does_not_fit_is_refused_before_anything_is_written(tmp_path, key) -> None:
    bundle = release_bundle(tmp_path, "1.0.0", key, MACHINE)
    (tmp_path / "release.pub").write_text(base64_public(key) + "\n")
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[device]\nid = "qd-sn-0001"\nsite = "test"\nregion = "370202"\n[broker]\nhost = "127.0.0.1"\n'
                      f'[storage]\ndir = "{tmp_path / "state"}"\n[updates]\nrelease_root = "{tmp_path / "small"}"\n'
                      f'public_key_file = "{tmp_path / "release.pub"}"\n')
    (tmp_path / "small").mkdir()
    small = tmp_path / "small"
    script = (f'mount -t tmpfs -o size=40M tmpfs {small} && KIOSK_CONFIG={config} '
              f'{sys.executable} -m appliance.release.guard install {bundle}; echo "exit $?"; ls -A {small}')
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, timeout=120)
    assert "refused (no_space): release 1.0.0 needs" in done.stderr, done.stdout + done.stderr
    assert done.stdout.split() == ["exit", "2", "update-state.json"], "only the refusal was recorded"


def base64_public(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def test_the_booth_asks_to_commit_only_after_a_whole_window_of_health(tmp_path) -> None:
    layout = ReleaseLayout(tmp_path)
    clock, healthy, asked = Clock(), [True], []
    layout.write_record(layout.read_record().with_outcome(UpdateState.INSTALLING, "1.1.0", highest_sequence=1_001_000,
                                                          trial=None))
    watch = TrialWatch(layout, "1.1.0", WINDOW_S, lambda: healthy[0], lambda: asked.append(clock.now), clock)
    watch.tick()
    assert not watch.on_trial and asked == []  # not on trial: nothing to ask
    layout.write_record(layout.read_record().with_outcome(
        UpdateState.INSTALLING, "1.1.0", trial=Trial("1.1.0", 1_001_000, 0, 10_000)))
    for _ in range(int(WINDOW_S) - 10):
        clock.now += 1
        watch.tick()
    healthy[0] = False  # a lost loop or a refused login starts the window again
    clock.now += 1
    watch.tick()
    healthy[0] = True
    for _ in range(int(WINDOW_S) + 1):  # healthy from the first of these ticks: a whole window at the last
        clock.now += 1
        watch.tick()
        assert asked == [] or asked == [clock.now]
    assert len(asked) == 1, "asked once the window was whole"
    clock.now += 10
    watch.tick()
    assert len(asked) == 1, "not asked again at once"
    clock.now += 30
    watch.tick()
    assert len(asked) == 2, "asked again while still on trial"


def test_the_state_database_says_its_version_and_an_older_release_reads_it_or_refuses_untouched(tmp_path) -> None:
    path = tmp_path / "outbox.sqlite3"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        # What a newer release that only adds would write: a higher version, still readable from this one.
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.execute("INSERT INTO meta (key, value) VALUES ('seq_high', '41')")
    store = Store(path)
    assert store.meta_get("seq_high") == "41"
    store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1, "its mark is left alone"
        conn.execute("UPDATE meta SET value = ? WHERE key = 'readable_from'", (str(SCHEMA_VERSION + 1),))
    before = {file.name: file.read_bytes() for file in tmp_path.glob("outbox.sqlite3*")
              if not file.name.endswith("-shm")}  # the WAL's shared-memory index is not data
    newer = SCHEMA_VERSION + 1
    with pytest.raises(StoreError, match=f"written by a newer release .schema {newer}, readable from schema {newer}. "
                                         f"and this release reads schema {SCHEMA_VERSION}"):
        Store(path)
    after = {file.name: file.read_bytes() for file in tmp_path.glob("outbox.sqlite3*")
              if not file.name.endswith("-shm")}  # the WAL's shared-memory index is not data
    assert after == before, "the rows wait, unchanged, for a release that can read them"
