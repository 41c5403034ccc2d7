#!/bin/sh
# Turn a fresh Raspberry Pi OS Bookworm / Debian 12 into a booth: `sudo provisioning/install.sh`.
# The work is done by install.py beside this (idempotent, it says what it changed); this only makes sure
# there is a Python to run it, which a minimal Debian image lacks.
set -eu
if ! command -v python3 >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || { echo "install: run as root (sudo $0)" >&2; exit 2; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 >/dev/null
  echo "  changed  Debian packages installed: python3 (to run the installer)"
fi
exec python3 "$(dirname "$0")/install.py" "$@"
