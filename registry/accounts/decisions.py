"""A person's decision on a near-duplicate suggestion: ``neardup.confirmed`` or
``neardup.rejected``, made in one case (the review UI of issue 16 logs the same).

The pair must exist (a ``neardup.found`` pair of the two items) and both items must be
sighted in the case. ``dupes`` never links a cluster through a rejected pair, ``show``
reports each pair's ``decision``, and a pair found again keeps it
(``registry.custody.views``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from registry.custody import neardup_decided
from registry.errors import ItemNotFound

if TYPE_CHECKING:
    from registry.session import Session

#: Reasons are a sentence or two, not documents.
MAX_REASON_CHARS = 2000


def decide(
    reg: Session,
    a: str,
    b: str,
    decision: str,
    *,
    case: str,
    actor: str,
    reason: str | None = None,
) -> dict[str, Any]:
    """Record ``decision`` (``"confirmed"``/``"rejected"``) on the pair ``a``, ``b``.

    Raises:
        ValueError: Unknown decision, or a reason over ``MAX_REASON_CHARS``.
        ItemNotFound: No such pair, or an item is not sighted in ``case``.
    """
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        raise ValueError(f"reason is {len(reason)} characters, the limit is {MAX_REASON_CHARS}")
    event = neardup_decided(actor, a, b, decision, case, reason)  # checks the decision
    with reg.writing(actor) as catalog:
        doc = catalog.get(a)
        if doc is None or b not in catalog:
            raise ItemNotFound(f"{a} or {b}")
        if case not in catalog.cases_of(a) or case not in catalog.cases_of(b):
            raise ItemNotFound(f"the pair is not in case {case}")
        if not any(p.get("sha256") == b for p in doc.get("near_duplicates") or []):
            raise ItemNotFound(f"no near-duplicate pair {a[:12]} ~ {b[:12]}")
        [entry] = reg.record([event])
        reg.save()
    return entry
