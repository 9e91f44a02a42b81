"""Cohort matching: every hard rule and capacity holds, and the total is the best possible."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.errors import ValidationFailed
from shared.matching.assignment import assign, match_cohort
from shared.matching.config import HardRules, MatchingConfig
from shared.matching.profile import Preferences, Profile
from shared.matching.scoring import CandidatePool, score_pair

TODAY = date(2026, 11, 25)
PLACES = ["10115", "12043", "80331", "20095", "50667", None]
SLOTS = ["mon-evening", "tue-evening", "sat-morning", "sun-afternoon"]


@st.composite
def profiles(draw: st.DrawFn, side: int) -> Profile:
    lo = draw(st.none() | st.integers(5, 60))
    return Profile(
        # Mentees and mentors drawn apart never share an id (one person on both sides is tested elsewhere).
        id=uuid.UUID(int=side * 2**64 + draw(st.integers(1, 2**64 - 1))),
        languages=draw(st.lists(st.sampled_from(["de", "ar", "tr"]), max_size=2, unique=True)),
        interests=draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=3, unique=True)),
        availability=draw(st.lists(st.sampled_from(SLOTS), max_size=3, unique=True)),
        postal_code=draw(st.sampled_from(PLACES)),
        gender=draw(st.sampled_from([None, "female", "male"])),
        birth_date=draw(st.none() | st.dates(date(1950, 1, 1), date(2015, 1, 1))),
        preferences=Preferences(
            genders=draw(st.lists(st.sampled_from(["female", "male"]), max_size=1)),
            age_min=lo,
            age_max=None if lo is None else lo + draw(st.integers(0, 40)),
        ),
        support_kinds=draw(st.lists(st.sampled_from(["homework", "jobs"]), max_size=2, unique=True)),
        capacity=draw(st.integers(0, 3)),
        load=draw(st.integers(0, 1)),
        waiting_since=draw(st.none() | st.integers(0, 400).map(lambda d: TODAY - timedelta(days=d))),
    )


configs = st.builds(
    MatchingConfig,
    rules=st.builds(
        HardRules,
        common_language=st.booleans(),
        max_distance_km=st.none() | st.sampled_from([10.0, 100.0]),
        preferences=st.booleans(),
        capacity=st.booleans(),
        support_kinds=st.booleans(),
    ),
)


def brute_force(mentees: list[Profile], mentors: list[Profile], config: MatchingConfig) -> float:
    """The best total over every way of giving each mentee one allowed mentor or none."""
    pairs = {
        (i, j): score_pair(a, b, config, TODAY) for i, a in enumerate(mentees) for j, b in enumerate(mentors)
    }
    best = 0.0

    def walk(i: int, places: list[int], total: float) -> None:
        nonlocal best
        if i == len(mentees):
            best = max(best, total)
            return
        walk(i + 1, places, total)
        for j in range(len(mentors)):
            pair = pairs[i, j]
            if places[j] > 0 and not pair.excluded:
                places[j] -= 1
                walk(i + 1, places, total + pair.score)
                places[j] += 1

    walk(0, [m.capacity_left for m in mentors], 0.0)
    return best


def _unique(people: list[Profile]) -> bool:
    return len({p.id for p in people}) == len(people)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mentees=st.lists(profiles(side=1), min_size=0, max_size=5).filter(_unique),
    mentors=st.lists(profiles(side=2), min_size=0, max_size=4).filter(_unique),
    config=configs,
)
def test_the_cohort_respects_every_rule_and_capacity_and_is_optimal(
    mentees: list[Profile], mentors: list[Profile], config: MatchingConfig
) -> None:
    result = match_cohort(mentees, mentors, config, TODAY)
    by_id = {p.id: p for p in mentees + mentors}
    used: dict[uuid.UUID, int] = {}
    for pair in result.pairs:
        check = score_pair(by_id[pair.mentee_id], by_id[pair.mentor_id], config, TODAY)
        assert not check.excluded, check.excluded_by
        assert pair.score == check.score
        used[pair.mentor_id] = used.get(pair.mentor_id, 0) + 1
    assert all(n <= by_id[m].capacity_left for m, n in used.items())
    assert len({p.mentee_id for p in result.pairs}) == len(result.pairs)
    assert result.total_score == pytest.approx(brute_force(mentees, mentors, config), abs=0.02)
    matched = {p.mentee_id for p in result.pairs}
    assert set(result.unmatched_mentee_ids) == {p.id for p in mentees} - matched


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 6),
    m=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_assign_equals_brute_force_on_random_matrices(n: int, m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Coarse scores make ties likely, which is where assignment codes go wrong.
    scores = rng.integers(0, 4, size=(n, m)).astype(float)
    feasible = rng.random((n, m)) < 0.7
    capacity = rng.integers(0, 3, size=m)
    pairs = assign(scores, feasible, capacity)
    assert len({i for i, _ in pairs}) == len(pairs)
    assert all(feasible[i, j] for i, j in pairs)
    assert all(sum(1 for _, j in pairs if j == col) <= capacity[col] for col in range(m))

    best = 0.0

    def walk(i: int, places: list[int], total: float) -> None:
        nonlocal best
        if i == n:
            best = max(best, total)
            return
        walk(i + 1, places, total)
        for j in range(m):
            if places[j] > 0 and feasible[i, j]:
                places[j] -= 1
                walk(i + 1, places, total + scores[i, j])
                places[j] += 1

    walk(0, list(capacity), 0.0)
    assert sum(scores[i, j] for i, j in pairs) == best
    # No mentee is left alone while an allowed mentor still has a free place.
    left = {j: int(capacity[j]) - sum(1 for _, c in pairs if c == j) for j in range(m)}
    matched = {i for i, _ in pairs}
    assert not any(feasible[i, j] and left[j] > 0 for i in range(n) if i not in matched for j in range(m))


def _people(n: int, **fields: object) -> list[Profile]:
    return [Profile(id=uuid.uuid4(), **fields) for _ in range(n)]  # type: ignore[arg-type]


def test_pins_are_kept_and_exclusions_avoided() -> None:
    mentees = [
        Profile(id=uuid.uuid4(), languages=["de"], interests=["a"]),
        Profile(id=uuid.uuid4(), languages=["de"], interests=["b"]),
    ]
    mentors = [
        Profile(id=uuid.uuid4(), languages=["de"], interests=["a"]),
        Profile(id=uuid.uuid4(), languages=["de"], interests=["b"]),
    ]
    config = MatchingConfig()
    free = match_cohort(mentees, mentors, config, TODAY)
    assert {(p.mentee_id, p.mentor_id) for p in free.pairs} == {
        (mentees[0].id, mentors[0].id),
        (mentees[1].id, mentors[1].id),
    }
    pinned = match_cohort(mentees, mentors, config, TODAY, pins=[(mentees[0].id, mentors[1].id)])
    assert {(p.mentee_id, p.mentor_id, p.pinned) for p in pinned.pairs} == {
        (mentees[0].id, mentors[1].id, True),
        (mentees[1].id, mentors[0].id, False),
    }
    assert pinned.total_score < free.total_score
    excluded = match_cohort(mentees, mentors, config, TODAY, exclusions=[(mentees[0].id, mentors[0].id)])
    assert (mentees[0].id, mentors[0].id) not in {(p.mentee_id, p.mentor_id) for p in excluded.pairs}


def test_pins_that_break_the_rules_are_refused_with_the_reason() -> None:
    mentee = Profile(id=uuid.uuid4(), languages=["ar"])
    mentor = Profile(id=uuid.uuid4(), languages=["de"], capacity=1)
    with pytest.raises(ValidationFailed, match="keine gemeinsame Sprache") as err:
        match_cohort([mentee], [mentor], MatchingConfig(), TODAY, pins=[(mentee.id, mentor.id)])
    assert err.value.field == "pins"
    others = _people(2, languages=["de"])
    with pytest.raises(ValidationFailed, match="free places"):
        match_cohort(others, [mentor], MatchingConfig(), TODAY, pins=[(o.id, mentor.id) for o in others])
    with pytest.raises(ValidationFailed, match="not part of this run"):
        match_cohort(others, [mentor], MatchingConfig(), TODAY, pins=[(uuid.uuid4(), mentor.id)])
    with pytest.raises(ValidationFailed, match="both pinned and excluded"):
        pair = (others[0].id, mentor.id)
        match_cohort(others, [mentor], MatchingConfig(), TODAY, pins=[pair], exclusions=[pair])


def test_a_mentor_takes_as_many_mentees_as_places_are_left() -> None:
    mentees = _people(5, languages=["de"])
    mentor = Profile(id=uuid.uuid4(), languages=["de"], capacity=3, load=1)
    result = match_cohort(mentees, [mentor], MatchingConfig(), TODAY)
    assert len(result.pairs) == 2 and len(result.unmatched_mentee_ids) == 3


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    person=profiles(side=1),
    candidates=st.lists(profiles(side=2), min_size=0, max_size=6).filter(_unique),
    config=configs,
    limit=st.integers(1, 8),
)
def test_suggestions_agree_with_the_score_of_each_pair(
    person: Profile, candidates: list[Profile], config: MatchingConfig, limit: int
) -> None:
    """The pool encodes the person with the candidates' words only; nothing may change by that."""
    pool = CandidatePool(candidates, "mentor", config, TODAY)
    got = pool.suggest(person, limit=limit)
    alone = {c.id: score_pair(person, c, config, TODAY) for c in candidates}
    allowed = [c for c in candidates if not alone[c.id].excluded]
    assert len(got) == min(limit, len(allowed))
    assert all(not alone[s.candidate_id].excluded for s in got)
    assert [s.score for s in got] == sorted((s.score for s in got), reverse=True)
    for s in got:
        assert s.score == alone[s.candidate_id].score and s.criteria == alone[s.candidate_id].criteria
    # Nobody left out scores better than the last one shown.
    shown = {s.candidate_id for s in got}
    if got:
        assert all(alone[c.id].score <= got[-1].score for c in allowed if c.id not in shown)
