"""Re-entry schedule: every person visits the view, leaves by the nearer side, stays away a while and comes back.

Each visit is: enter from a random side, walk inward for a few seconds, turn towards the nearer side and leave
(no stops while leaving). Each person gets a plan of leave and return times for the first ``min_returns``
comebacks that fits the sequence; first departures are spread evenly over the people (stratified), so that the
people are not all away at the same time. Actual leave times follow the simulated walk: a return is due at the
planned time, but never before ``gap_s[0]`` seconds out of view nor after ``gap_s[1]``. After the planned
comebacks visits and gaps are drawn freely from their ranges. Arrays in, arrays out: one call per frame covers
every person.
"""
from __future__ import annotations

import numpy as np

__all__ = ["ReentrySchedule"]

#: seconds spent entering or leaving beyond the inward walk (crossing the border)
_EDGE_S = 0.4
#: walking out takes up to this many times the inward walk (heading wobble; no stops on the way out)
_OUT_FACTOR = 1.0


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
        self.leave_plan, self.return_plan = self._plan(num_people)   # (P, min_returns) seconds each

    # ---- the plan --------------------------------------------------------------------------------------------
    def _visit_range(self) -> tuple[float, float]:
        """Shortest and longest visit (step in, walk inward, walk back out), seconds."""
        lo, hi = self.visit_s
        return (1 + _OUT_FACTOR) * lo + 2 * _EDGE_S, (1 + _OUT_FACTOR) * hi + 2 * _EDGE_S

    def _plan(self, n_people: int) -> tuple[np.ndarray, np.ndarray]:
        """Leave times L_k and return times R_k (seconds) of the first ``min_returns`` comebacks per person.

        The slack of the sequence (its length minus the shortest gaps and visits) goes first to the first
        departure, stratified over the people so that their out-of-view times interleave; what is left lengthens
        gaps and visits at random (short ones more likely).
        """
        n = self.min_returns
        leave, ret = np.zeros((n_people, n)), np.zeros((n_people, n))
        if n == 0:
            return leave, ret
        gap_lo, gap_hi = self.gap_s[0], max(self.gap_s[0], self.gap_s[1] - _EDGE_S)
        v_lo, v_hi = self._visit_range()
        slack = max(0.0, self.T / self.fps - 0.3 - n * gap_lo - (n - 1) * v_lo - _EDGE_S)
        u = (self.rng.permutation(n_people) + self.rng.random(n_people)) / n_people
        first = u * min(slack, (gap_hi - gap_lo) + (v_hi - v_lo))
        rest = slack - first
        L = 0.3 + first
        for k in range(n):
            extra = self.rng.random(n_people) ** 2 * np.minimum(rest / 2, gap_hi - gap_lo)
            rest = rest - extra
            leave[:, k], ret[:, k] = L, L + gap_lo + extra
            if k + 1 < n:
                extra = self.rng.random(n_people) ** 2 * np.minimum(rest / 2, v_hi - v_lo)
                rest = rest - extra
                L = ret[:, k] + v_lo + extra
        return leave, ret

    # ---- per-frame calls from the simulation -------------------------------------------------------------------
    def initial_present(self, rng: np.random.Generator, fraction: float) -> tuple[np.ndarray, np.ndarray]:
        """Who is in view at frame 1 (already walking out), and after how many seconds each of them should be out.

        People whose first planned departure leaves no time to step in first are present; of the others a
        ``fraction`` is; the rest step in at a time that lets them walk in and leave as planned.
        """
        n = len(self.turn_at)
        first = self.leave_plan[:, 0] if self.min_returns else rng.uniform(0.3, 6.0, n)
        v_lo = self._visit_range()[0]
        present = (first < v_lo) | (rng.random(n) < fraction)
        self.leaving[present] = True
        enter_s = rng.uniform(0, 1, n) * np.maximum(first - v_lo, 0)
        self.return_at[~present] = 1 + np.floor(enter_s[~present] * self.fps)
        self.returns[~present] = -1                     # their first entry is not a comeback
        return present, first

    def entry(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Walking direction (+1 right, -1 left: a random side) and depth (0 nearest .. 1 middle of the walking
        band, log scale) of the people in ``mask`` who enter now."""
        n = int(mask.sum())
        return np.where(self.rng.random(n) < 0.5, 1.0, -1.0), self.rng.random(n)

    def entry_speed(self, mask: np.ndarray, speed: np.ndarray) -> np.ndarray:
        """Walking speed (m/s) of the people in ``mask`` who enter now: their own."""
        return speed

    def start_visits(self, t: int, mask: np.ndarray) -> None:
        """People in ``mask`` start walking inward at frame ``t``; choose when they turn to leave (towards the
        planned leave time while the plan lasts)."""
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        v_lo, v_hi = self.visit_s
        k = np.maximum(self.returns[idx], 0)                     # index of the leave this visit ends with
        planned = k < self.min_returns
        target = np.where(planned, self.leave_plan[idx, np.minimum(k, max(self.min_returns - 1, 0))]
                          if self.min_returns else np.inf, np.inf)
        inward = np.where(planned, (target - (t - 1) / self.fps - 2 * _EDGE_S) / (1 + _OUT_FACTOR),
                          self.rng.uniform(v_lo, v_hi, len(idx)))
        self.turn_at[idx] = t + np.round(np.clip(inward, v_lo, v_hi) * self.fps)
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
        lo, hi = self.gap_s[0], max(self.gap_s[0], self.gap_s[1] - _EDGE_S)
        k = np.maximum(self.returns[idx], 0)
        now = (t - 1) / self.fps
        if self.min_returns:
            planned = self.return_plan[idx, np.minimum(k, self.min_returns - 1)] - now
            gap = np.where(k < self.min_returns, planned, self.rng.uniform(lo, hi, len(idx)))
        else:
            gap = self.rng.uniform(lo, hi, len(idx))
        self.return_at[idx] = t + np.ceil(np.clip(gap, lo, hi) * self.fps)

    def due_to_return(self, t: int, alive: np.ndarray) -> np.ndarray:
        """Mask of people who enter again at frame ``t`` (a return falls due only once the person is out of view)."""
        m = (self.return_at <= t) & ~alive
        self.return_at[m] = np.inf
        self.returns[m] += 1
        return m
