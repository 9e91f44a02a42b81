import hashlib
import uuid

from redis.asyncio import Redis

from shared import personal_links
from tests.conftest import Servers


def test_a_token_names_its_organisation_and_only_its_digest_is_stored() -> None:
    org = uuid.uuid4()
    token, stored = personal_links.issue(org)
    parsed = personal_links.parse(token)
    assert parsed is not None
    assert parsed.organization_id == org
    assert parsed.digest == stored
    assert token.split(".", 1)[1].encode() not in stored


def test_malformed_tokens_are_refused_alike() -> None:
    token, _ = personal_links.issue(uuid.uuid4())
    org_part, secret = token.split(".", 1)
    forged = ["x" * 32 + "." + secret, org_part + secret, org_part + "." + "!" * 43]
    for bad in ["", token + "x", token[:-1], *forged]:
        assert personal_links.parse(bad) is None


async def test_a_window_allows_the_limit_and_refuses_the_next(servers: Servers) -> None:
    redis = Redis.from_url(servers.redis_url)
    try:
        key = uuid.uuid4().hex
        answers = [await personal_links.within_rate(redis, "t", key, limit=3, seconds=60) for _ in range(4)]
        assert answers == [True, True, True, False]
        assert 0 < await redis.ttl("codo:rate:t:" + hashlib.sha256(key.encode()).hexdigest()) <= 60
    finally:
        await redis.aclose()
