"""Merkle trees over the custody log, in the Certificate Transparency layout.

The tree, its inclusion proofs and consistency proofs are those of RFC 6962 §2.1 (kept
unchanged in RFC 9162 §2.1), with SHA-256:

* leaf hash ``SHA-256(0x00 || entry)``, where ``entry`` is one log line's bytes without
  its newline; interior node ``SHA-256(0x01 || left || right)``;
* ``MTH(D[n])`` splits at ``k``, the largest power of two below ``n``;
* an inclusion proof is ``PATH(m, D[n])``, a consistency proof ``PROOF(m, D[n])``;
* verification follows the iterative algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2,
  which is what an outside verifier implements too.

Because the layout is the standard one, any CT library can check our proofs. Hashes are
``bytes`` here; callers print them as hex.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """A tree over a list of leaf hashes, with proofs for any prefix of it.

    Subtree hashes are memoised by range, so many proofs over one tree share work; a
    proof costs O(n) the first time and O(log n) after.
    """

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = list(leaves)
        self._memo: dict[tuple[int, int], bytes] = {}

    def __len__(self) -> int:
        return len(self.leaves)

    def root(self, size: int | None = None) -> bytes:
        """``MTH`` of the first ``size`` leaves (all of them by default)."""
        size = len(self.leaves) if size is None else size
        self._check_size(size)
        return self._mth(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """``PATH(index, D[size])``: the audit path of leaf ``index`` in the tree of
        the first ``size`` leaves.

        Raises:
            ValueError: ``index`` is not below ``size``, or ``size`` is past the end.
        """
        size = len(self.leaves) if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of {size}")
        return self._path(index, 0, size)

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """``PROOF(old, D[new])``: shows the tree of ``old`` leaves is a prefix of the
        tree of ``new`` leaves (empty when ``old`` is 0 or equals ``new``).

        Raises:
            ValueError: ``old`` is negative or greater than ``new``.
        """
        new = len(self.leaves) if new is None else new
        self._check_size(new)
        if not 0 <= old <= new:
            raise ValueError(f"cannot prove a tree of {old} is a prefix of one of {new}")
        if old == 0 or old == new:
            return []
        return self._subproof(old, 0, new, True)

    # --- the recursive definitions of RFC 6962 §2.1 -----------------------------------

    def _mth(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 1:
            return self.leaves[start]
        key = (start, end)
        cached = self._memo.get(key)
        if cached is None:
            k = _split(n)
            cached = node_hash(self._mth(start, start + k), self._mth(start + k, end))
            self._memo[key] = cached
        return cached

    def _path(self, m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*self._path(m, start, start + k), self._mth(start + k, end)]
        return [*self._path(m - k, start + k, end), self._mth(start, start + k)]

    def _subproof(self, m: int, start: int, end: int, whole: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if whole else [self._mth(start, end)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, start, start + k, whole), self._mth(start + k, end)]
        return [*self._subproof(m - k, start + k, end, False), self._mth(start, start + k)]

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= len(self.leaves):
            raise ValueError(f"tree has {len(self.leaves)} leaves, not {size}")


class RootBuilder:
    """Roots of every prefix of a growing list of leaves, in one pass and O(log n) memory.

    Keeps the roots of the perfect subtrees that make up the leaves so far (one per set
    bit of the count, largest first); the tree's root folds them right to left, which is
    exactly ``MTH`` because RFC 6962 splits at the largest power of two.
    """

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (subtree size, subtree root)

    def append(self, leaf: bytes) -> None:
        node, width = leaf, 1
        while self._stack and self._stack[-1][0] == width:
            _, left = self._stack.pop()
            node, width = node_hash(left, node), width * 2
        self._stack.append((width, node))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = node_hash(left, node)
        return node


def root_of(leaves: Iterable[bytes]) -> bytes:
    """``MTH`` of a list of leaf hashes."""
    builder = RootBuilder()
    for leaf in leaves:
        builder.append(leaf)
    return builder.root()


# --- verification: RFC 9162 §2.1.3.2 and §2.1.4.2 ------------------------------------


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that an inclusion proof leads to (compare it with a trusted root).

    Raises:
        ValueError: The proof has the wrong length for ``index`` and ``size``.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ValueError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ValueError("inclusion proof is too short")
    return r


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True when ``proof`` shows ``leaf`` is leaf ``index`` of the tree ``root`` of
    ``size`` leaves."""
    try:
        return root_from_inclusion_proof(leaf, index, size, proof) == root
    except ValueError:
        return False


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True when ``proof`` shows the tree ``old_root`` of ``old_size`` leaves is a
    prefix of the tree ``new_root`` of ``new_size`` leaves."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof  # the empty tree is a prefix of every tree
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is a node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root
