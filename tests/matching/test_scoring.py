"""The score of a pair, computed by hand for small cases, and its reasons in words."""

from __future__ import annotations

import math
import uuid
from datetime import date

import msgspec
import pytest

from shared.matching import geo
from shared.matching.config import CustomCriterion, HardRules, MatchingConfig, Weights
from shared.matching.profile import Preferences, Profile
from shared.matching.scoring import CandidatePool, PairScore, score_pair

TODAY = date(2026, 11, 25)


def person(**fields: object) -> Profile:
    return msgspec.convert({"id": str(uuid.uuid4()), **fields}, Profile)


def points(pair: PairScore) -> dict[str, float]:
    return {c.name: c.points for c in pair.criteria}


def reasons(pair: PairScore) -> dict[str, str]:
    return {c.name: c.reason for c in pair.criteria}


def excluded_by(pair: PairScore) -> dict[str, str]:
    return {v.name: v.reason for v in pair.excluded_by}


MENTEE = dict(
    languages=["ar", "de"],
    interests=["Fußball", "Kochen", "Lesen"],
    availability=["tue-evening", "sat-morning"],
    postal_code="10115",
    gender="male",
    birth_date="2010-06-01",  # 16 on TODAY
    waiting_since="2026-08-27",  # 90 days before TODAY
    support_kinds=["Hausaufgaben"],
)
MENTOR = dict(
    languages=["AR", "en"],
    interests=["kochen", " fußball ", "Schach", "Musik"],
    availability=["tue-evening", "wed-evening", "sun-afternoon"],
    postal_code="10115",
    gender="female",
    birth_date="1986-01-01",  # 40 on TODAY
    support_kinds=["Hausaufgaben", "Bewerbungen"],
    capacity=2,
    load=1,
)


def test_a_good_pair_by_hand() -> None:
    pair = score_pair(person(**MENTEE), person(**MENTOR), MatchingConfig(), TODAY)
    assert not pair.excluded and pair.excluded_by == []
    # Default weights: languages 10, interests 25, availability 25, distance 20, age 5, waiting 10, support 5.
    assert points(pair) == {
        "languages": 10.0,  # they share Arabic
        "interests": round(25 * 2 / 3, 2),  # football and cooking of the mentee's three
        "availability": 12.5,  # Tuesday evening, one of the mentee's two times
        "distance": 20.0,  # same postal code
        "age_gap": 2.0,  # 24 years: 5 * (1 - 24/40)
        "waiting_time": 5.0,  # 90 of 180 days
        "support_kinds": 5.0,  # homework help is offered
    }
    assert pair.score == round(10 + 25 * 2 / 3 + 12.5 + 20 + 2 + 5 + 5, 2)
    assert reasons(pair) == {
        "languages": "beide sprechen Arabisch",
        "interests": "gemeinsame Interessen: Fußball und Kochen",
        "availability": "gemeinsame Zeit: Di abends; keine gemeinsame Zeit am Wochenende",
        "distance": "weniger als 1 km entfernt",
        "age_gap": "24 Jahre Altersunterschied",
        "waiting_time": "wartet seit 90 Tagen",
        "support_kinds": "bietet gewünschte Unterstützung: Hausaufgaben",
    }


def test_reasons_in_english() -> None:
    pair = score_pair(person(**MENTEE), person(**MENTOR), MatchingConfig(), TODAY, locale="en")
    assert reasons(pair)["languages"] == "both speak Arabic"
    assert reasons(pair)["availability"] == "common time: Tue evening; no common time at the weekend"
    assert [c.label for c in pair.criteria][:2] == ["Language", "Interests"]


def _haversine(a: str, b: str) -> float:
    (lat1, lng1), (lat2, lng2) = geo.coordinates(a), geo.coordinates(b)  # type: ignore[misc]
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def test_distance_points_fall_linearly_to_the_scale() -> None:
    mentee = person(postal_code="10115")
    mentor = person(postal_code="12043")  # Berlin-Neukölln
    km = _haversine("10115", "12043")
    assert 7 < km < 8
    pair = score_pair(mentee, mentor, MatchingConfig(), TODAY)
    assert points(pair)["distance"] == round(20 * (1 - km / 30), 2)
    assert reasons(pair)["distance"] == "7 km entfernt"
    far = score_pair(mentee, person(postal_code="80331"), MatchingConfig(), TODAY)
    assert points(far)["distance"] == 0.0 and reasons(far)["distance"] == "505 km entfernt"
    unknown = score_pair(mentee, person(postal_code="99999"), MatchingConfig(), TODAY)
    assert points(unknown)["distance"] == 0.0
    assert reasons(unknown)["distance"] == "Entfernung unbekannt (Postleitzahl fehlt)"


def test_postal_codes_are_read_as_germans_write_them() -> None:
    assert geo.coordinates("1067") == geo.coordinates("01067") == geo.coordinates(" D-01067 ")
    assert geo.coordinates("abcde") is None and geo.coordinates(None) is None
    assert geo.distance_km("10115", "10115") == 0.0


def test_a_pair_with_no_common_language_is_excluded() -> None:
    mentee = person(languages=["ar"], interests=["Kochen"])
    mentor = person(languages=["de", "en"], interests=["Kochen"])
    pair = score_pair(mentee, mentor, MatchingConfig(), TODAY)
    assert pair.excluded
    assert excluded_by(pair) == {"common_language": "keine gemeinsame Sprache"}
    assert points(pair)["languages"] == 0.0 and reasons(pair)["languages"] == "keine gemeinsame Sprache"
    # The score is still shown, so a coordinator sees what the pair would bring.
    assert pair.score == 25.0
    relaxed = MatchingConfig(rules=HardRules(common_language=False))
    assert not score_pair(mentee, mentor, relaxed, TODAY).excluded
    # Nobody is excluded for a language list that was never filled in.
    assert not score_pair(person(), mentor, MatchingConfig(), TODAY).excluded


def test_the_distance_rule() -> None:
    config = MatchingConfig(rules=HardRules(max_distance_km=50))
    pair = score_pair(person(postal_code="10115"), person(postal_code="80331"), config, TODAY)
    assert excluded_by(pair) == {"max_distance": "505 km entfernt, erlaubt sind höchstens 50 km"}
    near = score_pair(person(postal_code="10115"), person(postal_code="12043"), config, TODAY)
    assert not near.excluded
    assert not score_pair(person(postal_code="10115"), person(), config, TODAY).excluded


def test_gender_and_age_wishes_of_both_sides() -> None:
    config = MatchingConfig()
    wants_woman = person(gender="male", birth_date="2010-06-01", preferences={"genders": ["female"]})
    man = person(gender="male", birth_date="1990-01-01")
    woman = person(gender="female", birth_date="1990-01-01")
    pair = score_pair(wants_woman, man, config, TODAY)
    assert excluded_by(pair) == {"preferences": "Mentee wünscht sich weiblich, Mentor:in ist männlich"}
    assert not score_pair(wants_woman, woman, config, TODAY).excluded
    # A gender that was not recorded excludes nobody.
    assert not score_pair(wants_woman, person(), config, TODAY).excluded

    likes_young = person(gender="female", preferences={"age_min": 10, "age_max": 14})
    pair = score_pair(person(birth_date="2010-06-01"), likes_young, config, TODAY)
    assert excluded_by(pair) == {
        "preferences": "Mentor:in wünscht sich ein Alter von 10 bis 14, Mentee ist 16"
    }
    assert not score_pair(person(birth_date="2013-01-01"), likes_young, config, TODAY).excluded
    assert not score_pair(person(), likes_young, config, TODAY).excluded

    off = MatchingConfig(rules=HardRules(preferences=False))
    assert not score_pair(wants_woman, man, off, TODAY).excluded


def test_a_full_mentor_is_excluded_by_capacity() -> None:
    full = person(capacity=2, load=2)
    pair = score_pair(person(), full, MatchingConfig(), TODAY)
    assert excluded_by(pair) == {"capacity": "keine freien Plätze (2 von 2 belegt)"}
    assert not score_pair(person(), person(capacity=2, load=1), MatchingConfig(), TODAY).excluded
    assert not score_pair(person(), full, MatchingConfig(rules=HardRules(capacity=False)), TODAY).excluded


def test_the_support_rule_and_a_required_custom_criterion() -> None:
    config = MatchingConfig(
        rules=HardRules(support_kinds=True),
        custom=[CustomCriterion(key="district", label="Stadtteil", weight=8, required=True)],
    )
    mentee = person(support_kinds=["Sprache"], custom={"district": ["Nord"]})
    mentor = person(support_kinds=["Hausaufgaben"], custom={"district": ["Süd", "West"]})
    pair = score_pair(mentee, mentor, config, TODAY)
    assert excluded_by(pair) == {
        "custom:district": "Stadtteil: keine Übereinstimmung",
        "support_kinds": "bietet keine der gewünschten Unterstützungen (Sprache)",
    }
    fits = person(support_kinds=["sprache"], custom={"district": ["nord"]})
    pair = score_pair(mentee, fits, config, TODAY)
    assert not pair.excluded
    assert points(pair)["custom:district"] == 8.0 and points(pair)["support_kinds"] == 5.0
    assert reasons(pair)["custom:district"] == "Stadtteil: beide Nord"


def test_weights_shape_the_score_and_zero_weights_are_left_out() -> None:
    config = MatchingConfig(
        weights=Weights(
            languages=0, interests=100, availability=0, distance=0, age_gap=0, waiting_time=0, support_kinds=0
        )
    )
    pair = score_pair(person(interests=["a", "b"]), person(interests=["b", "c", "d"]), config, TODAY)
    assert pair.criteria and [c.name for c in pair.criteria] == ["interests"]
    assert pair.score == 50.0
    assert reasons(pair)["interests"] == "gemeinsame Interessen: b"


def test_bad_settings_are_refused_naming_the_field() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"weights.distance"):
        msgspec.convert({"weights": {"distance": -1}}, MatchingConfig)
    with pytest.raises(msgspec.ValidationError, match=r"rules.max_distance_km"):
        msgspec.convert({"rules": {"max_distance_km": 0}}, MatchingConfig)
    with pytest.raises(msgspec.ValidationError, match="only once"):
        msgspec.convert({"custom": [{"key": "a", "label": "A"}, {"key": "a", "label": "B"}]}, MatchingConfig)


def test_suggestions_are_the_best_allowed_candidates_with_their_breakdown() -> None:
    mentee = person(**MENTEE)
    best = person(**MENTOR)
    second = person(languages=["ar"], interests=["Lesen"], postal_code="12043")
    no_language = person(languages=["fr"], interests=["Fußball", "Kochen", "Lesen"], postal_code="10115")
    full = person(**{**MENTOR, "load": 2})
    weak = person(languages=["de"])
    pool = CandidatePool([weak, no_language, second, full, best], "mentor", MatchingConfig(), TODAY)
    got = pool.suggest(mentee, limit=10)
    assert [s.candidate_id for s in got] == [best.id, second.id, weak.id]
    for s in got:
        mentor = next(p for p in pool.profiles if p.id == s.candidate_id)
        alone = score_pair(mentee, mentor, MatchingConfig(), TODAY)
        assert s.score == alone.score and s.criteria == alone.criteria
    assert [s.candidate_id for s in pool.suggest(mentee, limit=2)] == [best.id, second.id]

    # The other way round: mentees for a mentor, the longer-waiting first among equals.
    early = person(languages=["de"], waiting_since="2026-01-01")
    late = person(languages=["de"], waiting_since="2026-11-01")
    mentees = CandidatePool([late, early, person(languages=["fr"])], "mentee", MatchingConfig(), TODAY)
    ranked = mentees.suggest(person(languages=["de"]), limit=5)
    assert [s.candidate_id for s in ranked] == [early.id, late.id]
    assert ranked[0].score > ranked[1].score


def test_a_person_who_is_both_is_never_suggested_to_themselves() -> None:
    both = person(languages=["de"])
    pool = CandidatePool([both], "mentor", MatchingConfig(), TODAY)
    assert pool.suggest(both) == []
    assert excluded_by(score_pair(both, both, MatchingConfig(), TODAY)) == {"same_person": "dieselbe Person"}


def test_words_and_genders_outside_the_pool_match_nothing() -> None:
    female = person(gender="female")
    pool = CandidatePool(
        [person(gender="male", preferences=Preferences(genders=["male"])), female],
        "mentor",
        MatchingConfig(),
        TODAY,
    )
    # "diverse" appears nowhere in the pool: the wish excludes both, the gender breaks the first one's wish.
    assert pool.suggest(person(preferences={"genders": ["diverse"]})) == []
    got = pool.suggest(person(gender="diverse"))
    assert [s.candidate_id for s in got] == [female.id]


def test_the_words_of_reasons_come_from_the_catalogues_the_pages_use() -> None:
    from services.api.web import i18n as web_i18n
    from shared.matching import texts

    # "Di nachmittags" reads the same in a reason as on the contact page that shows availability.
    page_words = f"{web_i18n.gettext('de', 'day:tue')} {web_i18n.gettext('de', 'daytime:afternoon')}"
    assert texts.slot_name("tue-afternoon", "de") == page_words == "Di nachmittags"
    assert texts.slot_name("tue-afternoon", "en") == "Tue afternoon"
    six = ["A", "B", "C", "D", "E", "F"]
    assert texts.join(six, "de") == "A, B, C und 3 weitere"
    assert texts.join(six, "en") == "A, B, C and 3 more"
    assert (
        texts.language_name("uk", "de") == "Ukrainisch"
        and texts.language_name("sgn", "de") == "Gebärdensprache"
    )
    assert texts.role_word("mentor", "de") == "Mentor:in" and texts.role_word("mentor", "en") == "the mentor"
