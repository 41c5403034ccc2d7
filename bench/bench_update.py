"""What a software update costs a booth, beside its baselines in the same run:

1. Bytes a booth moves and stores for a release that changes only the product, against the full bundle
   (the first install, or a booth that kept nothing).
2. Seconds to install it (verify, store the wheels it lacks, build the environment offline beside the
   running one), against installing the full bundle into an empty release area.
3. The time a booth cannot serve a citizen during an update: from SIGTERM to the running kiosk until the
   new release's kiosk tells systemd READY=1 (the guard's start check included), against a plain restart
   of the same release (`systemctl restart kiosk`), measured the same way. Fetching and building happen
   while the booth serves, so only the switch counts.

Real parts: two x86_64 bundles built from this checkout (0.9.0 and 0.9.1, identical but for the version
stamped into the product), the real installer and guard in a scratch release area, and `kiosk run
--headless` with simulated hardware from each release's own environment. The first build downloads the
dependencies' wheels from the package index (pip's cache makes later runs quick).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.release.build import build_release
from appliance.release.bundle import sign_bundle, verify_bundle
from appliance.release.guard import TrialGuard
from appliance.release.installer import ReleaseInstaller
from appliance.release.layout import ReleaseLayout
from provisioning.toml_file import toml_text
from tests.support import Mosquitto, SystemdSocket, kiosk_config_data, wait_until

ROUNDS = 3


def ready_after_sigterm(old: subprocess.Popen | None, release: Path, config: Path, layout: ReleaseLayout,
                        guard: bool) -> tuple[float, subprocess.Popen]:
    """Stop `old` and start `release`'s kiosk; seconds from the SIGTERM until READY=1."""
    notify = SystemdSocket()
    start = time.monotonic()
    if old is not None:
        old.send_signal(signal.SIGTERM)
        old.wait(30)
    if guard:  # what ExecStartPre runs before every start: the trial's bookkeeping
        TrialGuard(layout, restart=lambda: None).on_start()
    env = {**os.environ, "KIOSK_CONFIG": str(config), "NOTIFY_SOCKET": str(notify.path)}
    new = subprocess.Popen([str(release / "bin" / "kiosk"), "run", "--headless"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: "READY=1" in notify.lines(), timeout=120, interval=0.01)
    ready = time.monotonic() - start
    notify.close()
    return ready, new


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-update-") as scratch:
        work = Path(scratch)
        key = Ed25519PrivateKey.generate()
        bundles = {}
        for version in ("0.9.0", "0.9.1"):
            bundles[version] = build_release(version, "x86_64", work / "dist" / version)
            sign_bundle(bundles[version], key)
        full = verify_bundle(bundles["0.9.0"], key.public_key())
        later = verify_bundle(bundles["0.9.1"], key.public_key())
        changed = {name for name, entry in later.files.items() if full.files.get(name) != entry}

        layout = ReleaseLayout(work / "opt")
        installer = ReleaseInstaller(layout, key.public_key(), commit_window_s=300)
        guard = TrialGuard(layout, restart=lambda: None)
        began = time.monotonic()
        installer.install_bundle(bundles["0.9.0"])
        full_s = time.monotonic() - began
        guard.on_start()
        guard.commit()
        stored_before = sum(p.stat().st_size for p in layout.wheels.glob("*.whl"))

        broker = Mosquitto(work / "broker").start()
        config = work / "kiosk.toml"
        config.write_text(toml_text(kiosk_config_data(work / "state", broker.port, updates={
            "release_root": str(layout.root), "public_key_file": str(work / "none.pub")})))
        try:
            plain, kiosk = [], None
            for _ in range(ROUNDS):
                seconds, kiosk = ready_after_sigterm(kiosk, layout.release_dir("0.9.0"), config, layout, False)
                plain.append(seconds)
            began = time.monotonic()
            installer.install_bundle(bundles["0.9.1"])  # while 0.9.0 serves
            update_s = time.monotonic() - began
            stored_after = sum(p.stat().st_size for p in layout.wheels.glob("*.whl"))
            switched, kiosk = ready_after_sigterm(kiosk, layout.release_dir("0.9.1"), config, layout, True)
            kiosk.send_signal(signal.SIGTERM)
            kiosk.wait(30)
        finally:
            broker.stop()

    mib = 2 ** 20
    names = ', '.join(sorted(n.removeprefix('wheels/') for n in changed))
    print(f"update that changes only the product ({names}):")
    print(f"  bytes moved     {sum(int(later.files[n]['bytes']) for n in changed) / mib:8.2f} MiB   "
          f"full bundle {later.total_bytes / mib:8.2f} MiB ({len(later.files)} wheels)")
    print(f"  bytes stored    {(stored_after - stored_before) / mib:8.2f} MiB   "
          f"full store  {stored_before / mib:8.2f} MiB")
    print(f"  install time    {update_s:8.1f} s     full install {full_s:8.1f} s   (verify, store, build offline)")
    print(f"  booth unable to serve: update switch {switched:5.2f} s   "
          f"plain restart {min(plain):5.2f}–{max(plain):5.2f} s ({ROUNDS} rounds; SIGTERM to READY=1)")


if __name__ == "__main__":
    main()
