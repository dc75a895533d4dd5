"""The Merkle tree: RFC 6962 layout, proofs, and their verification."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.custody.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    RootBuilder,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_of,
    verify_consistency,
    verify_inclusion,
)


def H(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def N(left: bytes, right: bytes) -> bytes:
    return H(b"\x01" + left + right)


def L(data: bytes) -> bytes:
    return H(b"\x00" + data)


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"entry {i}".encode()) for i in range(n)]


def mth(items: list[bytes]) -> bytes:
    """MTH written straight from RFC 6962 §2.1, to test the implementation against."""
    if not items:
        return EMPTY_ROOT
    if len(items) == 1:
        return items[0]
    k = 1
    while k * 2 < len(items):
        k *= 2
    return N(mth(items[:k]), mth(items[k:]))


# --- hashes derived by hand ----------------------------------------------------------


def test_leaf_and_node_hash_prefixes():
    assert leaf_hash(b"abc") == H(b"\x00abc")
    assert node_hash(b"a" * 32, b"b" * 32) == H(b"\x01" + b"a" * 32 + b"b" * 32)


def test_small_trees_by_hand():
    d = [f"d{i}".encode() for i in range(7)]
    a, b, c, dd, e, f, g6 = (L(x) for x in d)
    tree = MerkleTree([a, b, c, dd, e, f, g6])
    assert tree.root(0) == hashlib.sha256(b"").digest()
    assert tree.root(1) == a
    assert tree.root(2) == N(a, b)
    assert tree.root(3) == N(N(a, b), c)
    assert tree.root(4) == N(N(a, b), N(c, dd))
    assert tree.root(5) == N(N(N(a, b), N(c, dd)), e)
    assert tree.root(6) == N(N(N(a, b), N(c, dd)), N(e, f))
    assert tree.root(7) == N(N(N(a, b), N(c, dd)), N(N(e, f), g6))


def test_rfc6962_examples_for_seven_leaves():
    """The audit paths and consistency proofs of RFC 6962 §2.1.3, for its 7-leaf tree."""
    a, b, c, d, e, f, j = leaves(7)  # j is leaf d6 itself
    g, h, i = N(a, b), N(c, d), N(e, f)
    k, l = N(g, h), N(i, j)  # noqa: E741 - the names of RFC 6962's figure
    tree = MerkleTree([a, b, c, d, e, f, j])
    assert tree.root() == N(k, l)
    assert tree.inclusion_proof(0) == [b, h, l]
    assert tree.inclusion_proof(3) == [c, g, l]
    assert tree.inclusion_proof(4) == [f, j, k]
    assert tree.inclusion_proof(6) == [i, k]
    assert tree.consistency_proof(3) == [c, d, g, l]
    assert tree.consistency_proof(4) == [l]
    assert tree.consistency_proof(6) == [i, j, k]


# Certificate Transparency's reference leaves and tree heads (the vectors used by the CT
# implementations' test suites); matching them means any CT tool can check our proofs.
CT_LEAVES = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_certificate_transparency_reference_roots():
    tree = MerkleTree([leaf_hash(bytes.fromhex(x)) for x in CT_LEAVES])
    assert tree.root(0).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    for size, want in enumerate(CT_ROOTS, start=1):
        assert tree.root(size).hex() == want


def test_certificate_transparency_reference_inclusion_proofs():
    tree = MerkleTree([leaf_hash(bytes.fromhex(x)) for x in CT_LEAVES])
    assert [p.hex() for p in tree.inclusion_proof(0, 8)] == [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]
    assert [p.hex() for p in tree.inclusion_proof(5, 8)] == [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]


# --- edge cases ----------------------------------------------------------------------


def test_single_leaf_tree():
    (a,) = leaves(1)
    tree = MerkleTree([a])
    assert tree.inclusion_proof(0) == []
    assert verify_inclusion(a, 0, 1, [], a)
    assert verify_consistency(1, 1, a, a, [])
    assert verify_consistency(0, 1, EMPTY_ROOT, a, [])


def test_bad_arguments():
    tree = MerkleTree(leaves(4))
    with pytest.raises(ValueError):
        tree.inclusion_proof(4)
    with pytest.raises(ValueError):
        tree.root(5)
    with pytest.raises(ValueError):
        tree.consistency_proof(3, 2)
    with pytest.raises(ValueError):
        root_from_inclusion_proof(leaves(1)[0], 4, 4, [])
    assert not verify_consistency(3, 2, b"", b"", [])
    assert not verify_consistency(2, 4, tree.root(2), tree.root(4), [])


def test_proof_of_wrong_length_fails():
    tree = MerkleTree(leaves(5))
    proof = tree.inclusion_proof(2)
    root = tree.root()
    leaf = tree.leaves[2]
    assert verify_inclusion(leaf, 2, 5, proof, root)
    assert not verify_inclusion(leaf, 2, 5, proof[:-1], root)
    assert not verify_inclusion(leaf, 2, 5, [*proof, root], root)


# --- properties over random sizes ------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300), st.data())
def test_inclusion_proofs_verify_and_tampering_fails(n, data):
    items = leaves(n)
    tree = MerkleTree(items)
    root = tree.root()
    assert root == mth(items) == root_of(items)
    index = data.draw(st.integers(0, n - 1))
    proof = tree.inclusion_proof(index)
    assert verify_inclusion(items[index], index, n, proof, root)
    assert not verify_inclusion(leaf_hash(b"forged"), index, n, proof, root)
    if n > 1:
        other = data.draw(st.integers(0, n - 1).filter(lambda i: i != index))
        assert not verify_inclusion(items[index], other, n, proof, root)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        bent = list(proof)
        bent[at] = H(bent[at])
        assert not verify_inclusion(items[index], index, n, bent, root)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300), st.data())
def test_consistency_proofs_verify_and_tampering_fails(n, data):
    items = leaves(n)
    tree = MerkleTree(items)
    m = data.draw(st.integers(1, n))
    proof = tree.consistency_proof(m, n)
    old, new = tree.root(m), tree.root(n)
    assert verify_consistency(m, n, old, new, proof)
    assert not verify_consistency(m, n, H(old), new, proof)
    if m < n:
        assert not verify_consistency(m, n, old, H(new), proof)
        # A log that rewrote its first m entries cannot prove consistency with the old root.
        rewritten = MerkleTree([leaf_hash(b"rewritten"), *items[1:]])
        assert not verify_consistency(m, n, old, rewritten.root(n), rewritten.consistency_proof(m))
        at = data.draw(st.integers(0, len(proof) - 1))
        bent = list(proof)
        bent[at] = H(bent[at])
        assert not verify_consistency(m, n, old, new, bent)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 200))
def test_root_builder_gives_every_prefix_root(n):
    items = leaves(n)
    builder = RootBuilder()
    assert builder.root() == EMPTY_ROOT
    for i, item in enumerate(items, start=1):
        builder.append(item)
        assert builder.root() == mth(items[:i])
    assert builder.size == n
