"""Identity-memory search speed: 10,000 remembered identities x K exemplars x 512-d, a few queries per frame.

Each identity is a random unit code; its K exemplars are views of it (code plus noise), and each query is a fresh
view of a remembered identity (so the search has a right answer). For 1, 3 and 8 queries a frame (all of a frame's
queries go to one ``search`` call), reports the median and 95th-percentile time of ``IdentityMemory.search`` (what
the tracker calls when a track would get a fresh ID) beside that of an exhaustive search (``EXACT_IDS`` raised
above the store size), the median of a query (search plus the matching rule, ``distinct_matches``), how often the
shortlist used above ``EXACT_IDS`` identities gives the same decision as the exhaustive search, and how often the
query returns the right identity; then the time of ``put`` (one identity in, the least recently seen out).

    python benchmarks/memory_speed.py
    python benchmarks/memory_speed.py --identities 10000 --exemplars 6 --dim 512 --queries 1 3 8
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from trackreid.tracking import memory as memory_mod
from trackreid.tracking.memory import IdentityMemory, distinct_matches


def views(codes: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    v = codes + rng.normal(0.0, noise / np.sqrt(codes.shape[-1]), codes.shape)
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def query(mem: IdentityMemory, q: np.ndarray, cls: np.ndarray, now: int) -> np.ndarray:
    """Remembered ID of each query (-1: none matches distinctly)."""
    g = mem.search(q, cls, now)
    out = np.full(len(q), -1, np.int64)
    qi, gj = distinct_matches(g.dist, thresh=0.5, margin=0.05)
    out[qi] = g.ids[gj]
    return out


class exhaustive:
    """Within the block, ``search`` scores every identity (``EXACT_IDS`` above the store size)."""

    def __init__(self, n: int):
        self.n = n

    def __enter__(self):
        self.saved, memory_mod.EXACT_IDS = memory_mod.EXACT_IDS, self.n + 1

    def __exit__(self, *exc):
        memory_mod.EXACT_IDS = self.saved


def timed(fn, repeats: int) -> tuple[float, float]:
    fn()
    t = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    t = np.array(t) * 1e3
    return float(np.median(t)), float(np.percentile(t, 95))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--identities", type=int, default=10_000)
    p.add_argument("--exemplars", type=int, default=6)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--queries", type=int, nargs="+", default=[1, 3, 8])
    p.add_argument("--noise", type=float, default=1.0, help="view noise (1.0: same-identity cosine ~0.5)")
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument("--draws", type=int, default=100, help="frames of queries drawn for the decision figures")
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    n, k, d = args.identities, args.exemplars, args.dim
    codes = rng.normal(size=(n, d)).astype(np.float32)
    codes /= np.linalg.norm(codes, axis=1, keepdims=True)
    mem = IdentityMemory(size=n, exemplars=k)
    t0 = time.perf_counter()
    for start in range(0, n, 1000):
        c = codes[start:start + 1000]
        mem.put(np.arange(start + 1, start + len(c) + 1), views(np.repeat(c[:, None], k, axis=1), rng, args.noise),
                np.zeros(len(c)), np.zeros((len(c), 4)), np.arange(start, start + len(c)))
    print(f"identity memory: {n} identities x {k} exemplars x {d}-d ({mem.nbytes / 2**20:.0f} MiB), filled in "
          f"{time.perf_counter() - t0:.1f} s; exhaustive up to {memory_mod.EXACT_IDS} identities, "
          f"else a {memory_mod.SKETCH_DIM}-d shortlist of {memory_mod.SHORTLIST} per query")
    print(f"{'queries':>7} | {'search median':>13} | {'search p95':>10} | {'exhaustive median':>17} | "
          f"{'exhaustive p95':>14} | {'query median':>12} | {'same decision':>13} | {'right identity':>14}")
    for q in args.queries:
        who = rng.integers(0, n, size=q)
        qv = views(codes[who], rng, args.noise)
        cls = np.zeros(q)
        med, p95 = timed(lambda qv=qv, cls=cls: mem.search(qv, cls, now=n), args.repeats)
        with exhaustive(n):
            emed, ep95 = timed(lambda qv=qv, cls=cls: mem.search(qv, cls, now=n), max(10, args.repeats // 10))
        qmed, _ = timed(lambda qv=qv, cls=cls: query(mem, qv, cls, n), args.repeats)
        # the matching decision with the shortlist vs an exhaustive search, over ``draws`` frames
        agree = matched = 0
        for _ in range(args.draws):
            who = rng.integers(0, n, size=q)
            qv2 = views(codes[who], rng, args.noise)
            got = query(mem, qv2, cls, n)
            with exhaustive(n):
                exact = query(mem, qv2, cls, n)
            agree += int((got == exact).sum())
            matched += int((got == who + 1).sum())
        total = q * args.draws
        print(f"{q:7d} | {med:10.3f} ms | {p95:7.3f} ms | {emed:14.3f} ms | {ep95:11.3f} ms | {qmed:9.3f} ms | "
              f"{100 * agree / total:12.1f}% | {100 * matched / total:13.1f}%")
    ids = np.arange(n + 1, n + 101)
    one = views(np.repeat(codes[:100, None], k, axis=1), rng, args.noise)
    i = iter(range(100))

    def put_one():
        j = next(i, 0)
        mem.put(ids[j:j + 1], one[j:j + 1], [0], np.zeros((1, 4)), [n + j])

    med, p95 = timed(put_one, 99)
    print(f"put (one identity in, the least recently seen out): median {med:.3f} ms, p95 {p95:.3f} ms")


if __name__ == "__main__":
    main()
