"""A registry shared by two teams, for the team server's tests and benchmark.

Two cases with distinct items, URLs, notes and people, and what makes isolation hard:

* ``SHARED``: the same photo sighted in both cases (each team sees its own sightings);
* ``CROSS``: a photo in ALPHA and a cropped, resized copy of it in BRAVO only (a
  near-duplicate pair across the cases: neither side may learn of the other);
* ``SHARED_VARIANT``: a copy of the shared photo in BRAVO only (a pair that ALPHA, who
  sees the shared item, may not see);
* near-duplicates inside each case, notes in each case, a decision in BRAVO.

Accounts: ``alpha_<role>`` with each role in ALPHA, ``bravo_owner`` in BRAVO, ``nobody``
with no role (and ``newcomer``, whom tests give roles); one token each (``World.tokens``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from registry import Registry, Submission, add_note, init_registry
from registry.accounts import ROLES, add_user, create_token, decide, grant
from support.media import scene
from support.transforms import crop, resize

ALPHA, BRAVO = "CASE-ALPHA-7731", "CASE-BRAVO-9902"
ALPHA_COLLECTOR, BRAVO_COLLECTOR = "alpha_collector", "bravo_collector"
ALPHA_URL, BRAVO_URL = "https://alpha-source.example/post", "https://bravo-source.example/post"
ALPHA_NOTE, BRAVO_NOTE = "alpha-note-geolocated-kherson", "bravo-note-witness-mykola"
OPERATOR = "operator"


def variant(seed: int, path: Path, strength: float = 0.12) -> Path:
    """A re-posted copy of ``scene(seed)``: cropped, resized, recompressed."""
    rng = np.random.default_rng(seed)
    img = resize(0.8)(crop(strength)(scene(seed), rng), rng)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "JPEG", quality=85)
    return path


def original(seed: int, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    scene(seed).save(path, "JPEG", quality=92)
    return path


@dataclass
class World:
    root: Path
    reg: Registry
    items: dict[str, str] = field(default_factory=dict)  # label -> sha256
    tokens: dict[str, str] = field(default_factory=dict)  # account -> token
    token_ids: dict[str, str] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)  # label -> a file of the item

    def alpha_only(self) -> list[str]:
        return [self.items[k] for k in ("alpha1", "alpha2", "alpha_pair", "cross_alpha")]

    def bravo_only(self) -> list[str]:
        return [
            self.items[k]
            for k in ("bravo1", "bravo2", "bravo_pair", "cross_bravo", "shared_variant")
        ]

    def bravo_identifiers(self) -> list[str]:
        """What nothing shown to a user outside BRAVO may contain."""
        shas = self.bravo_only()
        names = [BRAVO, BRAVO_URL.split("/")[2], BRAVO_COLLECTOR, BRAVO_NOTE, "bravo_owner"]
        return [*shas, *(s[:16] for s in shas), *names]


def build(tmp: Path) -> World:
    """The two-case registry (see the module docstring) in ``tmp/reg``."""
    media = tmp / "media"
    reg = init_registry(str(tmp / "reg"), actor=OPERATOR)
    world = World(tmp / "reg", reg)
    files = {
        "alpha1": original(101, media / "a" / "alpha1.jpg"),
        "alpha2": original(102, media / "a" / "alpha2.jpg"),
        "alpha_pair": variant(101, media / "a" / "alpha1-repost.jpg"),
        "cross_alpha": original(140, media / "a" / "cross.jpg"),
        "shared": original(130, media / "a" / "shared.jpg"),
        "bravo1": original(201, media / "b" / "bravo1.jpg"),
        "bravo2": original(202, media / "b" / "bravo2.jpg"),
        "bravo_pair": variant(201, media / "b" / "bravo1-repost.jpg"),
        "cross_bravo": variant(140, media / "b" / "cross-repost.jpg"),
        "shared_variant": variant(130, media / "b" / "shared-repost.jpg", 0.2),
    }
    world.files = files
    alpha = Submission(
        actor=ALPHA_COLLECTOR, case=ALPHA, source_url=f"{ALPHA_URL}/1", note=ALPHA_NOTE
    )
    bravo = Submission(
        actor=BRAVO_COLLECTOR, case=BRAVO, source_url=f"{BRAVO_URL}/1", note=BRAVO_NOTE
    )
    a_keys = ("alpha1", "alpha2", "alpha_pair", "cross_alpha", "shared")
    for result in reg.ingest([files[k] for k in a_keys], alpha):
        assert result.status == "new", result.to_dict()
    b_keys = ("bravo1", "bravo2", "bravo_pair", "cross_bravo", "shared", "shared_variant")
    for result in reg.ingest([files[k] for k in b_keys], bravo):
        assert result.status in ("new", "known"), result.to_dict()
    import hashlib

    world.items = {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in files.items()}
    items = world.items
    for a, b in (
        ("alpha1", "alpha_pair"),
        ("bravo1", "bravo_pair"),
        ("cross_alpha", "cross_bravo"),
        ("shared", "shared_variant"),
    ):
        pairs = {p["sha256"] for p in reg.show(items[a])["near_duplicates"]}
        assert items[b] in pairs, f"{a} ~ {b} was not found: the world is not what it claims"
    add_note(reg, items["shared"], ALPHA_NOTE, actor=ALPHA_COLLECTOR, case=ALPHA)
    add_note(reg, items["shared"], BRAVO_NOTE, actor=BRAVO_COLLECTOR, case=BRAVO)
    add_note(reg, items["cross_bravo"], BRAVO_NOTE, actor=BRAVO_COLLECTOR, case=BRAVO)
    accounts = {f"alpha_{r}": (ALPHA, r) for r in ROLES}
    accounts["bravo_owner"] = (BRAVO, "owner")
    accounts["nobody"] = (None, None)
    accounts["newcomer"] = (None, None)  # for tests that grant a role
    for name, (case, role) in accounts.items():
        add_user(reg, name, None, actor=OPERATOR)
        if case and role:
            grant(reg, name, case, role, actor=OPERATOR)
        made = create_token(reg, name, actor=OPERATOR)
        world.tokens[name], world.token_ids[name] = made["token"], made["id"]
    decide(
        reg,
        items["bravo1"],
        items["bravo_pair"],
        "rejected",
        case=BRAVO,
        actor="bravo_owner",
        reason=f"{BRAVO_NOTE}: different scene",
    )
    return world
