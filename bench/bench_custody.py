"""Benchmark of the custody machinery on a synthetic log: appending signed entries,
signing a checkpoint, making and checking proofs, the verify pass over the log, and the
standalone verifier's pure-Python Ed25519.

    PYTHONPATH=. python bench/bench_custody.py --entries 100000

Prints a table; numbers are wall-clock seconds on this machine (single process).
"""

from __future__ import annotations

import argparse
import base64
import os
import tempfile
import time

from registry.core import init_registry
from registry.custody.chain import analyse
from registry.custody.checkpoint import log_leaves, make_checkpoint
from registry.custody.keys import raw_public
from registry.custody.log import signed_message
from registry.custody.merkle import MerkleTree, verify_consistency, verify_inclusion
from registry.export.verifier import ed25519_verify


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=20_000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        reg = init_registry(os.path.join(tmp, "reg"), actor="bench")
        t = time.perf_counter()
        batch = 1000
        for start in range(0, args.entries, batch):
            with reg.writing("bench"):
                reg.record(
                    [
                        {
                            "actor": "bench",
                            "action": "sighting.added",
                            "sha256": f"{i:064x}",
                            "details": {"source_url": f"https://t.me/c/{i}", "case": "B"},
                        }
                        for i in range(start, min(start + batch, args.entries))
                    ]
                )
                reg.save()
        rows.append(("append + sign entries (batches of 1000)", time.perf_counter() - t))
        size = reg.log.read_head().seq
        rows.append(("log size (entries / MB)", f"{size} / {reg.log.size() / 1e6:.1f}"))

        t = time.perf_counter()
        cp = make_checkpoint(reg, actor="bench")
        rows.append(("evidence checkpoint (read log, Merkle root, sign)", time.perf_counter() - t))

        t = time.perf_counter()
        tree = MerkleTree(log_leaves(reg, cp.size))
        rows.append(("read leaves for proofs", time.perf_counter() - t))
        t = time.perf_counter()
        proof = tree.inclusion_proof(cp.size // 3, cp.size)
        rows.append(("first inclusion proof (builds subtree hashes)", time.perf_counter() - t))
        t = time.perf_counter()
        for i in range(0, cp.size, max(1, cp.size // 1000)):
            tree.inclusion_proof(i, cp.size)
        rows.append(("1000 more inclusion proofs", time.perf_counter() - t))
        t = time.perf_counter()
        ok = verify_inclusion(
            tree.leaves[cp.size // 3], cp.size // 3, cp.size, proof, bytes.fromhex(cp.root)
        )
        rows.append(
            (f"verify one inclusion proof ({len(proof)} hashes, ok={ok})", time.perf_counter() - t)
        )
        old = cp.size // 2
        t = time.perf_counter()
        cproof = tree.consistency_proof(old, cp.size)
        ok = verify_consistency(old, cp.size, tree.root(old), tree.root(), cproof)
        rows.append(
            (f"consistency proof + check ({len(cproof)} hashes, ok={ok})", time.perf_counter() - t)
        )

        t = time.perf_counter()
        analysis = analyse(reg.log, reg.keys, root_sizes=[cp.size])
        rows.append(
            (
                f"verify's log pass (chain, signatures, diagnosis; "
                f"{len(analysis.problems)} problems)",
                time.perf_counter() - t,
            )
        )

        entry = next(reg.log.entries())
        public = raw_public(reg.keys.public_keys()[entry["key"]])
        message, sig = signed_message(entry), base64.b64decode(entry["sig"])
        n = 50
        t = time.perf_counter()
        for _ in range(n):
            assert ed25519_verify(public, message, sig)
        rows.append(
            ("standalone verifier: one Ed25519 check (pure Python)", (time.perf_counter() - t) / n)
        )
    width = max(len(r[0]) for r in rows)
    print(f"{'step':<{width}}  seconds")
    for name, value in rows:
        shown = f"{value:.4f}" if isinstance(value, float) else value
        print(f"{name:<{width}}  {shown}")


if __name__ == "__main__":
    main()
