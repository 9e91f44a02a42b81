"""Matching benchmark (a script, not a test): suggestion latency and cohort time.

    .venv/bin/python tests/bench/bench_matching.py [--quick]

Suggestions: one person against 1,000 and 10,000 candidates of one organisation (the pool
encoded once, as the API caches it), median and p95 over many people. Cohort: n mentees x n
mentors (capacity 1-2), scoring plus exact assignment, next to the floor: scipy's bare
linear_sum_assignment on the same capacity-expanded matrix.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scipy.optimize import linear_sum_assignment

from shared.matching import geo, texts
from shared.matching.assignment import Cohort
from shared.matching.config import HardRules, MatchingConfig
from shared.matching.profile import Preferences, Profile
from shared.matching.scoring import CandidatePool

TODAY = date(2026, 11, 25)
LANGS = ["de"] * 6 + ["ar", "tr", "fa", "ru", "uk", "en", "pl", "ku"]
INTERESTS = [f"interest {i}" for i in range(60)]
SUPPORT = ["Hausaufgaben", "Sprache", "Bewerbung", "Freizeit", "Behörden", "Ausbildung"]


def region_codes() -> list[str]:
    # Berlin and Brandenburg: a city programme, so distances matter.
    return [code for code in geo._table() if code[:2] in {"10", "12", "13", "14", "15", "16"}]


def make_people(n: int, rng: random.Random, codes: list[str], mentor: bool) -> list[Profile]:
    people = []
    for _ in range(n):
        wishes = Preferences()
        if rng.random() < 0.2:
            wishes = Preferences(genders=[rng.choice(["female", "male"])])
        if rng.random() < 0.1:
            low = rng.randint(6, 30)
            wishes = Preferences(genders=wishes.genders, age_min=low, age_max=low + rng.randint(5, 40))
        people.append(
            Profile(
                id=uuid.uuid4(),
                languages=sorted({rng.choice(LANGS) for _ in range(rng.randint(1, 3))}),
                interests=rng.sample(INTERESTS, rng.randint(2, 6)),
                availability=rng.sample(texts.SLOTS, rng.randint(2, 6)),
                postal_code=rng.choice(codes) if rng.random() < 0.95 else None,
                gender=rng.choice(["female", "male", "diverse", None]),
                birth_date=TODAY
                - timedelta(days=rng.randint(25 if mentor else 8, 75 if mentor else 25) * 365),
                preferences=wishes,
                support_kinds=rng.sample(SUPPORT, rng.randint(1, 3)),
                capacity=rng.randint(1, 2) if mentor else 1,
                waiting_since=None if mentor else TODAY - timedelta(days=rng.randint(0, 400)),
            )
        )
    return people


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def bench_suggestions(sizes: list[int], rng: random.Random, codes: list[str], config: MatchingConfig) -> None:
    print("suggestions (best 10 with breakdowns, one organisation)")
    print(f"  {'candidates':>10} {'encode pool':>12} {'median':>11} {'p95':>11} {'rank only':>11}")
    for n in sizes:
        mentors = make_people(n, rng, codes, mentor=True)
        mentees = make_people(50, rng, codes, mentor=False)
        started = time.perf_counter()
        pool = CandidatePool(mentors, "mentor", config, TODAY)
        encode = time.perf_counter() - started
        pool.suggest(mentees[0], limit=10)  # warm-up
        full, rank = [], []
        for person in mentees:
            t0 = time.perf_counter()
            got = pool.suggest(person, limit=10)
            full.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            pool.rank(person, 10)
            rank.append(time.perf_counter() - t0)
            assert len(got) <= 10
        p95 = statistics.quantiles(full, n=20)[-1]
        print(
            f"  {n:>10,} {ms(encode):>12} {ms(statistics.median(full)):>11} {ms(p95):>11} "
            f"{ms(statistics.median(rank)):>11}"
        )


def bench_cohorts(sizes: list[int], rng: random.Random, codes: list[str], config: MatchingConfig) -> None:
    print("cohort matching (n mentees x n mentors, capacity 1-2, exact)")
    print(
        f"  {'n':>6} {'encode':>11} {'score':>11} {'assign':>11} {'total':>11} "
        f"{'bare LSA':>11} {'pairs':>7} {'allowed':>8}"
    )
    for n in sizes:
        mentees = make_people(n, rng, codes, mentor=False)
        mentors = make_people(n, rng, codes, mentor=True)
        t0 = time.perf_counter()
        cohort = Cohort(mentees, mentors, config, TODAY)
        t1 = time.perf_counter()
        for _ in cohort.score():
            pass
        t2 = time.perf_counter()
        result = cohort.solve()
        t3 = time.perf_counter()
        # The floor: the assignment alone on the same capacity-expanded matrix.
        places = cohort._mentors.capacity_left
        expanded = np.repeat(np.arange(len(mentors)), places)
        gain = np.where(cohort.feasible, cohort.scores, 0.0)[:, expanded]
        t4 = time.perf_counter()
        linear_sum_assignment(gain, maximize=True)
        bare = time.perf_counter() - t4
        print(
            f"  {n:>6,} {ms(t1 - t0):>11} {ms(t2 - t1):>11} {ms(t3 - t2):>11} {ms(t3 - t0):>11} "
            f"{ms(bare):>11} {len(result.pairs):>7,} {cohort.feasible.mean():>7.0%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    rng = random.Random(20261125)
    codes = region_codes()
    config = MatchingConfig(rules=HardRules(max_distance_km=25))
    bench_suggestions([1_000] if args.quick else [1_000, 10_000], rng, codes, config)
    bench_cohorts([200] if args.quick else [500, 1_000, 2_000], rng, codes, config)


if __name__ == "__main__":
    main()
