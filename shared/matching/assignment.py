"""Cohort matching: the assignment of many mentees to many mentors with the largest total score.

Exact, not greedy: each mentor's free places become that many columns and
``scipy.optimize.linear_sum_assignment`` solves the resulting rectangular assignment
problem. A pair the rules exclude costs 0, the same as leaving the mentee unmatched, and is
dropped afterwards, so the optimum over the full matrix is the optimum over the allowed pairs
(scores are never negative: weights are not).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import date

import msgspec
import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment  # type: ignore[import-untyped]

from shared.errors import ValidationFailed
from shared.matching.config import MatchingConfig
from shared.matching.profile import Profile
from shared.matching.scoring import Side, Vocabulary, explain_block, score_block

F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.int64]


def assign(
    scores: F64,
    feasible: Bool,
    capacity: I64,
    pins: Sequence[tuple[int, int]] = (),
) -> list[tuple[int, int]]:
    """Rows (mentees) to columns (mentors), each row at most once, column ``j`` at most
    ``capacity[j]`` times, only where ``feasible``, maximising the sum of ``scores``.

    ``pins`` are pairs that must be part of the answer; they use up their row and one place.
    """
    n = scores.shape[0]
    cap = np.maximum(np.asarray(capacity, dtype=np.int64).copy(), 0)
    allowed = feasible.copy()
    chosen: list[tuple[int, int]] = []
    for i, j in pins:
        chosen.append((i, j))
        cap[j] -= 1
        allowed[i, :] = False
    allowed[:, cap <= 0] = False

    rows = np.flatnonzero(allowed.any(axis=1))
    cols = np.flatnonzero(allowed.any(axis=0))
    if rows.size and cols.size:
        sub = allowed[np.ix_(rows, cols)]
        # No mentor needs more places than mentees it may take.
        places = np.minimum(cap[cols], sub.sum(axis=0))
        expanded = np.repeat(np.arange(cols.size), places)
        gain = np.where(sub, np.maximum(scores[np.ix_(rows, cols)], 0.0), 0.0)[:, expanded]
        r, c = linear_sum_assignment(gain, maximize=True)
        for a, b in zip(r, c, strict=True):
            i, j = int(rows[a]), int(cols[expanded[b]])
            if allowed[i, j]:
                chosen.append((i, j))
                cap[j] -= 1
    # Pairs scoring 0 tie with leaving a mentee alone; a proposal beats none, so use free places.
    matched = {i for i, _ in chosen}
    for i in range(n):
        if i in matched:
            continue
        options = np.flatnonzero(allowed[i] & (cap > 0))
        if options.size:
            j = int(options[np.argmax(scores[i, options])])
            chosen.append((i, j))
            cap[j] -= 1
    return sorted(chosen)


class CohortPair(msgspec.Struct, kw_only=True):
    mentee_id: uuid.UUID
    mentor_id: uuid.UUID
    score: float
    pinned: bool = False


class CohortResult(msgspec.Struct, kw_only=True):
    pairs: list[CohortPair]
    total_score: float
    unmatched_mentee_ids: list[uuid.UUID]


class Cohort:
    """One cohort run: score every pair in row blocks (each step reports progress), then solve."""

    def __init__(
        self,
        mentees: Sequence[Profile],
        mentors: Sequence[Profile],
        config: MatchingConfig,
        today: date,
        *,
        pins: Sequence[tuple[uuid.UUID, uuid.UUID]] = (),
        exclusions: Sequence[tuple[uuid.UUID, uuid.UUID]] = (),
    ) -> None:
        self.mentees = list(mentees)
        self.mentors = list(mentors)
        self.config = config
        self.today = today
        row = {p.id: i for i, p in enumerate(self.mentees)}
        col = {p.id: j for j, p in enumerate(self.mentors)}
        self.pins = [self._position(pair, row, col, "pins") for pair in pins]
        if len({i for i, _ in self.pins}) != len(self.pins):
            raise ValidationFailed("a mentee can be pinned to one mentor only", field="pins")
        self.exclusions = [self._position(pair, row, col, "exclusions") for pair in exclusions]
        if set(self.pins) & set(self.exclusions):
            raise ValidationFailed("a pair cannot be both pinned and excluded", field="exclusions")
        vocab = Vocabulary.build([*self.mentees, *self.mentors], config)
        self._mentees = Side.encode(self.mentees, vocab, config, today)
        self._mentors = Side.encode(self.mentors, vocab, config, today)
        self.scores = np.zeros((len(self.mentees), len(self.mentors)))
        self.feasible = np.zeros((len(self.mentees), len(self.mentors)), dtype=np.bool_)

    @staticmethod
    def _position(
        pair: tuple[uuid.UUID, uuid.UUID], row: dict[uuid.UUID, int], col: dict[uuid.UUID, int], field: str
    ) -> tuple[int, int]:
        mentee_id, mentor_id = pair
        if mentee_id not in row:
            raise ValidationFailed(
                "mentee %(mentee_id)s is not part of this run", field=field, mentee_id=mentee_id
            )
        if mentor_id not in col:
            raise ValidationFailed(
                "mentor %(mentor_id)s is not part of this run", field=field, mentor_id=mentor_id
            )
        return row[mentee_id], col[mentor_id]

    def score(self, chunk_rows: int = 256) -> Iterator[float]:
        """Score the pairs block by block, yielding the fraction done after each block."""
        n = len(self.mentees)
        for start in range(0, n, chunk_rows):
            stop = min(start + chunk_rows, n)
            block = score_block(self._mentees.take(range(start, stop)), self._mentors, self.config)
            self.scores[start:stop] = block.total
            self.feasible[start:stop] = block.feasible
            yield stop / n
        for i, j in self.exclusions:
            self.feasible[i, j] = False

    def _check_pins(self) -> None:
        cap = self._mentors.capacity_left.copy()
        for i, j in self.pins:
            mentee, mentor = self.mentees[i], self.mentors[j]
            cap[j] -= 1
            if cap[j] < 0:
                raise ValidationFailed(
                    "more pairs are pinned to mentor %(mentor_id)s than it has free places",
                    field="pins",
                    mentor_id=mentor.id,
                )
            if not self.feasible[i, j]:
                block = score_block(self._mentees.take([i]), self._mentors.take([j]), self.config)
                pair = explain_block(block, 0, 0, mentee, mentor, self.config, self.today)
                why = "; ".join(v.reason for v in pair.excluded_by if v.name != "capacity") or "excluded"
                raise ValidationFailed(
                    "the pinned pair %(mentee_id)s / %(mentor_id)s breaks a rule: %(why)s",
                    field="pins",
                    mentee_id=mentee.id,
                    mentor_id=mentor.id,
                    why=why,
                )

    def solve(self) -> CohortResult:
        if not self.mentees or not self.mentors:
            return CohortResult(pairs=[], total_score=0.0, unmatched_mentee_ids=[p.id for p in self.mentees])
        self._check_pins()
        pairs = assign(self.scores, self.feasible, self._mentors.capacity_left, self.pins)
        pinned = set(self.pins)
        out = [
            CohortPair(
                mentee_id=self.mentees[i].id,
                mentor_id=self.mentors[j].id,
                score=round(float(self.scores[i, j]), 2),
                pinned=(i, j) in pinned,
            )
            for i, j in pairs
        ]
        matched = {i for i, _ in pairs}
        return CohortResult(
            pairs=out,
            total_score=round(float(sum(self.scores[i, j] for i, j in pairs)), 2),
            unmatched_mentee_ids=[p.id for i, p in enumerate(self.mentees) if i not in matched],
        )

    def run(self, progress: Callable[[float], None] | None = None) -> CohortResult:
        for done in self.score():
            if progress:
                progress(done)
        return self.solve()


def match_cohort(
    mentees: Sequence[Profile],
    mentors: Sequence[Profile],
    config: MatchingConfig,
    today: date,
    *,
    pins: Sequence[tuple[uuid.UUID, uuid.UUID]] = (),
    exclusions: Sequence[tuple[uuid.UUID, uuid.UUID]] = (),
) -> CohortResult:
    return Cohort(mentees, mentors, config, today, pins=pins, exclusions=exclusions).run()
