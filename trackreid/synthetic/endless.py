"""An endless crowd for soak tests: people come and go forever in one or several views, as arrays (boxes and
synthetic embeddings; no pixels, no detector).

Each view keeps about ``in_view`` people: a newcomer walks in at a random border, crosses the view in a straight line
for ``stay`` frames (a range) and leaves. Half of the newcomers are regulars, drawn from a fixed ``population`` (they
come back, to the same view or another one: what the identity memory and the global bank are for); the other half
are strangers never seen again (so the number of identities grows without end, as on a real site). An identity's
embedding is its unit code plus noise (``noise`` sets same-person cosine about ``1 - noise**2 / 2``). The generator
holds only the people in view and the regulars' codes: its own state is bounded.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trackreid.types import l2_normalise

__all__ = ["EndlessConfig", "EndlessCrowd"]


@dataclass
class EndlessConfig:
    """An endless crowd (see the module docstring)."""

    views: int = 1                 #: cameras, each with its own people in view
    width: int = 640               #: image width of every view, pixels
    height: int = 360              #: image height
    in_view: int = 6               #: people each view holds on average
    stay: tuple = (60, 300)        #: frames a person spends in view (range)
    population: int = 2_000        #: regulars, who come back; as many strangers again come once
    dim: int = 128                 #: embedding size
    noise: float = 0.25            #: embedding noise (norm)
    seed: int = 0                  #: seed of everything


class EndlessCrowd:
    """``step()`` -> one ``(detections (N, 6) float32, embeddings (N, dim) float32, ids (N,))`` per view, forever;
    ``ids`` are the true identities (regulars 1..population, strangers above)."""

    def __init__(self, config: EndlessConfig | None = None):
        c = self.config = config or EndlessConfig()
        self.rng = np.random.default_rng(c.seed)
        self.codes = l2_normalise(self.rng.normal(size=(c.population, c.dim))).astype(np.float32)
        self.next_stranger = c.population + 1
        self._stranger_codes: dict[int, np.ndarray] = {}
        # per view: identity, position (x, y), velocity, size (w, h), frames left
        self._views = [self._empty() for _ in range(c.views)]
        self.frame = 0

    @staticmethod
    def _empty() -> dict:
        return {"id": np.empty(0, np.int64), "pos": np.empty((0, 2)), "vel": np.empty((0, 2)),
                "size": np.empty((0, 2)), "left": np.empty(0, np.int64)}

    def _arrivals(self, v: dict, k: int) -> None:
        c, rng = self.config, self.rng
        regular = rng.random(k) < 0.5
        ids = np.where(regular, rng.integers(1, c.population + 1, k), 0)
        for j in np.flatnonzero(~regular):
            ids[j] = self.next_stranger
            self.next_stranger += 1
        stay = rng.integers(c.stay[0], c.stay[1] + 1, k)
        h = rng.uniform(0.2, 0.45, k) * c.height
        w = 0.4 * h
        side = rng.integers(0, 2, k)  # 0: enter left, 1: right
        start = np.stack([np.where(side == 0, w / 2, c.width - w / 2), rng.uniform(h / 2, c.height - h / 2)], 1)
        end_x = np.where(side == 0, c.width - w / 2, w / 2)
        vel = np.stack([(end_x - start[:, 0]) / stay, rng.normal(0, 0.3, k)], 1)
        v["id"] = np.concatenate([v["id"], ids])
        v["pos"] = np.concatenate([v["pos"], start])
        v["vel"] = np.concatenate([v["vel"], vel])
        v["size"] = np.concatenate([v["size"], np.stack([w, h], 1)])
        v["left"] = np.concatenate([v["left"], stay])

    def _code(self, ids: np.ndarray) -> np.ndarray:
        c = self.config
        out = np.empty((len(ids), c.dim), np.float32)
        regular = ids <= c.population
        out[regular] = self.codes[ids[regular] - 1]
        for j in np.flatnonzero(~regular):
            i = int(ids[j])
            if i not in self._stranger_codes:
                self._stranger_codes[i] = l2_normalise(self.rng.normal(size=(1, c.dim)))[0].astype(np.float32)
            out[j] = self._stranger_codes[i]
        return out

    def step(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        c, rng = self.config, self.rng
        self.frame += 1
        mean_stay = (c.stay[0] + c.stay[1]) / 2
        out = []
        for v in self._views:
            gone = v["left"] <= 0
            if gone.any():
                for i in v["id"][gone & (v["id"] > c.population)].tolist():
                    self._stranger_codes.pop(i, None)  # a stranger never comes back
                for k in v:
                    v[k] = v[k][~gone]
            arrivals = rng.poisson(c.in_view / mean_stay)
            if arrivals:
                self._arrivals(v, arrivals)
            v["pos"] += v["vel"]
            v["left"] -= 1
            n = len(v["id"])
            half = v["size"] / 2
            dets = np.empty((n, 6), np.float32)
            dets[:, :2] = v["pos"] - half
            dets[:, 2:4] = v["pos"] + half
            dets[:, 4] = rng.uniform(0.6, 0.95, n)
            dets[:, 5] = 0.0
            noise = rng.normal(size=(n, c.dim)).astype(np.float32) * (c.noise / np.sqrt(c.dim))
            emb = l2_normalise(self._code(v["id"]) + noise).astype(np.float32)
            out.append((dets, emb, v["id"].copy()))
        return out
