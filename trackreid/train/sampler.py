"""Batch samplers whose order is a pure function of (seed, epoch), so a run can resume mid-epoch exactly.

Each yields lists of ``(index, sample_seed)`` pairs; the dataset seeds that image's augmentation with
``sample_seed``. ``state_dict()`` holds the epoch and the number of batches already consumed.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterator, Sequence

import numpy as np


def _seed_for(seed: int, epoch: int, salt: int = 0) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(epoch), salt])


class _EpochBatchSampler:
    def __init__(self, seed: int = 0, rank: int = 0, world_size: int = 1) -> None:
        self.seed, self.rank, self.world_size = int(seed), int(rank), int(world_size)
        self.epoch = 0
        self.start_batch = 0  # batches of this epoch already consumed (on this rank)

    def _epoch_batches(self, rng: np.random.Generator) -> list[list[int]]:
        raise NotImplementedError

    def batches(self, epoch: int) -> list[list[tuple[int, int]]]:
        """All batches of ``epoch`` for this rank, each item (index, per-sample seed)."""
        rng = _seed_for(self.seed, epoch)
        all_batches = self._epoch_batches(rng)
        n = len(all_batches) // self.world_size
        mine = all_batches[self.rank: n * self.world_size: self.world_size]
        seeds = _seed_for(self.seed, epoch, salt=1).integers(0, 2**31 - 1, size=(len(all_batches), 1))
        out = []
        for bi, batch in enumerate(mine):
            gi = bi * self.world_size + self.rank
            out.append([(int(i), int(seeds[gi, 0]) + k) for k, i in enumerate(batch)])
        return out

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = int(epoch), int(start_batch)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        yield from self.batches(self.epoch)[self.start_batch:]

    def __len__(self) -> int:
        return max(0, len(self.batches(self.epoch)) - self.start_batch)

    def state_dict(self) -> dict:
        return {"seed": self.seed, "epoch": self.epoch, "start_batch": self.start_batch}

    def load_state_dict(self, state: dict) -> None:
        self.seed = int(state["seed"])
        self.set_epoch(int(state["epoch"]), int(state["start_batch"]))


class RandomBatchSampler(_EpochBatchSampler):
    """Shuffled batches of ``batch_size`` images (softmax-only training); the last incomplete batch is dropped."""

    def __init__(self, num_samples: int, batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1):
        super().__init__(seed, rank, world_size)
        if batch_size < 1 or num_samples < batch_size:
            raise ValueError(f"batch size must be in 1..{num_samples} (the number of training images), "
                             f"got {batch_size}")
        self.num_samples, self.batch_size = num_samples, batch_size

    def _epoch_batches(self, rng: np.random.Generator) -> list[list[int]]:
        order = rng.permutation(self.num_samples)
        n = self.num_samples // self.batch_size
        return [order[i * self.batch_size:(i + 1) * self.batch_size].tolist() for i in range(n)]


class PKBatchSampler(_EpochBatchSampler):
    """Batches of P identities x K images each, for batch-hard triplet training.

    Each identity's images are shuffled and cut into groups of K (identities with fewer than K images are
    topped up by sampling with replacement); batches then draw P distinct identities, one group each, until fewer
    than P identities have groups left — so an epoch sees about every image once.
    """

    def __init__(self, pids: Sequence[int], batch_size: int, num_instances: int, seed: int = 0,
                 rank: int = 0, world_size: int = 1):
        super().__init__(seed, rank, world_size)
        if num_instances < 1 or batch_size % num_instances:
            raise ValueError(f"batch size ({batch_size}) must be a multiple of the instances per identity "
                             f"K ({num_instances})")
        self.k = int(num_instances)
        self.p = batch_size // num_instances
        by_pid: dict[int, list[int]] = defaultdict(list)
        for i, pid in enumerate(pids):
            by_pid[int(pid)].append(i)
        self.by_pid = dict(sorted(by_pid.items()))
        if len(self.by_pid) < self.p:
            raise ValueError(f"P x K sampling needs at least P = {self.p} identities (batch {batch_size} / "
                             f"K {self.k}), the training set has {len(self.by_pid)}")

    def _epoch_batches(self, rng: np.random.Generator) -> list[list[int]]:
        groups: dict[int, list[list[int]]] = {}
        for pid, idx in self.by_pid.items():
            idx = np.asarray(idx)
            if len(idx) < self.k:
                idx = rng.choice(idx, size=self.k, replace=True)
            idx = rng.permutation(idx)
            n = len(idx) // self.k
            groups[pid] = [idx[j * self.k:(j + 1) * self.k].tolist() for j in range(n)]
        batches = []
        available = [pid for pid in groups if groups[pid]]
        while len(available) >= self.p:
            chosen = rng.choice(len(available), size=self.p, replace=False)
            batch: list[int] = []
            for c in sorted(chosen.tolist()):
                batch.extend(groups[available[c]].pop())
            batches.append(batch)
            available = [pid for pid in available if groups[pid]]
        return batches
