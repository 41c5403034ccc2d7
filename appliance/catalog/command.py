"""`kiosk catalog build | check | keygen | sign | search`: tools for the people who publish the catalogue.

`build` writes the catalogue file and, beside it, the search index built with it (search_data.py);
`sign` puts both into the message booths accept."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from appliance.catalog import search_data
from appliance.catalog.model import CatalogError, parse_catalog
from appliance.errors import friendly

_friendly = friendly("kiosk", (CatalogError,))  # a refused catalogue or key: one line, exit status 2


def _build(args: argparse.Namespace) -> int:
    from appliance.catalog.lexicon import load_lexicon
    from appliance.catalog.source import build_catalog

    catalog = build_catalog(args.source, args.version, args.sequence)
    text = catalog_json(catalog.model_dump(mode="json")).encode()
    search = search_data.build(catalog, text, load_lexicon(args.source))
    index = search_data.path_beside(args.output)
    for path, content in ((args.output, text), (index, search_data.data_json(search))):
        try:
            path.write_bytes(content)
        except OSError as exc:
            raise CatalogError(f"{path} cannot be written: {exc.strerror}") from None
    print(f"{args.output}: catalogue {catalog.version} (sequence {catalog.sequence}): {len(catalog.items)} items "
          f"in {len(catalog.departments)} departments, {len(catalog.bundles)} bundles, {len(catalog.faq)} questions")
    print(f"{index}: its search index ({len(search.texts)} texts, {len(search.vocabulary)} words, "
          f"{len(search.lexicon)} everyday phrases)")
    return 0


def catalog_json(data: dict) -> str:
    """The catalogue file's exact text: stable, so a rebuild of unchanged sources is byte-identical."""
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False) + "\n"


def _check(args: argparse.Namespace) -> int:
    try:
        text = args.file.read_bytes()
        catalog = parse_catalog(json.loads(text))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogError(f"{args.file} cannot be read: {exc}") from None
    print(f"catalogue OK: {catalog.version}, {len(catalog.items)} items, {len(catalog.departments)} departments, "
          f"{len(catalog.bundles)} bundles, {len(catalog.faq)} questions")
    raw = _search_beside(args.file, text)
    print(f"search index OK: {len(search_data.parse(raw, text).texts)} texts" if raw else
          f"no search index beside it: booths build their own at start ({search_data.path_beside(args.file).name})")
    return 0


def _search_beside(path: Path, text: bytes) -> bytes | None:
    """The bytes of the search index beside a catalogue file; `CatalogError` if it is there but does not fit."""
    raw = search_data.read_beside(path)
    if raw is not None:
        try:
            search_data.parse(raw, text)
        except search_data.SearchDataError as exc:
            raise CatalogError(f"{search_data.path_beside(path)}: {exc}: rebuild both with kiosk catalog build") \
                from None
    return raw


def _keygen(args: argparse.Namespace) -> int:
    from appliance.catalog.signing import write_new_key

    public = write_new_key(args.key)
    print(f"signing key written to {args.key} (keep it with the publisher, never on a device)")
    print(f"public key for every device's config:\n[catalog]\npublic_key = \"{public}\"")
    return 0


def _sign(args: argparse.Namespace) -> int:
    from appliance.catalog.signing import load_private_key, sign

    text = args.file.read_bytes()
    catalog = parse_catalog(json.loads(text))  # never sign what a device would refuse
    if catalog.sequence < 1:
        raise CatalogError(f"{args.file} has no sequence: booths install only a higher sequence than they hold, "
                           "so build it with --sequence N (one more than the last published)")
    search = _search_beside(args.file, text)
    message = sign(text, catalog.version, load_private_key(args.key.read_bytes()), search)
    args.output.write_bytes(message)
    print(f"{args.output}: catalogue {catalog.version} (sequence {catalog.sequence}) signed "
          f"{'with its search index' if search else 'without a search index (booths build their own)'}; "
          "publish it retained on kiosk/v1/catalog/<region>")
    return 0


def _search(args: argparse.Namespace) -> int:
    from appliance.catalog.holder import read_catalog
    from appliance.catalog.search import SearchIndex

    catalog = read_catalog(args.file)
    hits = SearchIndex(catalog).search(args.query, limit=args.limit)
    if args.json:
        print(json.dumps([{"code": h.code, "name": h.name, "score": h.score, "matched": h.matched} for h in hits],
                         ensure_ascii=False, indent=1))
    else:
        for rank, hit in enumerate(hits, 1):
            print(f"{rank:>2}. {hit.code:<8} {hit.score:.3f}  {hit.name}  (matched: {hit.matched})")
    return 0


def add_catalog_commands(commands: argparse._SubParsersAction) -> None:
    catalog = commands.add_parser("catalog", help="build, check and search service catalogues")
    tools = catalog.add_subparsers(dest="catalog_command", required=True)
    build = tools.add_parser("build", help="build the catalogue JSON, and its search index beside it, from the YAML "
                                           "sources")
    build.add_argument("source", type=Path,
                       help="directory with departments/*.yaml, bundles.yaml and (optional) lexicon.yaml")
    build.add_argument("--version", required=True, help="catalogue version, e.g. 2026.11-1")
    build.add_argument("--sequence", type=int, default=0,
                       help="the publisher's order, one more than the last published: booths install only a "
                            "higher one (0: unordered, which `sign` refuses)")
    build.add_argument("-o", "--output", type=Path, required=True)
    build.set_defaults(func=_friendly(_build))
    check = tools.add_parser("check", help="validate a catalogue file and say what is wrong")
    check.add_argument("file", type=Path)
    check.set_defaults(func=_friendly(_check))
    keygen = tools.add_parser("keygen", help="make the Ed25519 key pair that signs catalogue updates")
    keygen.add_argument("--key", type=Path, required=True, help="where the private key goes (0600)")
    keygen.set_defaults(func=_friendly(_keygen))
    signer = tools.add_parser("sign", help="sign a catalogue file into the message devices accept")
    signer.add_argument("file", type=Path)
    signer.add_argument("--key", type=Path, required=True, help="the private key from keygen")
    signer.add_argument("-o", "--output", type=Path, required=True, help="the message to publish")
    signer.set_defaults(func=_friendly(_sign))
    search = tools.add_parser("search", help="rank the catalogue's items for a query, as the booth does")
    search.add_argument("query", help="Chinese, pinyin, initials or a mix: 身份证丢了, gjj tiqu, sbk")
    search.add_argument("--file", type=Path, help="catalogue file (default: the bundled one)")
    search.add_argument("--limit", type=int, default=10)
    search.add_argument("--json", action="store_true", help="print code, name, score and matched text as JSON")
    search.set_defaults(func=_friendly(_search))
