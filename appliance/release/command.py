"""`kiosk release build | keygen | sign | verify`: the release publisher's tools. The key is Ed25519 as the
catalogue's, but its own: a catalogue key must not be able to change a booth's software."""

from __future__ import annotations

import argparse
from pathlib import Path

from appliance.catalog.model import CatalogError
from appliance.catalog.signing import load_private_key, load_public_key, write_new_key
from appliance.errors import friendly, operator_error
from appliance.release.build import PLATFORM_TAGS, BuildError, build_release
from appliance.release.bundle import BundleRejected, sign_bundle, verify_bundle

_friendly = friendly("kiosk release", (BuildError, BundleRejected, CatalogError, OSError, ValueError))


def _build(args: argparse.Namespace) -> int:
    bundle = build_release(args.version, args.platform, args.output, args.min_upgrade_from)
    print(f"{bundle}: release {args.version} for {args.platform}; sign it with kiosk release sign")
    return 0


def _keygen(args: argparse.Namespace) -> int:
    public = write_new_key(args.key)
    print(f"release signing key written to {args.key} (keep it with the publisher, never on a booth)")
    print("public key for the booths (kiosk release verify --public-key, and the root side's release key):")
    print(public)
    return 0


def _sign(args: argparse.Namespace) -> int:
    manifest = sign_bundle(args.bundle, load_private_key(args.key.read_bytes()))
    print(f"{args.bundle}: release {manifest.version} signed ({len(manifest.files)} wheels, "
          f"{manifest.total_bytes / 2**20:.1f} MiB)")
    return 0


def _verify(args: argparse.Namespace) -> int:
    text = args.public_key
    if Path(text).is_file():
        text = Path(text).read_text(encoding="utf-8").strip().splitlines()[-1].strip()
    try:
        key = load_public_key(text)
    except ValueError as exc:
        return operator_error("kiosk release", "--public-key must be the key `kiosk release keygen` printed (the "
                                               f"base64 of 32 bytes) or a file holding it ({exc.__cause__ or exc})")
    manifest = verify_bundle(args.bundle, key)
    print(f"{args.bundle}: release {manifest.version} (sequence {manifest.sequence}) for {manifest.platform} "
          f"{manifest.python}, upgrades from {manifest.min_upgrade_from}: signature and {len(manifest.files)} "
          f"hashes hold")
    return 0


def add_release_commands(commands: argparse._SubParsersAction) -> None:
    release = commands.add_parser("release", help="build, sign and verify software release bundles")
    tools = release.add_subparsers(dest="release_command", required=True)
    build = tools.add_parser("build", help="the product's and every dependency's wheels for a booth, in one bundle")
    build.add_argument("--version", required=True, help="release version X.Y.Z (orders releases: never lower)")
    build.add_argument("--platform", choices=sorted(PLATFORM_TAGS), default="aarch64",
                       help="the booths' CPU (default aarch64: Raspberry Pi OS Bookworm, CPython 3.11)")
    build.add_argument("--min-upgrade-from", default="0.0.0", help="the oldest release this one may replace")
    build.add_argument("-o", "--output", type=Path, required=True, help="directory for the bundle")
    build.set_defaults(func=_friendly(_build))
    keygen = tools.add_parser("keygen", help="make the Ed25519 key pair that signs releases")
    keygen.add_argument("--key", type=Path, required=True, help="where the private key goes (0600)")
    keygen.set_defaults(func=_friendly(_keygen))
    sign = tools.add_parser("sign", help="sign a bundle (the signature goes into the bundle)")
    sign.add_argument("bundle", type=Path)
    sign.add_argument("--key", type=Path, required=True, help="the private key from keygen")
    sign.set_defaults(func=_friendly(_sign))
    verify = tools.add_parser("verify", help="check a bundle's signature and every hash (exit 2 with the reason)")
    verify.add_argument("bundle", type=Path)
    verify.add_argument("--public-key", required=True, help="the key keygen printed, or a file holding it")
    verify.set_defaults(func=_friendly(_verify))
