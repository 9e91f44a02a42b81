"""The score of a mentee-mentor pair: hard rules that exclude it, weighted criteria that rank it.

Profiles are encoded once into numpy arrays (one :class:`Side` per group of people), and
every pair of a block of mentees x mentors is scored at once, so one person against 10,000
candidates or a cohort of 2,000 x 2,000 costs a few matrix products. The reasons are written
only for the pairs someone will read, from the profiles themselves.

Each criterion gives ``weight x fraction`` points with a fraction between 0 and 1:

- ``languages``: 1 if the two share a language.
- ``interests``, ``availability``: shared items / the shorter of the two lists.
- ``distance``: 1 - km / ``distance_scale_km`` (0 from that distance on, or unknown).
- ``age_gap``: 1 - |gap - ``ideal_age_gap_years``| / ``age_gap_scale_years``.
- ``waiting_time``: days the mentee has waited / ``waiting_scale_days``, at most 1.
- ``support_kinds``: kinds wanted by the mentee that the mentor offers / kinds wanted.
- ``custom:<key>``: 1 if both have a value of that custom field in common.
"""

from __future__ import annotations

import bisect
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date
from functools import cached_property
from typing import Any, Literal, TypeVar, cast

import msgspec
import numpy as np
import numpy.typing as npt

from shared import i18n
from shared.matching import geo, texts
from shared.matching.config import MatchingConfig
from shared.matching.profile import Profile, age_on, norm
from shared.matching.texts import Locale

Role = Literal["mentor", "mentee"]
F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]

UNKNOWN = -1  # no gender recorded
OTHER = -2  # a gender nobody in the vocabulary has or wishes for

_SLOT_INDEX = {s: i for i, s in enumerate(texts.SLOTS)}
T = TypeVar("T")
_MISSING = object()
# Answers a pool keeps (one per person, limit and language asked for).
ANSWERS_KEPT = 512
# Bodies one answer keeps (one per contact, side and pool size asked with it).
ANSWER_BODIES_KEPT = 4
# How many patches back a pool looks for an answer it can take over (and keeps its ancestors).
ANSWERS_CARRIED = 4
# People asking a pool (and the pools patched from it with the same words) keeps encoded.
ENCODED_KEPT = 4096


# --------------------------------------------------------------------------- encoding


@dataclass
class Vocabulary:
    """Column positions of every word that can be shared; words outside it match nothing."""

    languages: dict[str, int] = field(default_factory=dict)
    interests: dict[str, int] = field(default_factory=dict)
    genders: dict[str, int] = field(default_factory=dict)
    support: dict[str, int] = field(default_factory=dict)
    custom: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def build(cls, profiles: Iterable[Profile], config: MatchingConfig) -> Vocabulary:
        vocab = cls(custom={c.key: {} for c in config.custom})
        vocab._add(profiles)
        return vocab

    def extended(self, profiles: Iterable[Profile]) -> Vocabulary:
        """A copy that also knows the words of ``profiles``; the known words keep their columns.

        Words nobody in a pool has any more may stay: a column of zeros matches nothing, so
        ranking against a pool is the same with or without them.
        """
        vocab = Vocabulary(
            languages=dict(self.languages),
            interests=dict(self.interests),
            genders=dict(self.genders),
            support=dict(self.support),
            custom={key: dict(words) for key, words in self.custom.items()},
        )
        vocab._add(profiles)
        return vocab

    def size(self) -> tuple[int, ...]:
        """How many words of each kind: two vocabularies of one lineage with the same size are the same."""
        return (
            len(self.languages),
            len(self.interests),
            len(self.genders),
            len(self.support),
            *(len(words) for words in self.custom.values()),
        )

    def _add(self, profiles: Iterable[Profile]) -> None:
        for p in profiles:
            for lang in p.languages:
                self.languages.setdefault(lang.lower(), len(self.languages))
            for word in p.interests:
                self.interests.setdefault(norm(word), len(self.interests))
            for gender in (p.gender, *p.preferences.genders):
                if gender:
                    self.genders.setdefault(gender, len(self.genders))
            for kind in p.support_kinds:
                self.support.setdefault(norm(kind), len(self.support))
            for key, words in self.custom.items():
                for value in p.custom.get(key, ()):
                    words.setdefault(norm(value), len(words))


def _distinct(values: Iterable[str]) -> set[str]:
    return {norm(v) for v in values if v and v.strip()}


def _languages(p: Profile) -> set[str]:
    return {lang.lower() for lang in p.languages if lang.strip()}


def _slots(p: Profile) -> set[str]:
    return {s for s in p.availability if s in _SLOT_INDEX}


def _onehot(rows: Sequence[set[str]], index: dict[str, int]) -> tuple[F32, F64]:
    matrix = np.zeros((len(rows), max(len(index), 1)), dtype=np.float32)
    counts = np.zeros(len(rows), dtype=np.float64)
    for i, words in enumerate(rows):
        counts[i] = len(words)
        cols = [index[w] for w in words if w in index]
        if cols:
            matrix[i, cols] = 1.0
    return matrix, counts


@dataclass
class Side:
    """The profiles of one group (mentees or mentors) as arrays, one row per person."""

    ids: list[uuid.UUID]
    languages: F32
    n_languages: F64
    interests: F32
    n_interests: F64
    slots: F32
    n_slots: F64
    lat: F64
    lng: F64
    age: F64
    gender: I64
    wish_genders: Bool
    has_gender_wish: Bool
    age_min: F64
    age_max: F64
    support: F32
    n_support: F64
    capacity_left: I64
    waiting_days: F64
    custom: dict[str, tuple[F32, F64]]

    @classmethod
    def encode(
        cls, profiles: Sequence[Profile], vocab: Vocabulary, config: MatchingConfig, today: date
    ) -> Side:
        n = len(profiles)
        languages, n_languages = _onehot([_languages(p) for p in profiles], vocab.languages)
        interests, n_interests = _onehot([_distinct(p.interests) for p in profiles], vocab.interests)
        slots, n_slots = _onehot([_slots(p) for p in profiles], _SLOT_INDEX)
        support, n_support = _onehot([_distinct(p.support_kinds) for p in profiles], vocab.support)
        lat = np.full(n, np.nan)
        lng = np.full(n, np.nan)
        age = np.full(n, np.nan)
        waiting = np.full(n, np.nan)
        gender = np.full(n, UNKNOWN, dtype=np.int64)
        wish = np.zeros((n, max(len(vocab.genders), 1)), dtype=np.bool_)
        has_wish = np.zeros(n, dtype=np.bool_)
        age_min = np.full(n, -np.inf)
        age_max = np.full(n, np.inf)
        capacity = np.zeros(n, dtype=np.int64)
        for i, p in enumerate(profiles):
            if (where := geo.coordinates(p.postal_code)) is not None:
                lat[i], lng[i] = where
            if (years := age_on(p.birth_date, today)) is not None:
                age[i] = years
            if p.waiting_since is not None:
                waiting[i] = max((today - p.waiting_since).days, 0)
            if p.gender:
                gender[i] = vocab.genders.get(p.gender, OTHER)
            wished = [g for g in p.preferences.genders if g]
            if wished:
                has_wish[i] = True
                wish[i, [vocab.genders[g] for g in wished if g in vocab.genders]] = True
            if p.preferences.age_min is not None:
                age_min[i] = p.preferences.age_min
            if p.preferences.age_max is not None:
                age_max[i] = p.preferences.age_max
            capacity[i] = p.capacity_left
        custom = {
            c.key: _onehot([_distinct(p.custom.get(c.key, ())) for p in profiles], vocab.custom[c.key])
            for c in config.custom
        }
        return cls(
            ids=[p.id for p in profiles],
            languages=languages,
            n_languages=n_languages,
            interests=interests,
            n_interests=n_interests,
            slots=slots,
            n_slots=n_slots,
            lat=lat,
            lng=lng,
            age=age,
            gender=gender,
            wish_genders=wish,
            has_gender_wish=has_wish,
            age_min=age_min,
            age_max=age_max,
            support=support,
            n_support=n_support,
            capacity_left=capacity,
            waiting_days=waiting,
            custom=custom,
        )

    def __len__(self) -> int:
        return len(self.ids)

    def widened(self, vocab: Vocabulary) -> Side:
        """The same rows with a column of zeros for every word ``vocab`` adds to theirs."""

        def wide(matrix: Any, words: int) -> Any:
            extra = max(words, 1) - matrix.shape[1]
            return np.pad(matrix, ((0, 0), (0, extra))) if extra > 0 else matrix

        return replace(
            self,
            languages=wide(self.languages, len(vocab.languages)),
            interests=wide(self.interests, len(vocab.interests)),
            support=wide(self.support, len(vocab.support)),
            wish_genders=wide(self.wish_genders, len(vocab.genders)),
            custom={k: (wide(m, len(vocab.custom[k])), n) for k, (m, n) in self.custom.items()},
        )

    @staticmethod
    def joined(first: Side, second: Side) -> Side:
        """The rows of ``first``, then those of ``second`` (both encoded with the same vocabulary)."""
        return Side(
            ids=[*first.ids, *second.ids],
            **{name: np.concatenate((getattr(first, name), getattr(second, name))) for name in _ARRAYS},
            custom={
                k: (np.concatenate((m, second.custom[k][0])), np.concatenate((n, second.custom[k][1])))
                for k, (m, n) in first.custom.items()
            },
        )

    def put(self, rows: Sequence[int], other: Side) -> Side:
        """A copy with ``other``'s rows (same vocabulary) in place of the rows at ``rows``."""
        idx = np.asarray(rows, dtype=np.intp)

        def put(mine: Any, theirs: Any) -> Any:
            copy = mine.copy()
            copy[idx] = theirs
            return copy

        return Side(
            ids=self.ids,
            **{name: put(getattr(self, name), getattr(other, name)) for name in _ARRAYS},
            custom={
                k: (put(m, other.custom[k][0]), put(n, other.custom[k][1]))
                for k, (m, n) in self.custom.items()
            },
        )

    def take(self, rows: Sequence[int] | npt.NDArray[np.intp]) -> Side:
        idx = np.asarray(rows, dtype=np.intp)
        return Side(
            ids=list(map(self.ids.__getitem__, idx.tolist())),
            languages=self.languages[idx],
            n_languages=self.n_languages[idx],
            interests=self.interests[idx],
            n_interests=self.n_interests[idx],
            slots=self.slots[idx],
            n_slots=self.n_slots[idx],
            lat=self.lat[idx],
            lng=self.lng[idx],
            age=self.age[idx],
            gender=self.gender[idx],
            wish_genders=self.wish_genders[idx],
            has_gender_wish=self.has_gender_wish[idx],
            age_min=self.age_min[idx],
            age_max=self.age_max[idx],
            support=self.support[idx],
            n_support=self.n_support[idx],
            capacity_left=self.capacity_left[idx],
            waiting_days=self.waiting_days[idx],
            custom={k: (m[idx], n[idx]) for k, (m, n) in self.custom.items()},
        )


# Side's per-person arrays besides ``ids`` and ``custom``.
_ARRAYS = tuple(f.name for f in fields(Side) if f.name not in ("ids", "custom"))


# --------------------------------------------------------------------------- scoring


@dataclass
class Block:
    """Scores of every pair of ``mentees`` x ``mentors`` (rows x columns)."""

    total: F64
    feasible: Bool
    points: dict[str, F64]
    violations: dict[str, Bool]


def _overlap(left: F32, n_left: F64, right: F32, n_right: F64) -> tuple[F64, F64]:
    shared = (left @ right.T).astype(np.float64)
    shortest = np.minimum.outer(n_left, n_right)
    fraction = np.divide(shared, shortest, out=np.zeros_like(shared), where=shortest > 0)
    return shared, fraction


def _gender_mismatch(wisher: Side, other: Side, wisher_rows: bool) -> Bool:
    """True where the wisher wishes for a gender and the other's recorded gender is not one of them."""
    g = other.gender
    known = g >= 0
    cols = np.where(known, g, 0)
    # wish_genders[i, gender of j]: does i wish for j's gender?
    wished = wisher.wish_genders[:, cols]  # rows: wishers, columns: others
    mismatch: Bool = wisher.has_gender_wish[:, None] & (g != UNKNOWN)[None, :] & ~(wished & known[None, :])
    return mismatch if wisher_rows else mismatch.T


def _age_outside(wisher: Side, other: Side, wisher_rows: bool) -> Bool:
    a = other.age[None, :]
    with np.errstate(invalid="ignore"):
        outside = ~np.isnan(a) & ((a < wisher.age_min[:, None]) | (a > wisher.age_max[:, None]))
    return outside if wisher_rows else outside.T


def score_block(mentees: Side, mentors: Side, config: MatchingConfig) -> Block:
    w = config.weights
    rows, cols = len(mentees), len(mentors)
    points: dict[str, F64] = {}
    violations: dict[str, Bool] = {}

    shared_lang = (mentees.languages @ mentors.languages.T) > 0
    points["languages"] = w.languages * shared_lang.astype(np.float64)
    points["interests"] = (
        w.interests
        * _overlap(mentees.interests, mentees.n_interests, mentors.interests, mentors.n_interests)[1]
    )
    points["availability"] = (
        w.availability * _overlap(mentees.slots, mentees.n_slots, mentors.slots, mentors.n_slots)[1]
    )

    km = geo.haversine_km(
        mentees.lat[:, None], mentees.lng[:, None], mentors.lat[None, :], mentors.lng[None, :]
    )
    near = np.nan_to_num(np.clip(1.0 - km / config.distance_scale_km, 0.0, 1.0), nan=0.0)
    points["distance"] = w.distance * near

    gap = np.abs(mentees.age[:, None] - mentors.age[None, :])
    fit = 1.0 - np.abs(gap - config.ideal_age_gap_years) / config.age_gap_scale_years
    points["age_gap"] = w.age_gap * np.nan_to_num(np.clip(fit, 0.0, 1.0), nan=0.0)

    waited = np.nan_to_num(np.clip(mentees.waiting_days / config.waiting_scale_days, 0.0, 1.0), nan=0.0)
    points["waiting_time"] = np.broadcast_to(w.waiting_time * waited[:, None], (rows, cols)).copy()

    offered = (mentees.support @ mentors.support.T).astype(np.float64)
    wanted = mentees.n_support[:, None]
    support = np.divide(offered, wanted, out=np.zeros_like(offered), where=wanted > 0)
    points["support_kinds"] = w.support_kinds * support

    for criterion in config.custom:
        left, n_left = mentees.custom[criterion.key]
        right, n_right = mentors.custom[criterion.key]
        shares = (left @ right.T) > 0
        points[f"custom:{criterion.key}"] = criterion.weight * shares.astype(np.float64)
        if criterion.required:
            violations[f"custom:{criterion.key}"] = (n_left[:, None] > 0) & (n_right[None, :] > 0) & ~shares

    rules = config.rules
    if rules.common_language:
        both_known = (mentees.n_languages[:, None] > 0) & (mentors.n_languages[None, :] > 0)
        violations["common_language"] = both_known & ~shared_lang
    if rules.max_distance_km is not None:
        with np.errstate(invalid="ignore"):
            violations["max_distance"] = km > rules.max_distance_km
    if rules.preferences:
        violations["preferences"] = (
            _gender_mismatch(mentees, mentors, True)
            | _gender_mismatch(mentors, mentees, False)
            | _age_outside(mentees, mentors, True)
            | _age_outside(mentors, mentees, False)
        )
    if rules.capacity:
        violations["capacity"] = np.broadcast_to(mentors.capacity_left[None, :] <= 0, (rows, cols)).copy()
    if rules.support_kinds:
        both_known = (mentees.n_support[:, None] > 0) & (mentors.n_support[None, :] > 0)
        violations["support_kinds"] = both_known & (offered == 0)

    total = np.zeros((rows, cols))
    for value in points.values():
        total += value
    feasible = np.ones((rows, cols), dtype=np.bool_)
    for excluded in violations.values():
        feasible &= ~excluded
    # Someone who is both mentor and mentee is never matched with themselves.
    mentor_col = {pid: j for j, pid in enumerate(mentors.ids)}
    for i, pid in enumerate(mentees.ids):
        if (j := mentor_col.get(pid)) is not None:
            feasible[i, j] = False
    return Block(total=total, feasible=feasible, points=points, violations=violations)


def _transposed(matrix: F32) -> F32:
    return np.ascontiguousarray(matrix.T)


def _counts(columns: F32, person_row: F32) -> F64:
    """Per candidate, how many of the person's words they share: the person's columns, summed.

    The words are 0/1 and few, so the sums are the exact integers the matrix product gives.
    """
    picked = np.flatnonzero(person_row)
    if picked.size == 0:
        return np.zeros(columns.shape[1])
    shared: F64 = columns[picked].sum(axis=0, dtype=np.float32).astype(np.float64)
    return shared


def _fraction(shared: F64, shortest: F64) -> F64:
    return np.divide(shared, shortest, out=np.zeros_like(shared), where=shortest > 0)


@dataclass
class _Columns:
    """A pool's side laid out for ranking one person against all of it (see :class:`CandidatePool`).

    Everything here follows :func:`score_block` step for step; only the person's side is a
    single row, so its matrix products become sums of a few of the candidates' columns.
    """

    candidates_are_mentors: bool
    languages: F32
    interests: F32
    slots: F32
    support: F32
    custom: dict[str, F32]
    phi: F64  # the candidates' latitudes in radians
    cos_phi: F64
    lmb: F64  # longitudes in radians
    waiting_points: F64  # when the candidates are the mentees
    full: Bool  # mentors without a free place

    @classmethod
    def prepare(cls, side: Side, role: Role, config: MatchingConfig) -> _Columns:
        phi = np.radians(side.lat)
        waited = np.nan_to_num(np.clip(side.waiting_days / config.waiting_scale_days, 0.0, 1.0), nan=0.0)
        return cls(
            candidates_are_mentors=role == "mentor",
            languages=_transposed(side.languages),
            interests=_transposed(side.interests),
            slots=_transposed(side.slots),
            support=_transposed(side.support),
            custom={key: _transposed(matrix) for key, (matrix, _) in side.custom.items()},
            phi=phi,
            cos_phi=np.cos(phi),
            lmb=np.radians(side.lng),
            waiting_points=config.weights.waiting_time * waited,
            full=side.capacity_left <= 0,
        )

    def put(self, rows: Sequence[int], other: _Columns) -> _Columns:
        """A copy with ``other``'s candidates (prepared alike) in place of those at ``rows``."""
        idx = np.asarray(rows, dtype=np.intp)

        def column(mine: Any, theirs: Any) -> Any:
            copy = mine.copy()
            copy[:, idx] = theirs
            return copy

        def row(mine: Any, theirs: Any) -> Any:
            copy = mine.copy()
            copy[idx] = theirs
            return copy

        return replace(
            self,
            languages=column(self.languages, other.languages),
            interests=column(self.interests, other.interests),
            slots=column(self.slots, other.slots),
            support=column(self.support, other.support),
            custom={k: column(m, other.custom[k]) for k, m in self.custom.items()},
            phi=row(self.phi, other.phi),
            cos_phi=row(self.cos_phi, other.cos_phi),
            lmb=row(self.lmb, other.lmb),
            waiting_points=row(self.waiting_points, other.waiting_points),
            full=row(self.full, other.full),
        )

    def _km(self, me: Side) -> F64:
        # The same formula as geo.haversine_km with the mentee as the first place.
        if self.candidates_are_mentors:
            phi1, lmb1 = np.radians(me.lat), np.radians(me.lng)
            dphi = self.phi - phi1
            dlmb = self.lmb - lmb1
            a = np.sin(dphi / 2) ** 2 + np.cos(phi1) * self.cos_phi * np.sin(dlmb / 2) ** 2
        else:
            phi2, lmb2 = np.radians(me.lat), np.radians(me.lng)
            dphi = phi2 - self.phi
            dlmb = lmb2 - self.lmb
            a = np.sin(dphi / 2) ** 2 + self.cos_phi * np.cos(phi2) * np.sin(dlmb / 2) ** 2
        km: F64 = 2 * geo.EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
        return km

    def score(self, me: Side, side: Side, config: MatchingConfig) -> tuple[F64, Bool]:
        """The totals and the allowed pairs of ``me`` (one row) against every candidate."""
        w = config.weights
        n = len(side)
        mentees, mentors = (me, side) if self.candidates_are_mentors else (side, me)
        points: list[F64] = []
        violations: list[Bool] = []

        shared_lang = _counts(self.languages, me.languages[0]) > 0
        points.append(w.languages * shared_lang.astype(np.float64))
        interests = _counts(self.interests, me.interests[0])
        points.append(w.interests * _fraction(interests, np.minimum(me.n_interests[0], side.n_interests)))
        slots = _counts(self.slots, me.slots[0])
        points.append(w.availability * _fraction(slots, np.minimum(me.n_slots[0], side.n_slots)))

        km = self._km(me)
        near = np.nan_to_num(np.clip(1.0 - km / config.distance_scale_km, 0.0, 1.0), nan=0.0)
        points.append(w.distance * near)

        gap = np.abs(mentees.age - mentors.age)
        fit = 1.0 - np.abs(gap - config.ideal_age_gap_years) / config.age_gap_scale_years
        points.append(w.age_gap * np.nan_to_num(np.clip(fit, 0.0, 1.0), nan=0.0))

        if self.candidates_are_mentors:
            waited = np.nan_to_num(np.clip(me.waiting_days / config.waiting_scale_days, 0.0, 1.0), nan=0.0)
            points.append(np.full(n, w.waiting_time * waited[0]))
        else:
            points.append(self.waiting_points)

        offered = _counts(self.support, me.support[0])
        wanted = np.broadcast_to(mentees.n_support, (n,))
        points.append(w.support_kinds * _fraction(offered, wanted))

        for criterion in config.custom:
            mine, n_mine = me.custom[criterion.key]
            shares = _counts(self.custom[criterion.key], mine[0]) > 0
            points.append(criterion.weight * shares.astype(np.float64))
            if criterion.required:
                n_theirs = side.custom[criterion.key][1]
                violations.append((n_mine[0] > 0) & (n_theirs > 0) & ~shares)

        rules = config.rules
        if rules.common_language:
            violations.append((me.n_languages[0] > 0) & (side.n_languages > 0) & ~shared_lang)
        if rules.max_distance_km is not None:
            with np.errstate(invalid="ignore"):
                violations.append(km > rules.max_distance_km)
        if rules.preferences:
            violations.append(_wishes_unmet(me, side))
        if rules.capacity:
            if self.candidates_are_mentors:
                violations.append(self.full)
            elif me.capacity_left[0] <= 0:
                violations.append(np.ones(n, dtype=np.bool_))
        if rules.support_kinds:
            both_known = (mentees.n_support > 0) & (mentors.n_support > 0)
            violations.append(both_known & (offered == 0))

        total = np.zeros(n)
        for value in points:
            total += value
        feasible = np.ones(n, dtype=np.bool_)
        for excluded in violations:
            feasible &= ~excluded
        return total, feasible


def _wishes_unmet(me: Side, side: Side) -> Bool:
    """Gender and age wishes of either side that the other does not meet (the preferences rule)."""
    # The person's wishes against each candidate.
    g = side.gender
    known = g >= 0
    mine = me.wish_genders[0][np.where(known, g, 0)]
    unmet: Bool = me.has_gender_wish[0] & (g != UNKNOWN) & ~(mine & known)
    # Each candidate's wishes against the person.
    gender = int(me.gender[0])
    if gender != UNKNOWN:
        wished = side.wish_genders[:, gender] if gender >= 0 else np.zeros(len(side), np.bool_)
        unmet |= side.has_gender_wish & ~wished
    with np.errstate(invalid="ignore"):
        unmet |= ~np.isnan(side.age) & ((side.age < me.age_min[0]) | (side.age > me.age_max[0]))
        if not np.isnan(me.age[0]):
            unmet |= (me.age[0] < side.age_min) | (me.age[0] > side.age_max)
    return unmet


# --------------------------------------------------------------------------- explanations


# Answers are kept per pool, and the pools patched from one another share them: their structs
# hold only words and numbers, never a cycle, so the collector need not track them (gc=False).
class CriterionScore(msgspec.Struct, kw_only=True, gc=False):
    name: str
    label: str
    points: float
    max_points: float
    reason: str


class RuleViolation(msgspec.Struct, kw_only=True, gc=False):
    name: str
    reason: str


class PairScore(msgspec.Struct, kw_only=True):
    mentee_id: uuid.UUID
    mentor_id: uuid.UUID
    score: float
    excluded: bool
    criteria: list[CriterionScore]
    excluded_by: list[RuleViolation]


_LABELS: dict[str, tuple[str, str]] = {
    "languages": ("Sprache", "Language"),
    "interests": ("Interessen", "Interests"),
    "availability": ("Zeit", "Availability"),
    "distance": ("Entfernung", "Distance"),
    "age_gap": ("Altersunterschied", "Age gap"),
    "waiting_time": ("Wartezeit", "Waiting time"),
    "support_kinds": ("Unterstützung", "Support"),
}


def _t(locale: Locale, message: str, **params: Any) -> str:
    """A reason in the coordinator's language (the matching catalogue)."""
    return i18n.gettext(locale, message, domain="matching", **params)


def _shared_words(a: Iterable[str], b: Iterable[str]) -> list[str]:
    """Words of ``a`` that ``b`` also has, in ``a``'s spelling and order, once each."""
    other = {norm(x) for x in b}
    seen: set[str] = set()
    out = []
    for word in a:
        key = norm(word)
        if key in other and key not in seen:
            seen.add(key)
            out.append(word.strip())
    return out


def _reason(
    name: str, mentee: Profile, mentor: Profile, config: MatchingConfig, today: date, locale: Locale
) -> str:
    t = locale
    if name == "languages":
        common = sorted(_languages(mentee) & _languages(mentor))
        if common:
            names = texts.join((texts.language_name(c, t) for c in common), t)
            return _t(t, "both speak %(names)s", names=names)
        if not _languages(mentee) or not _languages(mentor):
            return _t(t, "languages not recorded")
        return _t(t, "no common language")
    if name == "interests":
        common = _shared_words(mentee.interests, mentor.interests)
        if common:
            return _t(t, "shared interests: %(common)s", common=texts.join(common, t))
        if not _distinct(mentee.interests) or not _distinct(mentor.interests):
            return _t(t, "interests not recorded")
        return _t(t, "no shared interests")
    if name == "availability":
        a, b = _slots(mentee), _slots(mentor)
        if not a or not b:
            return _t(t, "availability not recorded")
        common = [s for s in texts.SLOTS if s in a and s in b]
        if not common:
            return _t(t, "no common time")
        reason = _t(t, "common time: %(slots)s", slots=texts.join((texts.slot_name(s, t) for s in common), t))
        if (a & texts.WEEKEND) and (b & texts.WEEKEND) and not (set(common) & texts.WEEKEND):
            reason += _t(t, "; no common time at the weekend")
        return reason
    if name == "distance":
        km = geo.distance_km(mentee.postal_code, mentor.postal_code)
        if km is None:
            return _t(t, "distance unknown (no postal code)")
        return _t(t, "%(km)s apart", km=texts.km(km, t))
    if name == "age_gap":
        mentee_age, mentor_age = age_on(mentee.birth_date, today), age_on(mentor.birth_date, today)
        if mentee_age is None or mentor_age is None:
            return _t(t, "age unknown")
        gap = abs(mentee_age - mentor_age)
        return _t(t, "%(gap)s years apart in age", gap=gap)
    if name == "waiting_time":
        if mentee.waiting_since is None:
            return _t(t, "waiting time unknown")
        days = max((today - mentee.waiting_since).days, 0)
        return _t(t, "waiting for %(days)s days", days=days)
    if name == "support_kinds":
        if not _distinct(mentee.support_kinds):
            return _t(t, "no particular support wanted")
        common = _shared_words(mentee.support_kinds, mentor.support_kinds)
        if common:
            return _t(t, "offers the support wanted: %(common)s", common=texts.join(common, t))
        return _t(t, "does not offer the support wanted")
    key = name.removeprefix("custom:")
    label = next(c.label for c in config.custom if c.key == key)
    common = _shared_words(mentee.custom.get(key, ()), mentor.custom.get(key, ()))
    if common:
        return _t(t, "%(label)s: both %(common)s", label=label, common=texts.join(common, t))
    if not mentee.custom.get(key) or not mentor.custom.get(key):
        return _t(t, "%(label)s: not recorded", label=label)
    return _t(t, "%(label)s: different", label=label)


def _gender_words(values: Iterable[str], t: Locale) -> str:
    return texts.join((texts.gender_name(g, t) for g in values), t)


def _violation(
    name: str, mentee: Profile, mentor: Profile, config: MatchingConfig, today: date, locale: Locale
) -> str:
    t = locale
    if name == "common_language":
        return _t(t, "no common language")
    if name == "max_distance":
        km = geo.distance_km(mentee.postal_code, mentor.postal_code) or 0.0
        limit = config.rules.max_distance_km or 0.0
        return _t(t, "%(km)s apart, at most %(limit)s km allowed", km=texts.km(km, t), limit=f"{limit:g}")
    if name == "capacity":
        return _t(
            t, "no free place (%(load)s of %(capacity)s taken)", load=mentor.load, capacity=mentor.capacity
        )
    if name == "support_kinds":
        wanted = texts.join((k.strip() for k in mentee.support_kinds), t)
        return _t(t, "offers none of the support wanted (%(wanted)s)", wanted=wanted)
    if name == "preferences":
        parts: list[str] = []
        for wisher, other, wisher_role, other_role in (
            (mentee, mentor, "mentee", "mentor"),
            (mentor, mentee, "mentor", "mentee"),
        ):
            w = texts.role_word(wisher_role, t)
            o = texts.role_word(other_role, t)
            wished = [g for g in wisher.preferences.genders if g]
            if wished and other.gender and other.gender not in wished:
                asked, actual = _gender_words(wished, t), texts.gender_name(other.gender, t)
                parts.append(
                    _t(
                        t,
                        "%(wisher)s asks for %(asked)s, %(other)s is %(actual)s",
                        wisher=w,
                        asked=asked,
                        other=o,
                        actual=actual,
                    )
                )
            age = age_on(other.birth_date, today)
            lo, hi = wisher.preferences.age_min, wisher.preferences.age_max
            if age is not None and ((lo is not None and age < lo) or (hi is not None and age > hi)):
                low = lo if lo is not None else 0
                if hi is not None:
                    wanted = _t(t, "%(low)s to %(high)s", low=low, high=hi)
                else:
                    wanted = _t(t, "%(low)s or older", low=lo)
                parts.append(
                    _t(
                        t,
                        "%(wisher)s asks for an age of %(wanted)s, %(other)s is %(age)s",
                        wisher=w,
                        wanted=wanted,
                        other=o,
                        age=age,
                    )
                )
        return "; ".join(parts)
    key = name.removeprefix("custom:")
    label = next(c.label for c in config.custom if c.key == key)
    return _t(t, "%(label)s: no value in common", label=label)


def _label(name: str, config: MatchingConfig, locale: Locale) -> str:
    if name in _LABELS:
        return _LABELS[name][0 if locale == "de" else 1]
    key = name.removeprefix("custom:")
    return next(c.label for c in config.custom if c.key == key)


def _max_points(name: str, config: MatchingConfig) -> float:
    if name.startswith("custom:"):
        key = name.removeprefix("custom:")
        return next(c.weight for c in config.custom if c.key == key)
    weight: float = getattr(config.weights, name)
    return weight


def explain_block(
    block: Block,
    i: int,
    j: int,
    mentee: Profile,
    mentor: Profile,
    config: MatchingConfig,
    today: date,
    locale: Locale = "de",
) -> PairScore:
    """The pair at row ``i``, column ``j`` of ``block``, criterion by criterion, in words."""
    criteria = [
        CriterionScore(
            name=name,
            label=_label(name, config, locale),
            points=round(float(values[i, j]), 2),
            max_points=_max_points(name, config),
            reason=_reason(name, mentee, mentor, config, today, locale),
        )
        for name, values in block.points.items()
        if _max_points(name, config) > 0
    ]
    excluded_by = [
        RuleViolation(name=name, reason=_violation(name, mentee, mentor, config, today, locale))
        for name, hit in block.violations.items()
        if hit[i, j]
    ]
    if mentee.id == mentor.id:
        excluded_by.append(RuleViolation(name="same_person", reason=_t(locale, "the same person")))
    return PairScore(
        mentee_id=mentee.id,
        mentor_id=mentor.id,
        score=round(float(block.total[i, j]), 2),
        excluded=not bool(block.feasible[i, j]),
        criteria=criteria,
        excluded_by=excluded_by,
    )


def score_pair(
    mentee: Profile, mentor: Profile, config: MatchingConfig, today: date, locale: Locale = "de"
) -> PairScore:
    vocab = Vocabulary.build((mentee, mentor), config)
    block = score_block(
        Side.encode([mentee], vocab, config, today), Side.encode([mentor], vocab, config, today), config
    )
    return explain_block(block, 0, 0, mentee, mentor, config, today, locale)


# --------------------------------------------------------------------------- suggestions


class Suggestion(msgspec.Struct, kw_only=True, gc=False):
    candidate_id: uuid.UUID
    score: float
    criteria: list[CriterionScore]


AnswerKey = tuple[bytes, int, str]


# A candidate's place in the ranking's order (best score, longer waiting, smaller id first): the
# score rounded as ranking compares it, negated, the days waited (-1 unknown) negated, the id.
Place = tuple[float, float, uuid.UUID]


@dataclass(frozen=True)
class Answer:
    """The suggestions for one person, each one's place in the ranking's order, and the place of
    the last of them; None when fewer than asked for were allowed."""

    suggestions: list[Suggestion]
    last: Place | None
    places: tuple[Place, ...] = ()
    # What callers made of it (see :meth:`kept`).
    _kept: dict[tuple[Any, ...], Any] = field(default_factory=dict, compare=False, repr=False)

    def kept(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        """What ``make`` returns for ``key``, made once per answer: for a caller's body written
        from the answer, the pool's size and the names of its candidates. A pool that takes the
        answer over unchanged holds the same candidates, unchanged, so only its size may differ
        (keep it in ``key``); a merged or new answer is a new object and starts empty."""
        found = self._kept.get(key, _MISSING)
        if found is _MISSING:
            if len(self._kept) >= ANSWER_BODIES_KEPT:
                self._kept.clear()
            found = self._kept[key] = make()
        return cast(T, found)


@dataclass(frozen=True)
class _Few:
    """Some of a pool's candidates, laid out for ranking one person against them."""

    side: Side
    columns: _Columns
    config: MatchingConfig

    def score(self, me: Side, person: Profile) -> tuple[F64, Bool]:
        """Row 0 of a block of ``person`` against these candidates: totals and allowed pairs."""
        total, feasible = self.columns.score(me, self.side, self.config)
        # Never with themselves, as in a block: their own changed row would stop an answer
        # being carried over.
        if person.id in self.side.ids:
            feasible[self.side.ids.index(person.id)] = False
        return total, feasible


class CandidatePool:
    """The people of one side, encoded once, to rank against any person of the other side.

    Ranking one person takes one pass over column arrays prepared here (the candidates' one-hot
    columns transposed, their coordinates in radians), with the same arithmetic, in the same
    order, as :func:`score_block`: the totals are the same numbers, bit for bit, and
    ``tests/matching/test_ranking.py`` holds the two against each other. Only the chosen few are
    scored again through :func:`score_block` to be explained.
    """

    def __init__(self, profiles: Sequence[Profile], role: Role, config: MatchingConfig, today: date) -> None:
        # In the order of their ids: a candidate's position breaks ties between equal scores, and
        # a pool patched with :meth:`patched` has every person where a fresh build puts them.
        self.profiles = sorted(profiles, key=lambda p: p.id)
        vocab = Vocabulary.build(self.profiles, config)
        self._set(role, config, today, vocab, Side.encode(self.profiles, vocab, config, today))

    def _set(
        self,
        role: Role,
        config: MatchingConfig,
        today: date,
        vocab: Vocabulary,
        side: Side,
        columns: _Columns | None = None,
        encoded: dict[bytes, Side] | None = None,
    ) -> None:
        self.role = role
        self.config = config
        self.today = today
        self.vocab = vocab
        self.side = side
        self._columns = columns or _Columns.prepare(self.side, role, config)
        # Answers already given from this pool: the same person asking again costs a lookup.
        self._answers: OrderedDict[AnswerKey, Answer] = OrderedDict()
        self._answers_lock = threading.Lock()
        # Whole answers as a caller sent them (see :meth:`kept`): made from this pool alone.
        self._kept: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        # People asking, encoded with ``vocab``: shared by the pools patched with the same words.
        self._encoded: dict[bytes, Side] = {} if encoded is None else encoded
        self._fews: dict[tuple[int, ...], _Few] = {}
        # The pool this one was patched from, and who changed in between (see :meth:`_carried`).
        self._base: CandidatePool | None = None
        self._delta: frozenset[uuid.UUID] = frozenset()

    def patched(self, changed: Iterable[uuid.UUID], profiles: Sequence[Profile]) -> CandidatePool:
        """A new pool without the ``changed`` people, then with ``profiles`` (those of them who
        still belong), ranking exactly as a pool built from scratch with the same people.

        Only the new rows are encoded; the others are copied, and words new to the pool get new
        columns. This pool stays as it was: requests that read it keep a consistent view.
        """
        # A person named twice is one row (the last profile read of them).
        fresh = sorted({p.id: p for p in profiles}.values(), key=lambda p: p.id)
        gone = set(changed) | {p.id for p in fresh}
        pool = CandidatePool.__new__(CandidatePool)
        rows = [self.position(p.id) for p in fresh]
        vocab = self.vocab.extended(fresh)
        if len(gone) == len(fresh) and None not in rows and vocab.size() == self.vocab.size():
            # Only people already here changed, in words the pool knows: their rows are written
            # over in copies of the arrays, everyone keeps their place, and the columns prepared
            # for ranking are copied too instead of being laid out again.
            places = [at for at in rows if at is not None]
            new = Side.encode(fresh, self.vocab, self.config, self.today)
            side = self.side.put(places, new)
            columns = self._columns.put(places, _Columns.prepare(new, self.role, self.config))
            pool.profiles = list(self.profiles)
            for at, person in zip(places, fresh, strict=True):
                pool.profiles[at] = person
            pool._set(self.role, self.config, self.today, self.vocab, side, columns, self._encoded)
            return self._descend(pool, gone)
        leaving = [row for i in gone if (row := self.position(i)) is not None]
        keep = np.delete(np.arange(len(self)), leaving)
        side = Side.joined(self.side.widened(vocab), Side.encode(fresh, vocab, self.config, self.today))
        # The kept rows, and each new person before the first kept one with a larger id: the
        # order of ids again. New rows follow the old ones in ``side``.
        kept_ids = list(map(self.side.ids.__getitem__, keep.tolist()))
        places = [bisect.bisect_left(kept_ids, p.id) for p in fresh]
        order = np.insert(keep, places, np.arange(len(self), len(self) + len(fresh)))
        pool.profiles = list(map([*self.profiles, *fresh].__getitem__, order.tolist()))
        pool._set(self.role, self.config, self.today, vocab, side.take(order))
        return self._descend(pool, gone)

    def _descend(self, pool: CandidatePool, gone: set[uuid.UUID]) -> CandidatePool:
        """``pool``, patched from this one for the changes of ``gone``."""
        pool._base, pool._delta = self, frozenset(gone)
        # Only a few pools back are looked at: let the older ones go.
        oldest = pool
        for _ in range(ANSWERS_CARRIED):
            if oldest._base is None:
                break
            oldest = oldest._base
        oldest._base = None
        return pool

    def __len__(self) -> int:
        return len(self.profiles)

    def position(self, candidate_id: uuid.UUID) -> int | None:
        """Where a candidate is in this pool (the pool is in the order of ids), if in it."""
        at = bisect.bisect_left(self.side.ids, candidate_id)
        return at if at < len(self.side.ids) and self.side.ids[at] == candidate_id else None

    @cached_property
    def positions(self) -> dict[uuid.UUID, int]:
        return {candidate_id: i for i, candidate_id in enumerate(self.side.ids)}

    def _few(self, rows: tuple[int, ...]) -> _Few:
        """The candidates at ``rows`` laid out for ranking, as every answer carried over asks for
        the same few (those who changed since the pool that gave it)."""
        few = self._fews.get(rows)
        if few is None:
            side = self.side.take(rows)
            few = _Few(side, _Columns.prepare(side, self.role, self.config), self.config)
            if len(self._fews) >= ANSWERS_CARRIED:
                self._fews.clear()
            self._fews[rows] = few
        return few

    def _me(self, person: Profile) -> Side:
        """The person asking, encoded with this pool's words (kept: asked about again and again)."""
        key = msgspec.msgpack.encode(person)
        me = self._encoded.get(key)
        if me is None:
            me = Side.encode([person], self.vocab, self.config, self.today)
            if len(self._encoded) >= ENCODED_KEPT:
                self._encoded.clear()
            self._encoded[key] = me
        return me

    def _block(self, person: Profile, candidates: Side) -> Block:
        me = self._me(person)
        if self.role == "mentor":
            return score_block(me, candidates, self.config)
        # Ranking mentees for a mentor: mentees are the rows; transpose to one row of candidates.
        block = score_block(candidates, me, self.config)
        return Block(
            total=block.total.T,
            feasible=block.feasible.T,
            points={k: v.T for k, v in block.points.items()},
            violations={k: v.T for k, v in block.violations.items()},
        )

    def scores(self, person: Profile) -> tuple[F64, Bool]:
        """Every candidate's total and whether the pair is allowed: row 0 of :meth:`_block`."""
        total, feasible = self._columns.score(self._me(person), self.side, self.config)
        if (at := self.position(person.id)) is not None:
            feasible[at] = False
        return total, feasible

    def rank(self, person: Profile, limit: int) -> tuple[npt.NDArray[np.intp], F64]:
        """Positions and scores of the best ``limit`` feasible candidates, best first."""
        scores, allowed = self.scores(person)
        top = np.flatnonzero(allowed)
        rounded = np.round(scores[top], 6)
        if limit <= 0:
            top, rounded = top[:0], rounded[:0]
        elif top.size > limit:
            # Everyone as good as the limit-th best, ties included: the order below picks among them.
            kth = np.partition(rounded, top.size - limit)[top.size - limit]
            top, rounded = top[rounded >= kth], rounded[rounded >= kth]
        # Best first; equal scores: the longer-waiting, then the earlier-created (smaller UUIDv7) first.
        waiting = np.nan_to_num(self.side.waiting_days[top], nan=-1.0)
        order = np.lexsort((top, -waiting, -rounded))[:limit]
        chosen = top[order]
        return chosen, scores[chosen]

    def suggest(self, person: Profile, limit: int = 10, locale: Locale = "de") -> list[Suggestion]:
        """The best ``limit`` candidates with their breakdowns; the suggestions are shared between
        callers and must not be changed."""
        return list(self.answer(person, limit, locale).suggestions)

    def answer(self, person: Profile, limit: int = 10, locale: Locale = "de") -> Answer:
        """:meth:`suggest`'s answer itself, shared between callers (and pools): not to be changed."""
        key = (msgspec.msgpack.encode(person), limit, locale)
        with self._answers_lock:
            found = self._answers.get(key)
            if found is not None:
                self._answers.move_to_end(key)
                return found
        found, known = self._carried(person, key)
        if found is None:
            chosen, scores = self.rank(person, limit)
            found = self._answer(person, chosen, self._places(chosen, scores), limit, locale, known)
        with self._answers_lock:
            self._answers[key] = found
            while len(self._answers) > ANSWERS_KEPT:
                self._answers.popitem(last=False)
        return found

    def kept(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        """What ``make`` returns for ``key``, made once per pool: for a caller's whole answer (the
        response body) when it depends on nothing but this pool and ``key``. A patched or rebuilt
        pool is a new object and starts empty, so nothing made from an older pool is given again."""
        with self._answers_lock:
            found = self._kept.get(key, _MISSING)
            if found is not _MISSING:
                self._kept.move_to_end(key)
                return cast(T, found)
        made = make()
        with self._answers_lock:
            self._kept[key] = made
            while len(self._kept) > ANSWERS_KEPT:
                self._kept.popitem(last=False)
        return made

    def _places(self, rows: Sequence[int] | npt.NDArray[np.intp], totals: F64) -> list[Place]:
        """The places in the ranking's order of the candidates at ``rows`` with these totals."""
        rounded = np.round(totals, 6).tolist()
        waiting = np.nan_to_num(self.side.waiting_days[list(rows)], nan=-1.0).tolist()
        return [(-r, -w, self.profiles[at].id) for r, w, at in zip(rounded, waiting, rows, strict=True)]

    def _answer(
        self,
        person: Profile,
        chosen: Sequence[int] | npt.NDArray[np.intp],
        places: Sequence[Place],
        limit: int,
        locale: Locale,
        known: dict[uuid.UUID, Suggestion],
    ) -> Answer:
        last = places[-1] if places and len(places) == limit else None
        return Answer(self.explain(person, chosen, locale, known), last, tuple(places))

    def _carried(self, person: Profile, key: AnswerKey) -> tuple[Answer | None, dict[uuid.UUID, Suggestion]]:
        """An answer a pool this one was patched from gave, if it is still the answer here; else
        none, and that answer's suggestions of candidates who did not change since.

        It is when none of its candidates changed since and nobody who changed (or joined) now
        ranks before its last one: everyone else is scored as before, by the same person, so the
        best few stay the best few, with the same reasons. Costs scoring the changed few. When
        none of its candidates changed but some who did now rank before its last one, the answer
        here is the best of its candidates and of those, without ranking everyone again. When it
        is not, a pair's breakdown depends on the two profiles alone (with the same settings and
        day, which a patch keeps), so the unchanged candidates' suggestions can be given again.
        """
        changed: set[uuid.UUID] = set()
        pool = self
        found = None
        for _ in range(ANSWERS_CARRIED):
            base = pool._base
            if base is None:
                return None, {}
            changed |= pool._delta
            with base._answers_lock:
                found = base._answers.get(key)
            if found is not None:
                break
            pool = base
        if found is None:
            return None, {}
        known = {s.candidate_id: s for s in found.suggestions if s.candidate_id not in changed}
        if len(known) < len(found.suggestions):
            return None, known
        rows = tuple(sorted(at for i in changed if (at := self.position(i)) is not None))
        if not rows:
            return found, known
        total, feasible = self._few(rows).score(self._me(person), person)
        allowed = np.flatnonzero(feasible).tolist()
        # The changed candidates who now rank before the last one (all allowed ones when fewer
        # than asked for were): everyone else ranks after it, as before.
        places = self._places([rows[j] for j in allowed], total[allowed])
        entering = [
            (place, rows[j])
            for j, place in zip(allowed, places, strict=True)
            if found.last is None or place < found.last
        ]
        if not entering:
            return found, known
        if len(found.places) != len(found.suggestions):
            return None, known
        # So the best are the best of the answer's candidates and of those: places are unique
        # (ids are), and a candidate's position in the pool follows its id.
        limit, locale = key[1], key[2]
        now = sorted(
            [*((place, self.position(place[2])) for place in found.places), *entering],
            key=lambda entry: entry[0],
        )[:limit]
        chosen = [at for _, at in now if at is not None]
        if len(chosen) != len(now):
            return None, known
        merged = self._answer(person, chosen, [p for p, _ in now], limit, cast(Locale, locale), known)
        return merged, known

    def explain(
        self,
        person: Profile,
        chosen: Sequence[int] | npt.NDArray[np.intp],
        locale: Locale = "de",
        known: dict[uuid.UUID, Suggestion] | None = None,
    ) -> list[Suggestion]:
        """The candidates at these positions, in this order, with their breakdowns; ``known``:
        breakdowns of some of them for this person, already written (see :meth:`_carried`)."""
        known = known or {}
        out: list[Suggestion | None] = [known.get(self.profiles[pos].id) for pos in chosen]
        todo = [k for k, s in enumerate(out) if s is None]
        if todo:
            block = self._block(person, self.side.take([chosen[k] for k in todo]))
            for column, k in enumerate(todo):
                candidate = self.profiles[chosen[k]]
                mentee, mentor = (person, candidate) if self.role == "mentor" else (candidate, person)
                pair = explain_block(block, 0, column, mentee, mentor, self.config, self.today, locale)
                out[k] = Suggestion(candidate_id=candidate.id, score=pair.score, criteria=pair.criteria)
        return [s for s in out if s is not None]
