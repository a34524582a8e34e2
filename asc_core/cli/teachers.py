"""``teachers download NAME | list``: pretrained teacher weights (fetched on request only, never during a run)."""

from __future__ import annotations

from asc_core.cli._common import _bar, _emit


def cmd_download(a) -> int:
    from asc_core.weights import download

    info = download(a.name, url=a.url, expected_sha256=a.sha256, source=a.source,
                    progress=_bar(f"downloading {a.name}", not a.json))  # fmt: skip
    _emit(info, a.json, f"{info['path']}: {info['size']:,} B, SHA-256 {info['sha256']} (recorded in the manifest)")
    return 0


def cmd_list(a) -> int:
    from asc_core.weights import WEIGHTS, manifest, path_of

    m = manifest()
    rows = [{"name": n, "model": w["model"], "what": w["what"], "path": str(path_of(n)),
             "present": n in m and path_of(n).exists(), "sha256": (m.get(n) or {}).get("sha256")}
            for n, w in WEIGHTS.items()]  # fmt: skip
    text = "\n".join(f"{r['name']:<22} {'here' if r['present'] else 'missing':<8} {r['what']}" for r in rows)
    _emit(rows, a.json, text + "\n(fetch with `python -m asc_core teachers download NAME`)")
    return 0


def register(sub) -> None:
    t = sub.add_parser("teachers", help="pretrained teacher weights").add_subparsers(dest="teachers_command",
                                                                                      required=True)  # fmt: skip
    d = t.add_parser("download", help="fetch official weights by name (resumable; SHA-256 recorded and verified)")
    d.add_argument("name")
    d.add_argument("--url", default=None, help="another source of the same file (a mirror)")
    d.add_argument("--sha256", default=None, help="refuse the file unless it has this SHA-256")
    d.add_argument("--from", dest="source", default=None, metavar="FILE", help="import a file fetched elsewhere")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_download)
    ls = t.add_parser("list", help="the known weights and whether they are here")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
