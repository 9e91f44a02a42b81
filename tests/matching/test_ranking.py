"""Ranking one person against a pool gives the scores, the order and the reasons of the full
pair-by-pair matrix (``score_block``), on seeded random pools under several settings."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

import msgspec
import numpy as np
import numpy.typing as npt
import pytest

from shared.matching import geo, texts
from shared.matching.config import CustomCriterion, HardRules, MatchingConfig, Weights
from shared.matching.profile import Preferences, Profile
from shared.matching.scoring import CandidatePool, Role, Suggestion, explain_block

TODAY = date(2026, 11, 25)
LANGS = ["de", "de", "ar", "tr", "fa", "uk", "en", "DE", " ar "]
WORDS = ["Fußball", "kochen", "Kochen ", "Lesen", "Schach", "Musik", "Tanz", "Kunst", "Natur", "Spiele"]
SUPPORT = ["Hausaufgaben", "Sprache", "Bewerbung", "Freizeit", "Behörden"]
DISTRICTS = ["Nord", "Süd", "West", "Ost", "Mitte"]

CONFIGS = {
    "default": MatchingConfig(),
    "strict": MatchingConfig(
        rules=HardRules(max_distance_km=12, support_kinds=True),
        weights=Weights(languages=3, interests=40, availability=0, distance=15.5, age_gap=9, waiting_time=7),
        custom=[
            CustomCriterion(key="district", label="Stadtteil", weight=6, required=True),
            CustomCriterion(key="hobby", label="Hobby", weight=4),
        ],
        ideal_age_gap_years=20,
        age_gap_scale_years=15,
        distance_scale_km=18,
        waiting_scale_days=45,
    ),
    "no rules": MatchingConfig(
        rules=HardRules(common_language=False, preferences=False, capacity=False),
        custom=[CustomCriterion(key="district", label="Stadtteil", weight=2)],
    ),
}


def people(rng: random.Random, n: int, codes: list[str]) -> list[Profile]:
    out = []
    for _ in range(n):
        wish = Preferences()
        if rng.random() < 0.3:
            wished = rng.sample(["female", "male", "diverse", "unlisted"], rng.randint(1, 2))
            wish = Preferences(genders=wished)
        if rng.random() < 0.2:
            low = rng.choice([None, rng.randint(8, 40)])
            wish = Preferences(genders=wish.genders, age_min=low, age_max=rng.choice([None, 30, 60]))
        out.append(
            Profile(
                id=uuid.uuid4(),
                languages=rng.sample(LANGS, rng.randint(0, 3)),
                interests=rng.sample(WORDS, rng.randint(0, 5)),
                availability=rng.sample([*texts.SLOTS, "someday"], rng.randint(0, 6)),
                postal_code=rng.choice([*rng.sample(codes, 5), None, "00000", "1067"]),
                gender=rng.choice(["female", "male", "diverse", "unlisted", None]),
                birth_date=rng.choice([None, TODAY - timedelta(days=rng.randint(7 * 365, 80 * 365))]),
                preferences=wish,
                support_kinds=rng.sample(SUPPORT, rng.randint(0, 3)),
                capacity=rng.randint(1, 3),
                load=rng.randint(0, 3),
                waiting_since=rng.choice([None, TODAY - timedelta(days=rng.randint(-5, 400))]),
                custom={
                    "district": rng.sample(DISTRICTS, rng.randint(0, 2)),
                    "hobby": rng.sample(WORDS, rng.randint(0, 2)),
                },
            )
        )
    return out


def by_matrix(
    pool: CandidatePool, person: Profile, limit: int
) -> tuple[npt.NDArray[np.intp], list[Suggestion]]:
    """The ranking as it is defined: the whole block of pairs, then the best ``limit`` allowed."""
    block = pool._block(person, pool.side)
    scores, feasible = block.total[0], np.flatnonzero(block.feasible[0])
    # Every allowed candidate in order (best, longer-waiting, smaller id first), then the first few.
    waiting = np.nan_to_num(pool.side.waiting_days[feasible], nan=-1.0)
    ids = [pool.profiles[i].id for i in feasible]
    assert ids == sorted(ids)  # positions are in the order of ids
    chosen = feasible[np.lexsort((feasible, -waiting, -np.round(scores[feasible], 6)))][:limit]
    explained = []
    for pos in chosen:
        candidate = pool.profiles[pos]
        mentee, mentor = (person, candidate) if pool.role == "mentor" else (candidate, person)
        pair = explain_block(block, 0, int(pos), mentee, mentor, pool.config, pool.today, "en")
        explained.append(Suggestion(candidate_id=candidate.id, score=pair.score, criteria=pair.criteria))
    return chosen, explained


@pytest.mark.parametrize("role", ["mentor", "mentee"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_ranking_one_person_equals_the_full_matrix(role: Role, name: str) -> None:
    rng = random.Random(f"{role}-{name}")
    codes = [c for c in geo._table() if c.startswith(("10", "12", "13", "14"))]
    candidates = people(rng, 600, codes)
    others = people(rng, 30, codes)
    # Someone of the pool asks too: never suggested to themselves.
    askers = [*others, candidates[7], candidates[100]]
    pool = CandidatePool(candidates, role, CONFIGS[name], TODAY)
    allowed_somewhere = 0
    for person in askers:
        totals, allowed = pool.scores(person)
        block = pool._block(person, pool.side)
        # The same numbers, bit for bit, not merely close.
        assert totals.tobytes() == block.total[0].tobytes()
        assert np.array_equal(allowed, block.feasible[0])
        allowed_somewhere += int(allowed.sum())

        chosen, expected = by_matrix(pool, person, 10)
        positions, scores = pool.rank(person, 10)
        assert positions.tolist() == chosen.tolist()
        assert scores.tobytes() == block.total[0][chosen].tobytes()
        assert pool.suggest(person, limit=10, locale="en") == expected
    # The settings exclude some pairs and allow others: both sides of every rule are walked.
    assert 0 < allowed_somewhere < len(askers) * len(candidates)


def _changed(rng: random.Random, person: Profile, codes: list[str]) -> Profile:
    """The same person after one edit of what ranking reads, with words the pool may not know yet."""
    other = people(rng, 1, codes)[0]
    field = rng.choice(
        [
            "languages",
            "interests",
            "availability",
            "postal_code",
            "gender",
            "birth_date",
            "preferences",
            "support_kinds",
            "capacity",
            "load",
            "waiting_since",
            "custom",
        ]
    )
    value = getattr(other, field)
    if field == "languages" and rng.random() < 0.5:
        value = [*value, rng.choice(["sq", "ti", "so"])]
    if field == "interests" and rng.random() < 0.5:
        value = [*value, f"new interest {rng.randint(0, 99)}"]
    if field == "custom" and rng.random() < 0.5:
        value = {**value, "district": ["Neustadt"]}
    if field == "preferences" and rng.random() < 0.5:
        value = Preferences(genders=["nonbinary"])
    return msgspec.structs.replace(person, **{field: value})


@pytest.mark.parametrize("role", ["mentor", "mentee"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_a_patched_pool_ranks_as_a_fresh_one(role: Role, name: str) -> None:
    """Step after step, people join, change, leave and come back; after each step the patched
    pool gives the same suggestions, in the same order, with the same reasons, as a pool built
    from scratch from the people now in it."""
    rng = random.Random(f"patch-{role}-{name}")
    codes = [c for c in geo._table() if c.startswith(("10", "12", "13", "14"))]
    config = CONFIGS[name]
    current = {p.id: p for p in people(rng, 300, codes)}
    left: list[Profile] = []
    askers = people(rng, 12, codes)
    pool = CandidatePool(list(current.values()), role, config, TODAY)
    carried = {True: 0, False: 0}
    reused = overwritten = merged = 0
    for step in range(25):
        changed: set[uuid.UUID] = set()
        now: list[Profile] = []
        for _ in range(rng.choice([1, 1, 2, 5, 20])):
            what = rng.random()
            if what < 0.25:  # a new person
                person = people(rng, 1, codes)[0]
            elif what < 0.35 and left:  # someone comes back (ready again, a match ended)
                person = left.pop(rng.randrange(len(left)))
            elif what < 0.6 and current:  # someone leaves (matched, not ready, erased)
                gone = current.pop(rng.choice(sorted(current)))
                left.append(gone)
                changed.add(gone.id)
                continue
            else:  # someone changes
                person = _changed(rng, current[rng.choice(sorted(current))], codes)
            current[person.id] = person
            changed.add(person.id)
        now = [current[i] for i in changed if i in current]
        # A change that turns out to be none (read again, still the same) is patched in as well.
        if step % 5 == 0 and current:
            unchanged = current[rng.choice(sorted(current))]
            changed.add(unchanged.id)
            now.append(unchanged)
        before, pool = pool, pool.patched(changed, now)
        # People who only changed, in words the pool knows, are written over in place.
        overwritten += pool.side.ids is before.side.ids
        fresh = CandidatePool(list(current.values()), role, config, TODAY)
        assert [p.id for p in pool.profiles] == [p.id for p in fresh.profiles]
        assert pool.positions == fresh.positions
        for person in [*askers, rng.choice(fresh.profiles)]:
            totals, allowed = pool.scores(person)
            expected_totals, expected_allowed = fresh.scores(person)
            assert totals.tobytes() == expected_totals.tobytes()
            assert np.array_equal(allowed, expected_allowed)
            for limit in (10, 3, 1):
                expected = by_matrix(fresh, person, limit)[1]
                # An answer of an earlier pool, taken over when the changes cannot have moved it.
                key = (msgspec.msgpack.encode(person), limit, "en")
                given, base = [], pool._base
                while base is not None:
                    given.append(base._answers.get(key))
                    base = base._base
                taken, known = pool._carried(person, key)
                carried[taken is not None] += 1
                # Taken over as it was, or merged with the changed people who now rank before it.
                merged += taken is not None and all(taken is not a for a in given)
                assert taken is None or taken.suggestions == expected
                # Breakdowns given again when the answer is not: each as a fresh pool writes it.
                written = {s.candidate_id: s for s in expected}
                assert all(written.get(i, s) == s for i, s in known.items())
                reused += taken is None and bool(known.keys() & written.keys())
                assert pool.suggest(person, limit=limit, locale="en") == expected
                assert fresh.suggest(person, limit=limit, locale="en") == expected
    # Most answers are taken over; some are not, because a change reached them.
    assert carried[True] > carried[False] > 0
    assert 0 < merged < carried[True]
    # And where an answer is not taken over, the unchanged candidates' breakdowns mostly are.
    assert reused > 0
    assert 0 < overwritten < 25
