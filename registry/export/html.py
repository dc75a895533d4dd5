"""The ``html`` export: one self-contained report file for reviewers and lawyers.

Everything is inside the file: thumbnails are JPEG data URIs made from the vault's
originals, styles and the few lines of script are inline, and a Content-Security-Policy
forbids loading anything else, so opening the report contacts no server (source URLs
are shown as text, not links, for the same reason). Thumbnails are blurred until
clicked, with a switch to show them all: the footage is often graphic and reviewers'
wellbeing matters. Every value from outside is escaped.
"""

from __future__ import annotations

import base64
import json
from html import escape
from typing import Any

from registry.custody import summarize
from registry.export.gather import Selection, clusters
from registry.export.safepath import OutDir, Written
from registry.export.thumbs import thumbnail
from registry.schema import FIRST_SEEN_FIELDS, credentials_note, instant_key
from registry.version import __version__

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:2px solid #ccc;margin-top:2em}h3{font-size:1.1em}
table{border-collapse:collapse;margin:.5em 0;width:100%}
td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f4f4f4;width:14em}.log th{width:auto}
.log{font-size:12px}.log td{overflow-wrap:anywhere}.log td:first-child{white-space:nowrap}
code,.hash{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}
section.item{border:1px solid #bbb;border-radius:6px;padding:0 1em 1em;margin:1.5em 0}
.thumb{border:0;padding:0;background:#333;cursor:pointer;overflow:hidden;display:inline-block;
 width:240px;height:180px;margin:.3em}
.thumb img{width:100%;height:100%;object-fit:contain;filter:blur(22px) grayscale(60%)}
.thumb.revealed img,body.show-all .thumb img{filter:none}
.nothumb{display:inline-block;width:240px;height:180px;background:#eee;color:#666;
 text-align:center;line-height:180px;margin:.3em}
.pair{display:flex;gap:1em;align-items:flex-start;flex-wrap:wrap}
.bar{position:sticky;top:0;background:#fffbe6;border:1px solid #e6d58a;padding:.5em;z-index:1}
"""

_SCRIPT = """
document.addEventListener('click',function(e){var b=e.target.closest('button.thumb');
if(!b)return;b.classList.toggle('revealed');
b.setAttribute('aria-pressed',b.classList.contains('revealed'));});
document.getElementById('show-all').addEventListener('change',function(e){
document.body.classList.toggle('show-all',e.target.checked);});
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def export_html(
    sel: Selection,
    out: OutDir,
    vault_path: Any,
    generated_at: str,
    timestamps: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> list[Written]:
    """Write ``report.html``. ``vault_path(sha)`` gives an item's original file;
    ``timestamps``: the stored RFC 3161 tokens (``custody.timestamps.stored_tokens``)."""
    report = render(sel, vault_path, generated_at, timestamps)
    return [out.write("report.html", data=report.encode("utf-8"))]


def render(
    sel: Selection,
    vault_path: Any,
    generated_at: str,
    timestamps: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> str:
    """The report as HTML text."""
    by_sha = {item["sha256"]: item for item in sel.items}
    thumbs: dict[str, str | None] = {}
    for sha, item in by_sha.items():
        rotation = (item.get("metadata") or {}).get("rotation")
        try:
            thumbs[sha] = thumbnail(vault_path(sha), item.get("media_type"), rotation)
        except Exception as exc:  # a decoder failing on one file costs its thumbnail only
            thumbs[sha] = None
            sel.warn(sha, "thumbnail", exc)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>Evidence report{_e(' — ' + sel.case) if sel.case else ''}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Evidence report{_e(' — case ' + sel.case) if sel.case else ''}</h1>",
        '<div class="bar"><label><input type="checkbox" id="show-all"> Show all thumbnails'
        "</label> — thumbnails are blurred; click one to reveal it.</div>",
        _table(
            [
                ("Registry", sel.registry_id),
                ("Case", sel.case or "all items"),
                ("Items", str(len(sel.items))),
                ("Custody entries", f"{len(sel.lines)} of the first {sel.log_size} in the log"),
                ("Generated", generated_at),
                ("Tool", f"evidence-registry {__version__}"),
            ]
        ),
        "<h2>Items</h2><ol>",
        *(
            f'<li><a href="#item-{sha}"><code>{sha}</code></a> {_e(_name(item))}</li>'
            for sha, item in by_sha.items()
        ),
        "</ol>",
    ]
    for item in sel.items:
        try:
            parts.append(_item(item, thumbs, sel))
        except Exception as exc:  # one item that cannot be shown must not lose the report
            sel.warn(item["sha256"], "html", exc)
            parts.append(_unrendered(item["sha256"], sel.warnings[-1]["message"]))
    parts.append(_clusters(sel, thumbs, by_sha))
    parts.append("<h2>Custody timeline</h2>")
    parts.append(_timeline([ll.entry for ll in sel.lines]))
    parts.append("<h2>Public keys</h2><p>The Ed25519 keys that signed these entries.</p>")
    for kid, key in sel.public_keys.items():
        parts.append(f"<h3><code>{_e(kid)}</code> — {_e(key.get('actor') or '?')}</h3>")
        parts.append(f"<pre>{_e(key['pem'])}</pre>")
    parts.append(_timestamps(timestamps))
    parts.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(parts)


def _item(item: dict[str, Any], thumbs: dict[str, str | None], sel: Selection) -> str:
    sha = item["sha256"]
    meta = item.get("metadata") or {}
    first = item.get("first_seen") or {}
    rows = [
        ("SHA-256", _code(sha)),
        ("SHA-1", _code(item.get("sha1"))),
        ("MD5", _code(item.get("md5"))),
        ("Size", f"{item.get('size'):,} bytes" if item.get("size") is not None else "-"),
        ("Type", f"{item.get('media_type')} ({item.get('mime')})"),
    ]
    if item.get("width"):
        rows.append(("Dimensions", f"{item['width']}×{item['height']}"))
    if item.get("duration_s") is not None:
        rows.append(("Duration", f"{item['duration_s']:.2f} s"))
    for key, value in meta.items():
        if value not in (None, "", {}, []) and key != "c2pa":
            rows.append(
                (
                    f"metadata: {key}",
                    json.dumps(value, ensure_ascii=False)
                    if isinstance(value, dict | list)
                    else str(value),
                )
            )
    for key in FIRST_SEEN_FIELDS:
        rows.append((f"first seen: {key}", first.get(key) or "-"))
    rows.append(("Cases", ", ".join(item.get("cases") or []) or "-"))
    html = [
        f'<section class="item" id="item-{sha}"><h3>{_e(_name(item))}</h3>',
        _thumb(sha, thumbs.get(sha)),
        _table(rows, raw={"SHA-256", "SHA-1", "MD5"}),
        *_credentials(item),
        "<h4>Sightings</h4>",
        _grid(
            (
                "#",
                "observed",
                "by",
                "case",
                "original name",
                "source URL",
                "posted",
                "forwarded",
                "note",
            ),
            [
                (
                    s.get("seq"),
                    s.get("observed_at"),
                    s.get("observed_by"),
                    s.get("case"),
                    s.get("original_name"),
                    s.get("source_url"),
                    s.get("posted_at"),
                    s.get("forwarded_from"),
                    s.get("note"),
                )
                for s in item.get("sightings") or []
            ],
        ),
        "<h4>Timeline</h4>",
        _moments(item.get("timeline") or []),
    ]
    if item.get("notes"):
        html.append("<h4>Notes</h4>")
        html.append(
            _grid(
                ("#", "time", "by", "note"),
                [
                    (n.get("seq"), n.get("time"), n.get("actor"), n.get("text"))
                    for n in item["notes"]
                ],
            )
        )
    pairs = [p for p in sel.neardups if sha in (p["query"], p["match"])]
    if pairs:
        html.append("<h4>Near-duplicates</h4><ul>")
        for p in pairs:
            other = p["match"] if p["query"] == sha else p["query"]
            html.append(
                f'<li><a href="#item-{_e(other)}"><code>{_e(other)}</code></a> score '
                f"{_e(p.get('score'))} ({_e(p.get('method'))})</li>"
            )
        html.append("</ul>")
    html.append("<h4>Custody</h4>")
    html.append(_timeline(sel.entries_about(sha)))
    html.append("</section>")
    return "\n".join(html)


def _credentials(item: dict[str, Any]) -> list[str]:
    """The item's Content Credentials (C2PA), as read at ingest, offline."""
    if item.get("media_type") not in ("image", "video"):
        return []
    c2pa = (item.get("metadata") or {}).get("c2pa")
    rows: list[tuple[str, Any]] = [("State", credentials_note(c2pa))]
    if c2pa and c2pa.get("state") in ("valid", "invalid"):
        signer = c2pa.get("signer") or {}
        who = [str(v) for v in (signer.get("issuer"), signer.get("common_name")) if v]
        rows += [
            ("Validation codes", ", ".join(c2pa.get("codes") or []) or "-"),
            ("Claim generator", c2pa.get("claim_generator")),
            ("Signer", " / ".join(who) or "-"),
            ("Signed at", c2pa.get("signed_at")),
            ("Manifests", c2pa.get("manifests")),
            ("Actions", ", ".join(str(a.get("action")) for a in c2pa.get("actions") or []) or "-"),
            (
                "Ingredients",
                ", ".join(
                    f"{i.get('title')} ({i.get('relationship')})"
                    for i in c2pa.get("ingredients") or []
                )
                or "-",
            ),
        ]
    return ["<h4>Content Credentials (C2PA)</h4>", _table(rows)]


def _unrendered(sha: str, why: str) -> str:
    return (
        f'<section class="item" id="item-{_e(sha)}"><h3><code>{_e(sha)}</code></h3>'
        f"<p>This item could not be shown here ({_e(why)}); the other export formats "
        "and the custody log hold all of its data.</p></section>"
    )


def _clusters(
    sel: Selection, thumbs: dict[str, str | None], by_sha: dict[str, dict[str, Any]]
) -> str:
    groups = clusters(sel.neardups)
    html = ["<h2>Near-duplicate clusters</h2>"]
    if not groups:
        html.append("<p>No near-duplicates were found among these items.</p>")
        return "\n".join(html)
    for number, group in enumerate(groups, start=1):
        members = set(group)
        html.append(f"<h3>Cluster {number}: {len(group)} items</h3>")
        moments = sorted(
            (
                dict(e, sha256=sha)
                for sha in group
                for e in by_sha.get(sha, {}).get("timeline") or []
            ),
            key=instant_key,
        )
        html.append("<p>Timeline of every copy, earliest first</p>")
        html.append(_moments(moments, with_item=True))
        html.append("<p>Content Credentials (C2PA) of every copy</p>")
        html.append(
            _grid(
                ("item", "content credentials"),
                [
                    (sha[:16], credentials_note((by_sha[sha].get("metadata") or {}).get("c2pa")))
                    for sha in group
                    if sha in by_sha
                ],
            )
        )
        for p in sel.neardups:
            if p["query"] not in members:
                continue
            html.append('<div class="pair">')
            for sha in (p["query"], p["match"]):
                caption = _e(_name(by_sha[sha])) if sha in by_sha else "not in this export"
                thumb = _thumb(sha, thumbs.get(sha)) if sha in by_sha else _nothumb("not exported")
                html.append(f"<div>{thumb}<br><code>{_e(sha[:16])}…</code> {caption}</div>")
            html.append("</div>")
            html.append(
                _table(
                    [
                        ("Score", p.get("score")),
                        ("Distance", p.get("distance")),
                        ("Method", p.get("method")),
                        ("Transform", p.get("transform")),
                        ("Logged as entry", p.get("seq")),
                    ]
                )
            )
            if p["segments"]:
                html.append("<p>Matched segments (seconds)</p>")
                html.append(
                    _grid(
                        ("query start", "query end", "match start", "match end"),
                        [
                            (
                                s.get("query_start_s"),
                                s.get("query_end_s"),
                                s.get("match_start_s"),
                                s.get("match_end_s"),
                            )
                            for s in p["segments"]
                        ],
                    )
                )
    return "\n".join(html)


def _moments(events: list[dict[str, Any]], with_item: bool = False) -> str:
    """Posted, archived, observed and captured moments, earliest first, each with its
    source (times without an offset keep their note)."""
    head = ("moment", "time", "source", "URL", "note")
    rows = [
        (
            e.get("event"),
            e.get("at"),
            e.get("source_kind") or (f"registry ({e['by']})" if e.get("by") else ""),
            e.get("source_url"),
            e.get("note"),
        )
        for e in events
    ]
    if with_item:
        head = ("item", *head)
        rows = [(str(e.get("sha256") or "")[:16], *r) for e, r in zip(events, rows, strict=True)]
    return _grid(head, rows)


def _timeline(entries: list[dict[str, Any]]) -> str:
    rows = []
    for e in entries:
        tool = e.get("tool") or {}
        rows.append(
            (
                e.get("seq"),
                e.get("time"),
                e.get("actor"),
                e.get("action"),
                (e.get("sha256") or "")[:16],
                summarize(e),
                f"{tool.get('name')} {tool.get('version')} on {e.get('host')}",
                " ".join(e["args"]) if isinstance(e.get("args"), list) else "",
                e.get("key"),
            )
        )
    return _grid(
        ("#", "time (UTC)", "actor", "action", "item", "details", "tool", "arguments", "key"),
        rows,
        cls="log",
    )


def _timestamps(tokens: list[dict[str, Any]]) -> str:
    """Each RFC 3161 token, with its bytes and trust anchor, to check with OpenSSL."""
    parts = [
        "<h2>Trusted timestamps (RFC 3161)</h2><p>Each token, from a time-stamping "
        "authority, proves that the checkpoint it covers, and so every custody entry "
        "before it, existed at its genTime. Its message imprint is the SHA-256 of the "
        "checkpoint as canonical JSON. To check one, save the token (base64) and the "
        "trust anchor, then run <code>base64 -d token.b64 &gt; token.tsr; openssl ts "
        "-verify -digest IMPRINT -in token.tsr -CAfile anchor.pem</code>.</p>"
    ]
    if not tokens:
        return parts[0] + "<p>none</p>"
    anchors: dict[str, bytes] = {}
    for token in tokens:
        d = token["details"]
        anchor = d.get("trust_anchor") or {}
        anchors[str(anchor.get("sha256"))] = token["anchor_pem"]
        rows = [
            ("Checkpoint", f"size {d.get('size')}, root {d.get('root')}"),
            ("Authority", d.get("tsa")),
            ("genTime", d.get("gen_time")),
            ("Serial", d.get("serial")),
            ("Policy", d.get("policy")),
            ("TSA name", d.get("tsa_name")),
            ("Imprint (SHA-256)", _code(d.get("imprint"))),
            ("Trust anchor", _code(anchor.get("sha256"))),
            ("Token file", d.get("file")),
        ]
        parts.append(_table(rows, raw={"Imprint (SHA-256)", "Trust anchor"}))
        b64 = base64.encodebytes(token["der"]).decode("ascii")
        parts.append(f"<details><summary>token (base64)</summary><pre>{_e(b64)}</pre></details>")
    parts.append("<h3>Trust anchors</h3>")
    for sha, pem in anchors.items():
        parts.append(
            f"<h4><code>{_e(sha)}</code></h4><pre>{_e(pem.decode('ascii', 'replace'))}</pre>"
        )
    return "\n".join(parts)


def _thumb(sha: str, uri: str | None) -> str:
    if not uri:
        return _nothumb("no preview")
    return (
        f'<button class="thumb" type="button" aria-pressed="false" title="Click to reveal">'
        f'<img alt="thumbnail of {sha[:16]}" src="{uri}"></button>'
    )


def _nothumb(text: str) -> str:
    return f'<span class="nothumb">{_e(text)}</span>'


def _name(item: dict[str, Any]) -> str:
    for s in item.get("sightings") or []:
        if s.get("original_name"):
            return str(s["original_name"])
    return item["sha256"][:16]


def _table(rows: list[tuple[str, Any]], raw: set[str] = frozenset()) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{v if k in raw else _e(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _grid(head: tuple[str, ...], rows: list[tuple[Any, ...]], cls: str = "") -> str:
    if not rows:
        return "<p>none</p>"
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><tr>{th}</tr>{body}</table>'


def _code(value: Any) -> str:
    return f'<code class="hash">{_e(value)}</code>'


def _e(value: Any) -> str:
    return "-" if value is None else escape(str(value), quote=True)
