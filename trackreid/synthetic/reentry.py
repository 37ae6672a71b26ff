"""Re-entry schedule: every person visits the view, leaves by the nearer side, stays away a while and comes back.

Each visit is: enter from a random side, walk inward for a few seconds, turn towards the nearer side and leave
(no stops while leaving). Off-screen gaps and inward walks are drawn from their ranges, squeezed towards their
lower ends when needed so that each person comes back ``min_returns`` times before the sequence ends (when the
sequence is long enough for that). Arrays in, arrays out: one call per frame covers every person.
"""
from __future__ import annotations

import numpy as np

__all__ = ["ReentrySchedule"]

#: seconds spent entering or leaving beyond the inward walk (crossing the border)
_EDGE_S = 0.8
#: walking out takes up to this many times the inward walk (heading wobble; no stops on the way out)
_OUT_FACTOR = 1.3


class ReentrySchedule:
    """Per-person visit state for a scene of ``num_people`` over frames 1..``num_frames``."""

    def __init__(self, rng: np.random.Generator, num_people: int, num_frames: int, fps: float,
                 gap_s: tuple, visit_s: tuple, min_returns: int):
        self.rng, self.T, self.fps = rng, int(num_frames), float(fps)
        self.gap_s, self.visit_s, self.min_returns = tuple(gap_s), tuple(visit_s), int(min_returns)
        self.turn_at = np.full(num_people, np.inf)      # frame at which a visiting person heads out
        self.return_at = np.full(num_people, np.inf)    # frame at which an absent person enters again
        self.returns = np.zeros(num_people, np.int64)   # re-entries so far
        self.leaving = np.zeros(num_people, bool)

    def initial_present(self, rng: np.random.Generator, fraction: float) -> np.ndarray:
        """Choose who is in view at frame 1 (already walking out); the others step in within three seconds."""
        n = len(self.turn_at)
        present = rng.random(n) < fraction
        self.leaving[present] = True
        first = 1 + np.floor(rng.uniform(0, min(3 * self.fps, 0.85 * self.T), n))
        self.return_at[~present] = first[~present]
        self.returns[~present] = -1                     # their first entry is not a comeback
        return present

    def entry(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Walking direction (+1 right, -1 left: a random side) and depth (0 nearest .. 1 middle of the walking
        band, log scale) of the people in ``mask`` who enter now."""
        n = int(mask.sum())
        return np.where(self.rng.random(n) < 0.5, 1.0, -1.0), self.rng.random(n)

    def entry_speed(self, mask: np.ndarray, speed: np.ndarray) -> np.ndarray:
        """Walking speed (m/s) of the people in ``mask`` who enter now: their own."""
        return speed

    def _visit_cost(self) -> float:
        return (1 + _OUT_FACTOR) * self.visit_s[0] + 2 * _EDGE_S

    def _squeezed(self, lo: float, hi: float, slack: np.ndarray) -> np.ndarray:
        """``lo + U(0, 1) * min(hi - lo, slack)`` per person (slack clipped at 0)."""
        return lo + self.rng.random(len(slack)) * np.clip(slack, 0.0, hi - lo)

    def start_visits(self, t: int, mask: np.ndarray) -> None:
        """People in ``mask`` start walking inward at frame ``t``; choose when they turn to leave."""
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        remaining = (self.T - t) / self.fps
        wanted = np.maximum(0, self.min_returns - self.returns[idx])
        # after this visit: each wanted gap, the full visits between them, and stepping in on the last return
        after = wanted * self.gap_s[0] + np.maximum(0, wanted - 1) * self._visit_cost() + _EDGE_S * (wanted > 0)
        slack = (remaining - self._visit_cost() - after) / ((1 + _OUT_FACTOR) * np.maximum(1, wanted))
        inward = self._squeezed(self.visit_s[0], self.visit_s[1], slack)
        self.turn_at[idx] = t + np.round(inward * self.fps)
        self.leaving[idx] = False

    def due_to_turn(self, t: int, alive: np.ndarray) -> np.ndarray:
        """Mask of people who turn towards the nearer side at frame ``t`` (and are leaving from now on)."""
        m = alive & ~self.leaving & (t >= self.turn_at)
        self.leaving |= m
        return m

    def left(self, t: int, mask: np.ndarray) -> None:
        """People in ``mask`` left the view at frame ``t``: choose when they come back."""
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        self.leaving[idx] = False
        self.turn_at[idx] = np.inf
        remaining = (self.T - t) / self.fps
        wanted = np.maximum(1, self.min_returns - self.returns[idx])
        after = (wanted - 1) * (self.gap_s[0] + self._visit_cost()) + _EDGE_S
        slack = (remaining - self.gap_s[0] - after) / wanted
        # the drawn gap is measured from leaving the margin to stepping in again; entering takes up to _EDGE_S
        gap = self._squeezed(self.gap_s[0], max(self.gap_s[0], self.gap_s[1] - _EDGE_S), slack)
        self.return_at[idx] = t + np.ceil(gap * self.fps)

    def due_to_return(self, t: int, alive: np.ndarray) -> np.ndarray:
        """Mask of people who enter again at frame ``t`` (a return falls due only once the person is out of view)."""
        m = (self.return_at <= t) & ~alive
        self.return_at[m] = np.inf
        self.returns[m] += 1
        return m
