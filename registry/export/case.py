"""The ``case`` export: the items and their chain of custody as CASE/UCO JSON-LD.

CASE (Cyber-investigation Analysis Standard Expression, caseontology.org) on top of UCO
is the provenance vocabulary of digital forensics tools such as Autopsy. The graph
holds:

* a ``uco-observable:File`` per item, with ``FileFacet`` (original name, size),
  ``ContentDataFacet`` (MIME type, SHA-256/SHA-1/MD5), ``RasterPictureFacet`` (pixel
  size) and, when the file says where it was taken, a ``uco-location:Location``;
* a ``case-investigation:ProvenanceRecord`` per item, linking it to the actions on it;
* a ``case-investigation:InvestigativeAction`` per custody entry (performer, time,
  tool, the object acted on, the signature and the log position in its description);
* ``uco-identity:Identity`` per actor, one ``uco-tool:Tool`` for the registry;
* a ``uco-core:Relationship`` ``Near_Duplicate_Of`` per near-duplicate pair;
* a ``uco-core:Annotation`` on each file that carries Content Credentials (C2PA): their
  state, validation codes, signer, signing time and claim generator, as read at ingest;
* a ``case-investigation:Investigation`` for ``--case``.

Identifiers are ``kb:`` IRIs in the registry's own namespace
(``urn:evidence-registry:<registry id>:``) that end with a UUID, as CASE asks: a kind
and a version 5 UUID derived from the node's stable identity, ``kb:<kind>-<uuid>`` with
``uuid = uuid5(NAMESPACE_URL, "urn:evidence-registry:<registry id>:<kind>-<key>")``
(``node_id``), where the key is the item's SHA-256 for a ``file``, the entry's ``seq``
for an ``action``, and so on. Facets and hashes take the UUIDs case-utils gives them
(``case_utils.inherent_uuid``): a facet's is derived from its owner's UUID and its
class, a hash's from its method and value. Actors (``kb:identity-<uuid5(URL, actor)>``)
and cases (``kb:investigation-<uuid5(URL, case)>``) keep their identifiers. The same
registry therefore exports the same IRIs every time, so graphs from several exports
merge.

The graph conforms to ``case_validate`` (case-utils) with its default settings, against
CASE 1.5.0: hash methods are ``xsd:string`` values of ``HashNameVocab``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from registry.custody import ITEM_STORED
from registry.export.gather import Selection
from registry.export.safepath import OutDir, Written
from registry.version import TOOL_NAME, __version__

CONTEXT = {
    "case-investigation": "https://ontology.caseontology.org/case/investigation/",
    "kb": "urn:evidence-registry:kb:",
    "uco-action": "https://ontology.unifiedcyberontology.org/uco/action/",
    "uco-core": "https://ontology.unifiedcyberontology.org/uco/core/",
    "uco-identity": "https://ontology.unifiedcyberontology.org/uco/identity/",
    "uco-location": "https://ontology.unifiedcyberontology.org/uco/location/",
    "uco-observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
    "uco-tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
    "uco-types": "https://ontology.unifiedcyberontology.org/uco/types/",
    "uco-vocabulary": "https://ontology.unifiedcyberontology.org/uco/vocabulary/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
_HASHES = (("sha256", "SHA256"), ("sha1", "SHA1"), ("md5", "MD5"))


def export_case(sel: Selection, out: OutDir, actor: str) -> list[Written]:
    graph = build_graph(sel)
    doc = {
        "@context": {**CONTEXT, "kb": kb_namespace(sel.registry_id)},
        "@graph": graph,
    }
    data = json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8")
    return [out.write("case.jsonld", data=data)]


def kb_namespace(registry_id: str) -> str:
    """The IRI the ``kb:`` prefix stands for in an export of registry ``registry_id``."""
    return f"urn:evidence-registry:{registry_id}:"


def node_id(registry_id: str, kind: str, key: object) -> str:
    """The compact IRI ``kb:<kind>-<uuid>`` of a node, e.g. ``node_id(rid, "file", sha)``;
    the UUID (version 5) is derived from the registry, the kind and the key only."""
    name = f"{kind}-{key}"
    return f"kb:{kind}-{uuid.uuid5(uuid.NAMESPACE_URL, kb_namespace(registry_id) + name)}"


def build_graph(sel: Selection) -> list[dict[str, Any]]:
    """The ``@graph`` nodes."""
    graph: list[dict[str, Any]] = []

    def nid(kind: str, key: object) -> str:
        return node_id(sel.registry_id, kind, key)

    tool_id = nid("tool", f"{TOOL_NAME}-{__version__}")
    graph.append(
        {
            "@id": tool_id,
            "@type": "uco-tool:Tool",
            "uco-core:name": TOOL_NAME,
            "uco-tool:version": __version__,
            "uco-tool:toolType": "Evidence registry",
        }
    )
    identities: dict[str, str] = {}
    for ll in sel.lines:
        who = str(ll.entry.get("actor"))
        if who not in identities:
            identities[who] = f"kb:identity-{uuid.uuid5(uuid.NAMESPACE_URL, who)}"
            graph.append(
                {"@id": identities[who], "@type": "uco-identity:Identity", "uco-core:name": who}
            )
    for item in sel.items:
        graph.extend(_file_nodes(item, nid))
    actions_of: dict[str, list[str]] = {}
    chosen = set(sel.shas)
    for ll in sel.lines:
        e = ll.entry
        action_id = nid("action", ll.seq)
        node: dict[str, Any] = {
            "@id": action_id,
            "@type": "case-investigation:InvestigativeAction",
            "uco-core:name": str(e.get("action")),
            "uco-core:description": _describe(e),
            "uco-action:startTime": _time(e.get("time")),
            "uco-action:endTime": _time(e.get("time")),
            "uco-action:performer": {"@id": identities[str(e.get("actor"))]},
            "uco-action:instrument": {"@id": tool_id},
        }
        subjects = [s for s in (e.get("sha256"), (e.get("details") or {}).get("match")) if s]
        known = [s for s in subjects if s in chosen]
        if known:
            node["uco-action:object"] = [{"@id": nid("file", s)} for s in known]
            if e.get("action") == ITEM_STORED:
                node["uco-action:result"] = [{"@id": nid("file", known[0])}]
        for s in known:
            actions_of.setdefault(s, []).append(action_id)
        graph.append(node)
    for item in sel.items:
        sha = item["sha256"]
        graph.append(
            {
                "@id": nid("provenance-record", sha),
                "@type": "case-investigation:ProvenanceRecord",
                "case-investigation:exhibitNumber": sha,
                "uco-core:description": "Chain of custody of the file, in log order",
                "uco-core:object": [{"@id": nid("file", sha)}]
                + [{"@id": a} for a in actions_of.get(sha, [])],
            }
        )
    for item in sel.items:
        note = _credentials_annotation(item, nid)
        if note is not None:
            graph.append(note)
    for pair in sel.neardups:
        graph.append(
            {
                "@id": nid("relationship-neardup", f"{pair['query']}-{pair['match']}"),
                "@type": "uco-core:Relationship",
                "uco-core:source": {"@id": nid("file", pair["query"])},
                "uco-core:target": {"@id": nid("file", pair["match"])},
                "uco-core:kindOfRelationship": "Near_Duplicate_Of",
                "uco-core:isDirectional": False,
                "uco-core:description": (
                    f"score {pair.get('score')}, method {pair.get('method')}, "
                    f"transform {pair.get('transform')}, segments "
                    f"{json.dumps(pair.get('segments') or [])}"
                ),
            }
        )
    if sel.case:
        graph.append(
            {
                "@id": f"kb:investigation-{uuid.uuid5(uuid.NAMESPACE_URL, sel.case)}",
                "@type": "case-investigation:Investigation",
                "uco-core:name": sel.case,
                "case-investigation:focus": "Open-source and witness media",
                "uco-core:object": [{"@id": nid("file", s)} for s in sel.shas]
                + [{"@id": nid("provenance-record", s)} for s in sel.shas],
            }
        )
    return graph


def _file_nodes(item: dict[str, Any], nid: Callable[[str, object], str]) -> list[dict[str, Any]]:
    sha = item["sha256"]
    file_id = nid("file", sha)
    names = [s.get("original_name") for s in item.get("sightings") or [] if s.get("original_name")]
    file_facet: dict[str, Any] = {
        "@id": _facet_id(file_id, "file-facet", "uco-observable:FileFacet"),
        "@type": "uco-observable:FileFacet",
        "uco-observable:sizeInBytes": _lit("xsd:integer", item.get("size")),
    }
    if names:
        file_facet["uco-observable:fileName"] = str(names[0])
        if "." in str(names[0]):
            file_facet["uco-observable:extension"] = str(names[0]).rsplit(".", 1)[1]
    content = {
        "@id": _facet_id(file_id, "content-data-facet", "uco-observable:ContentDataFacet"),
        "@type": "uco-observable:ContentDataFacet",
        "uco-observable:mimeType": item.get("mime"),
        "uco-observable:sizeInBytes": _lit("xsd:integer", item.get("size")),
        "uco-observable:hash": [
            {
                "@id": _hash_id(alg, item[alg]),
                "@type": "uco-types:Hash",
                # A HashNameVocab member as a plain (xsd:string) literal, as UCO 1.4.0
                # asks; one typed ``xsd:string`` would not match the vocabulary's check.
                "uco-types:hashMethod": {"@value": name},
                "uco-types:hashValue": _lit("xsd:hexBinary", item.get(alg)),
            }
            for alg, name in _HASHES
            if item.get(alg)
        ],
    }
    facets = [file_facet, content]
    if item.get("width") and item.get("height"):
        facets.append(
            {
                "@id": _facet_id(
                    file_id, "raster-picture-facet", "uco-observable:RasterPictureFacet"
                ),
                "@type": "uco-observable:RasterPictureFacet",
                "uco-observable:pictureWidth": _lit("xsd:integer", item["width"]),
                "uco-observable:pictureHeight": _lit("xsd:integer", item["height"]),
            }
        )
    nodes: list[dict[str, Any]] = [
        {
            "@id": file_id,
            "@type": "uco-observable:File",
            "uco-core:name": str(names[0]) if names else sha,
            "uco-core:hasFacet": [{k: v for k, v in f.items() if v is not None} for f in facets],
        }
    ]
    gps = (item.get("metadata") or {}).get("gps")
    if isinstance(gps, dict) and gps.get("lat") is not None and gps.get("lon") is not None:
        location_id = nid("location", sha)
        nodes.append(
            {
                "@id": location_id,
                "@type": "uco-location:Location",
                "uco-core:description": "Where the file's own metadata says it was taken",
                "uco-core:hasFacet": [
                    {
                        "@id": _facet_id(
                            location_id, "lat-long-facet", "uco-location:LatLongCoordinatesFacet"
                        ),
                        "@type": "uco-location:LatLongCoordinatesFacet",
                        "uco-location:latitude": _lit("xsd:decimal", gps["lat"]),
                        "uco-location:longitude": _lit("xsd:decimal", gps["lon"]),
                    }
                ],
            }
        )
        nodes.append(
            {
                "@id": nid("relationship-location", sha),
                "@type": "uco-core:Relationship",
                "uco-core:source": {"@id": file_id},
                "uco-core:target": {"@id": location_id},
                "uco-core:kindOfRelationship": "Mapped_Into",
                "uco-core:isDirectional": True,
            }
        )
    return nodes


def _credentials_annotation(
    item: dict[str, Any], nid: Callable[[str, object], str]
) -> dict[str, Any] | None:
    """What a file's Content Credentials (C2PA) say, when it carries any."""
    c2pa = (item.get("metadata") or {}).get("c2pa") or {}
    if c2pa.get("state") not in ("valid", "invalid", "remote"):
        return None
    sha = item["sha256"]
    signer = c2pa.get("signer") or {}
    facts = [
        f"state {c2pa['state']}",
        f"content altered after signing: {'yes' if c2pa.get('altered') else 'no'}",
        f"validation codes: {', '.join(c2pa.get('codes') or []) or 'none'}",
        f"claim generator: {c2pa.get('claim_generator') or '-'}",
        f"signer: {signer.get('issuer') or '-'}",
        f"signed at: {c2pa.get('signed_at') or '-'}",
        f"manifests: {c2pa.get('manifests') or 0}",
    ]
    if c2pa["state"] == "remote":
        facts = [f"state remote: manifest at {c2pa.get('remote_url')}, not fetched"]
    return {
        "@id": nid("annotation-c2pa", sha),
        "@type": "uco-core:Annotation",
        "uco-core:name": "Content Credentials (C2PA)",
        "uco-core:statement": "Content Credentials (C2PA), read at ingest: " + "; ".join(facts),
        "uco-core:tag": [f"c2pa:{c2pa['state']}"],
        "uco-core:object": [{"@id": nid("file", sha)}],
    }


def _facet_id(owner_id: str, kind: str, facet_class: str) -> str:
    """``kb:<kind>-<uuid>`` of the facet of class ``facet_class`` (a compact IRI) of the
    node ``owner_id``: case-utils' inherence UUID, ``uuid5(<owner's UUID>, <class IRI>)``
    (``case_utils.inherent_uuid.get_facet_uriref``)."""
    prefix, local = facet_class.split(":", 1)
    return f"kb:{kind}-{uuid.uuid5(uuid.UUID(owner_id[-36:]), CONTEXT[prefix] + local)}"


def _hash_id(alg: str, value: Any) -> str:
    """``kb:hash-<uuid>`` of a hash, named by its method and value as case-utils names
    hashes: ``uuid5(NAMESPACE_URL, "urn:hash::<alg>:<hex>")``
    (``case_utils.inherent_uuid.hash_method_value_uuid``)."""
    return f"kb:hash-{uuid.uuid5(uuid.NAMESPACE_URL, f'urn:hash::{alg}:{str(value).lower()}')}"


def _describe(entry: dict[str, Any]) -> str:
    return json.dumps(
        {
            "seq": entry.get("seq"),
            "details": entry.get("details"),
            "host": entry.get("host"),
            "args": entry.get("args"),
            "prev": entry.get("prev"),
            "key": entry.get("key"),
            "sig": entry.get("sig"),
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def _lit(datatype: str, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"@type": datatype, "@value": value if datatype != "xsd:decimal" else str(value)}


def _time(value: Any) -> dict[str, Any] | None:
    return _lit("xsd:dateTime", value)
