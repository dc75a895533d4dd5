"""The same catalogue behaviours on every backend: TinyDB files (the default) and
PostgreSQL (a real server, started for the session by ``support.postgres``), as tinydb
runs its own tests over each of its storages.

Each test takes ``backend``: where a catalogue of that kind is kept, and how to damage
it behind the registry's back. The PostgreSQL runs skip, saying why, when no server can
be started.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry import Registry, Submission
from registry.custody import add_note, note_added
from registry.errors import AmbiguousPrefix, ItemNotFound
from registry.store import CatalogBase, CatalogStore, CatalogUnavailable, catalog_store
from registry.verify import check
from support.entries import sha_of, stored_entries
from support.media import write_jpeg

BACKENDS = ["tinydb", "postgresql"]


@dataclass
class Backend:
    """A place for one catalogue: ``url`` None is the TinyDB folder ``folder``."""

    name: str
    folder: Path
    url: str | None

    def store(self) -> CatalogStore:
        return catalog_store(str(self.folder), self.url)

    def open(self) -> CatalogBase:
        return self.store().open()

    def registry(self, root: Path, **kwargs: Any) -> Registry:
        return Registry.open(str(root), create=True, catalog=self.url, **kwargs)

    # --- tampering, as someone with write access to the catalogue's storage -------------

    def edit_document(self, sha: str, field: str, value: Any, folder: Path | None = None) -> None:
        """Change one field of the stored item document."""
        if self.url is None:
            shard = self._shard(sha, folder or self.folder)
            data = json.loads(shard.read_text())
            data["items"][sha][field] = value
            shard.write_text(json.dumps(data))
        else:
            rows = self._sql("SELECT body FROM evidence_items WHERE sha256 = %s", sha)
            doc = json.loads(rows[0][0])
            doc[field] = value
            text = json.dumps(doc)  # both copies, as a careful editor would
            self._sql(
                "UPDATE evidence_items SET body = %s, doc = %s::jsonb WHERE sha256 = %s",
                text,
                text,
                sha,
            )

    def edit_index(self, sha: str, cases: list[str], folder: Path | None = None) -> None:
        """Change the cases the backend's index gives the item, not its document."""
        if self.url is None:
            index = (folder or self.folder) / "index.json"
            data = json.loads(index.read_text())
            data["items"][sha][1] = cases
            index.write_text(json.dumps(data))
        else:
            self._sql("UPDATE evidence_items SET cases = %s WHERE sha256 = %s", cases, sha)

    def _shard(self, sha: str, folder: Path) -> Path:
        index = json.loads((folder / "index.json").read_text())
        return folder / f"shard-{index['items'][sha][0]:06d}.json"

    def _sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg

        assert self.url is not None
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    return Backend(request.param, tmp_path / "catalog", url)


_sha = sha_of
_entries = stored_entries


def _fill(cat: CatalogBase, entries, flush: bool = True) -> None:
    for entry in entries:
        cat.apply(entry, entry_hash="h" * 64, end_offset=entry["seq"] * 10)
    if flush:
        cat.flush()


def _entry(seq: int, action: str, sha: str, details: dict[str, Any], actor: str = "c") -> dict:
    time = f"2026-02-01T00:{seq // 60 % 60:02d}:{seq % 60:02d}+00:00"
    return {"seq": seq, "time": time, "actor": actor, "action": action, "sha256": sha,
            "details": details}  # fmt: skip


# --- folds and lookups ------------------------------------------------------------------


def test_fold_and_lookups(backend: Backend) -> None:
    cat = backend.open()
    _fill(cat, _entries(10))
    for c in (cat, backend.open()):  # as staged, and as read back
        assert len(c) == 10 and _sha(3) in c and _sha(99) not in c
        doc = c.get(_sha(3))
        assert doc["size"] == 3 and doc["cases"] == ["C1"]
        assert doc["first_seen"]["observed_by"] == "b"
        assert c.resolve(_sha(3)[:12]) == _sha(3)
        assert c.resolve(_sha(3).upper()) == _sha(3)
        assert c.shas("C1") == sorted(_sha(i) for i in range(1, 10, 2))
        assert c.shas() == sorted(_sha(i) for i in range(10))
        assert c.get(_sha(99)) is None
        assert (c.log_seq, c.log_offset, c.log_hash) == (20, 200, "h" * 64)


def test_prefix_errors(backend: Backend) -> None:
    cat = backend.open()
    _fill(cat, _entries(40))
    with pytest.raises(ItemNotFound):
        cat.resolve("zz")
    with pytest.raises(ItemNotFound):
        cat.resolve("%")
    with pytest.raises(ItemNotFound):
        cat.resolve("ffffffffffffffff0")
    ordered = cat.shas()
    common = next(a[0] for a, b in itertools.pairwise(ordered) if a[0] == b[0])
    with pytest.raises(AmbiguousPrefix):
        cat.resolve(common)
    assert cat.with_prefix(common) == [s for s in ordered if s.startswith(common)]
    assert cat.with_prefix(common, limit=1) == [s for s in ordered if s.startswith(common)][:1]


def test_listing_orders_with_staged_changes_on_top(backend: Backend) -> None:
    cat = backend.open()
    _fill(cat, _entries(30))
    # Staged, not flushed: five new items, and a committed C2 item sighted in C1 too.
    _fill(cat, _entries(5, start_seq=61, first=30), flush=False)
    cat.apply(
        _entry(71, "sighting.added", _sha(0), {"case": "C1"}), entry_hash="h" * 64, end_offset=9
    )
    for c in (cat, None):
        if c is None:
            cat.flush()
            c = backend.open()
        stored = [d["sha256"] for d in c.iter_items()]
        assert stored == [_sha(i) for i in range(35)]  # the order they were first stored
        assert [d["sha256"] for d in c.iter_items(order="sha256")] == sorted(stored)
        c1 = [_sha(0)] + [_sha(i) for i in range(1, 35, 2)]
        assert [d["sha256"] for d in c.iter_items("C1")] == c1
        assert [d["sha256"] for d in c.iter_items("C1", "sha256")] == sorted(c1)
        assert c.shas("C1") == sorted(c1)
        assert next(c.iter_items("C1"))["cases"] == ["C2", "C1"]
        assert list(c.iter_items("no such case")) == []
        assert len(c) == 35
        with pytest.raises(ValueError):
            list(c.iter_items(order="size"))


def test_listing_pages_through_a_large_catalogue(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry.store import catalog as tiny

    monkeypatch.setattr(tiny, "SORT_WINDOW", 7)  # TinyDB: spilled to files
    if backend.url is not None:
        from registry.store import pgcatalog

        monkeypatch.setattr(pgcatalog, "PAGE", 7)  # PostgreSQL: many pages
    cat = backend.open()
    _fill(cat, _entries(50))
    cat = backend.open()
    assert [d["sha256"] for d in cat.iter_items()] == [_sha(i) for i in range(50)]
    assert [d["sha256"] for d in cat.iter_items(order="sha256")] == sorted(map(_sha, range(50)))
    assert len(list(cat.iter_items("C2", "sha256"))) == 25


def test_notes_and_sightings_fold(backend: Backend) -> None:
    cat = backend.open()
    _fill(cat, _entries(3))
    sha = _sha(1)
    _fill(
        cat,
        [
            _entry(10, "note.added", sha, {"text": "blurred plate"}, actor="dana"),
            _entry(11, "sighting.added", sha, {"case": "C9", "posted_at": "2022-03-16T09:00Z"}),
            _entry(12, "note.added", _sha(77), {"text": "no such item"}),
        ],
    )
    doc = backend.open().get(sha)
    assert [(n["seq"], n["actor"], n["text"]) for n in doc["notes"]] == [
        (10, "dana", "blurred plate")
    ]
    assert doc["cases"] == ["C1", "C9"] and [s["seq"] for s in doc["sightings"]] == [4, 11]
    assert doc["first_seen"]["claimed_posted_at"] == "2022-03-16T09:00Z"
    assert backend.open().shas("C9") == [sha] and len(backend.open()) == 3


def test_nothing_written_before_flush(backend: Backend) -> None:
    cat = backend.open()
    _fill(cat, _entries(2))
    _fill(cat, _entries(3, start_seq=5, first=2), flush=False)
    assert len(cat) == 5 and cat.pending
    before = backend.open()
    assert len(before) == 2 and before.log_seq == 4 and _sha(3) not in before
    cat.flush()
    after = backend.open()
    assert len(after) == 5 and after.log_seq == 10 and not cat.pending


def test_documents_round_trip_exactly(backend: Backend) -> None:
    """What JSON can say comes back as it went in: key order, NUL characters, NaN
    (PostgreSQL's JSONB copy cannot hold the last two; the document can)."""
    cat = backend.open()
    _fill(cat, _entries(1))
    metadata = {
        "zeta": 1,
        "a": {"y": [1.5, None, True], "b": "Київ \x00 nul"},
        "fps": float("nan"),
        "big": 1e300,
    }
    details = {"metadata": metadata, "exif": {"Image Make": "x\x00y"}, "width": 3}
    _fill(cat, [_entry(5, "metadata.extracted", _sha(0), details)])
    for c in (cat, backend.open()):
        doc = c.get(_sha(0))
        assert list(doc["metadata"]) == ["zeta", "a", "fps", "big"]
        assert doc["metadata"]["a"]["b"] == "Київ \x00 nul"
        assert doc["metadata"]["fps"] != doc["metadata"]["fps"]  # NaN
        assert doc["exif"] == {"Image Make": "x\x00y"}
        assert list(c.inconsistencies()) == []


def test_postgres_rows_keep_what_jsonb_cannot() -> None:
    from registry.store.pgschema import encode, item_row, queryable, read_jsonb

    plain = {"b": 1, "a": "Київ"}
    assert encode(plain) == ('{"b":1,"a":"Київ"}',) * 2
    body, doc = encode({"s": "x\x00\udcff", "n": float("inf")})
    assert json.loads(body)["s"] == "x\x00\udcff" and json.loads(body)["n"] == float("inf")
    assert json.loads(doc) == {"s": "x\ufffd\ufffd", "n": None} == queryable(json.loads(body))
    assert queryable(1e300) == read_jsonb("1" + "0" * 300)
    row = item_row({"sha256": "ab", "stored_seq": 3, "cases": ["K"], "first_seen": {}})
    assert row[:4] == ("ab", 3, ["K"], None)


# --- rebuild, recovery, verify ------------------------------------------------------------


@pytest.fixture
def registry_of(backend: Backend, tmp_path: Path):
    """A registry with three photos in two cases and a note, on ``backend``."""
    media = tmp_path / "media"
    for i, name in enumerate(("a.jpg", "b.jpg", "c.jpg"), start=1):
        write_jpeg(media / name, i, size=(160, 120))
    reg = backend.registry(tmp_path / "reg", actor="alice")
    reg.ingest([str(media)], Submission(actor="alice", case="C1"), workers=1)
    reg.ingest([str(media / "a.jpg")], Submission(actor="bob", case="C2"), workers=1)
    add_note(reg, reg.catalog.shas()[0], "first note", actor="bob")
    return reg


def _every_item(reg: Registry) -> list[dict[str, Any]]:
    return [reg.show(sha) for sha in reg.catalog.shas()]


def test_rebuild_equals_incremental(registry_of: Registry) -> None:
    reg = registry_of
    folded = _every_item(reg)
    listed = list(reg.list_items())
    assert reg.rebuild(actor="carol") == 3
    again = Registry.open(reg.root, catalog=reg.catalog_url)
    assert _every_item(again) == folded
    assert list(again.list_items()) == listed
    assert check(again).ok


def test_a_crash_between_log_and_catalogue_is_caught_up(registry_of: Registry) -> None:
    reg = registry_of
    sha = reg.catalog.shas()[1]
    with reg.writing("dana"):
        reg.record([note_added("dana", sha, "logged, never folded")])
        # the process dies here: the log has the entry, the catalogue never got it
    again = Registry.open(reg.root, catalog=reg.catalog_url)
    assert again.show(sha)["notes"] == []  # readers see the catalogue as last written
    assert again.catalog.log_seq == again.log.read_head().seq - 1
    assert again.verify(actor="carol").ok
    assert [n["text"] for n in again.show(sha)["notes"]] == ["logged, never folded"]
    repairs = [e for e in again.custody() if e["action"] == "registry.recovered"]
    assert repairs[-1]["details"]["repairs"][0] == {
        "repair": "catalogue caught up with the log",
        "entries": 1,
    }
    assert again.catalog.log_seq == again.log.read_head().seq


def test_verify_names_an_edited_catalogue_record(backend: Backend, registry_of: Registry) -> None:
    reg = registry_of
    sha = reg.catalog.shas()[2]
    backend.edit_document(sha, "size", 1, folder=Path(reg.catalog_path))
    reg = Registry.open(reg.root, catalog=reg.catalog_url)
    found = [(p.code, p.sha256, p.field) for p in check(reg).problems]
    assert found == [("CatalogMismatch", sha, "size")]
    reg.rebuild(actor="carol")
    assert check(reg).ok


def test_verify_names_an_index_that_disagrees(backend: Backend, registry_of: Registry) -> None:
    reg = registry_of
    sha = reg.catalog.shas("C1")[0]
    backend.edit_index(sha, ["C1", "C7"], folder=Path(reg.catalog_path))
    reg = Registry.open(reg.root, catalog=reg.catalog_url)
    assert reg.catalog.shas("C7") == [sha]  # the damaged index is what listings read
    found = [(p.code, p.sha256, p.field) for p in check(reg).problems]
    assert found == [("CatalogMismatch", sha, "cases")]


def test_postgres_verify_names_a_changed_jsonb_copy(pg_url: str, tmp_path: Path) -> None:
    backend = Backend("postgresql", tmp_path / "catalog", pg_url)
    reg = backend.registry(tmp_path / "reg")
    [res] = reg.ingest([write_jpeg(tmp_path / "a.jpg", 1)], workers=1)
    backend._sql(
        "UPDATE evidence_items SET doc = jsonb_set(doc, '{size}', '7') WHERE sha256 = %s",
        res.sha256,
    )
    found = [(p.code, p.sha256, p.field) for p in check(reg).problems]
    assert found == [("CatalogMismatch", res.sha256, "doc")]
    backend._sql("UPDATE evidence_position SET item_count = 5")
    found = [(p.code, p.field) for p in check(Registry.open(reg.root, catalog=pg_url)).problems]
    assert ("CatalogMismatch", "item_count") in found


def test_postgres_refuses_another_registrys_catalogue(pg_url: str, tmp_path: Path) -> None:
    first = Registry.open(str(tmp_path / "one"), create=True, catalog=pg_url)
    first.ingest([write_jpeg(tmp_path / "a.jpg", 1)], workers=1)
    with pytest.raises(CatalogUnavailable, match="already holds another registry's"):
        Registry.open(str(tmp_path / "two"), create=True, catalog=pg_url)
    two = Registry.open(str(tmp_path / "two"), create=True)  # nothing was logged there
    assert [e["action"] for e in two.custody()] == ["registry.created"]
    with pytest.raises(CatalogUnavailable, match="holds the catalogue of registry"):
        Registry.open(two.root, catalog=pg_url).rebuild()
    assert len(Registry.open(first.root, catalog=pg_url).catalog) == 1


def test_postgres_unreachable_is_a_clean_error(tmp_path: Path) -> None:
    reg = Registry.open(str(tmp_path / "reg"), create=True)
    url = "postgresql://someone:secret@127.0.0.1:9/nowhere?connect_timeout=2"
    with pytest.raises(CatalogUnavailable) as caught:
        Registry.open(reg.root, catalog=url).show("ab")
    assert "secret" not in caught.value.message and "someone:***@127.0.0.1" in caught.value.message
    with pytest.raises(CatalogUnavailable, match="not a catalogue URL"):
        Registry.open(reg.root, catalog="mysql://x/y")


def test_backends_agree_on_the_same_log(pg_url: str, tmp_path: Path) -> None:
    """The registry's own catalogue and a PostgreSQL one rebuilt from its log give the
    same answers, to the byte of ``show --json``."""
    media = tmp_path / "media"
    for i in range(4):
        write_jpeg(media / f"{i}.jpg", i + 1, size=(160, 120), offset="+02:00")
    tiny = Registry.open(str(tmp_path / "reg"), create=True)
    tiny.ingest([str(media)], Submission(actor="alice", case="K", source_url="https://t.me/x/1"))
    pg = Registry.open(tiny.root, catalog=pg_url)
    assert pg.rebuild() == 4
    tiny = Registry.open(tiny.root)
    tiny.rebuild()  # both have folded the same log, catalog.rebuilt included
    for order in ("stored", "sha256"):
        assert [json.dumps(d) for d in pg.list_items("K", order)] == [
            json.dumps(d) for d in tiny.list_items("K", order)
        ]
    assert json.dumps(pg.dupes()) == json.dumps(tiny.dupes())
    assert check(pg).ok and check(tiny).ok


# --- property: any entries, flushed anywhere ----------------------------------------------

_STEP = st.tuples(
    st.sampled_from(["stored", "sighting", "note", "flush"]),
    st.integers(0, 7),  # which item
    st.sampled_from(["A", "B", "C", None]),  # case
    st.text(max_size=8),  # note text: any characters
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(_STEP, max_size=40))
def test_postgres_folds_as_tinydb_does(pg_url: str, steps) -> None:
    """Any sequence of entries, flushed at any points, gives PostgreSQL the catalogue
    TinyDB (in memory) gets from the same entries."""
    from registry.store import Catalog, pgcatalog

    store = pgcatalog.PgStore(pg_url, lambda: None)
    store.rebuild([])  # empty, as each example starts
    pg, tiny = store.open(), Catalog(None)
    for seq, (kind, i, case, text) in enumerate(steps, start=1):
        if kind == "flush":
            pg.flush()
            pg = store.open()
            continue
        sha = _sha(i)
        action, details = {
            "stored": ("item.stored", {"size": i, "media_type": "image"}),
            "sighting": ("sighting.added", {"case": case}),
            "note": ("note.added", {"text": text}),
        }[kind]
        entry = _entry(seq, action, sha, details)
        for cat in (pg, tiny):
            cat.apply(entry, entry_hash=f"{seq:064d}", end_offset=seq)
    for cat in (pg, store.open()) if not pg.pending else (pg,):
        assert len(cat) == len(tiny) and cat.shas() == tiny.shas()
        for case in ("A", "B", "C"):
            assert cat.shas(case) == tiny.shas(case)
            assert list(cat.iter_items(case)) == list(tiny.iter_items(case))
        assert list(cat.iter_items(order="sha256")) == list(tiny.iter_items(order="sha256"))
        assert cat.log_seq == tiny.log_seq
    store.close()


# --- the views beside the items: accounts, roles, tokens ----------------------------------


def _team(reg: Registry) -> dict[str, Any]:
    from registry.accounts import add_user, create_token, grant, revoke, revoke_token

    add_user(reg, "alice", None, actor="ops")
    add_user(reg, "bob", None, actor="ops")
    grant(reg, "alice", "C1", "editor", actor="ops")
    grant(reg, "bob", "C2", "viewer", actor="ops")
    kept = create_token(reg, "alice", actor="ops", read_only=True)
    gone = create_token(reg, "bob", actor="ops")
    revoke_token(reg, gone["id"], actor="ops")
    revoke(reg, "bob", "C2", actor="ops")  # bob holds no role now
    return {"kept": kept, "gone": gone}


def _answers(reg: Registry, tokens: dict[str, Any]) -> dict[str, Any]:
    from registry.accounts import accounts_view, authenticate, list_users

    view = accounts_view(reg.catalog)
    return {
        "users": list_users(reg),
        "members": {c: view.members(c) for c in ("C1", "C2")},
        "alice": authenticate(view, tokens["kept"]["token"]),
        "bob": authenticate(view, tokens["gone"]["token"]),
        "token": view.token(tokens["gone"]["id"]),
    }


def test_accounts_view_on_every_backend(backend: Backend, registry_of: Registry) -> None:
    reg = registry_of
    tokens = _team(reg)
    answers = _answers(Registry.open(reg.root, catalog=reg.catalog_url), tokens)
    assert answers["alice"].roles == {"C1": "viewer"}  # capped by its read-only token
    assert answers["bob"] is None and answers["token"]["revoked_at"]
    assert answers["members"] == {"C1": {"alice": "editor"}, "C2": {}}
    assert [u["name"] for u in answers["users"]] == ["alice", "bob"]
    reg = Registry.open(reg.root, catalog=reg.catalog_url)
    assert check(reg).ok
    reg.rebuild(actor="ops")
    assert _answers(Registry.open(reg.root, catalog=reg.catalog_url), tokens) == answers
    assert check(reg).ok


def test_postgres_accounts_are_rows(pg_url: str, tmp_path: Path) -> None:
    """Each account, role holder and token is a row of ``evidence_views``; a token
    un-revoked there behind the log's back works (the server trusts its catalogue) until
    verify names it and rebuild restores what the log says."""
    reg = Registry.open(str(tmp_path / "reg"), create=True, catalog=pg_url)
    tokens = _team(reg)
    backend = Backend("postgresql", tmp_path / "catalog", pg_url)
    rows = backend._sql("SELECT part, whole, key FROM evidence_views ORDER BY 1, 3")
    # (after the first account, 'roles' and 'tokens' were empty parts: one whole row each,
    # replaced by a row per entry once they had some)
    assert rows == [
        ("accounts", False, "alice"),
        ("accounts", False, "bob"),
        ("roles", False, "alice"),
        *sorted(("tokens", False, tokens[k]["id"]) for k in ("kept", "gone")),
    ]
    backend._sql(
        "UPDATE evidence_views SET body = %s, doc = %s::jsonb WHERE part = 'tokens' AND key = %s",
        *[json.dumps({**_answers(reg, tokens)["token"], "revoked_at": None})] * 2,
        tokens["gone"]["id"],
    )
    reg = Registry.open(reg.root, catalog=pg_url)
    assert _answers(reg, tokens)["bob"] is not None
    found = [(p.code, p.field) for p in check(reg).problems]
    assert found == [("CatalogMismatch", "accounts")]
    reg.rebuild(actor="ops")
    assert _answers(reg, tokens)["bob"] is None and check(reg).ok


def test_postgres_schema_per_registry(pg_url: str, tmp_path: Path) -> None:
    """Two registries in one database, each in its own schema (``search_path``)."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA one")
        conn.execute("CREATE SCHEMA two")
    for i, name in enumerate(("one", "two"), start=1):
        url = f"{pg_url}?options=-csearch_path%3D{name}"
        reg = Registry.open(str(tmp_path / name), create=True, catalog=url)
        reg.ingest([write_jpeg(tmp_path / f"{name}.jpg", i)], workers=1)
        assert len(reg.catalog) == 1 and check(reg).ok
    with psycopg.connect(pg_url) as conn:
        found = conn.execute(
            "SELECT table_schema, count(*) FROM information_schema.tables "
            "WHERE table_name LIKE 'evidence%' GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert found == [("one", 3), ("two", 3)]
