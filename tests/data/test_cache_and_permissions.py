"""Result cache (memory LRU and Redis) and the resolution of data-permission rules."""

from __future__ import annotations

import time

import pytest

from tests.helpers import redis_test_url
from toucan.auth.identity import Identity
from toucan.auth.roles import Role
from toucan.data.cache import Memo, MemoryCache, RedisCache, TieredCache, cache_key, make_cache
from toucan.data.permissions import SEE_ALL, SEE_NOTHING, PermissionRule, RowFilter, row_filter


def test_memory_cache_is_bounded_in_bytes_and_lru() -> None:
    cache = MemoryCache(max_bytes=1000)
    cache.set("a", b"x" * 200)
    cache.set("b", b"x" * 200)
    assert cache.get("a") is not None  # a is now the most recent
    for key in "cdef":
        cache.set(key, b"x" * 200)
    assert cache.size <= 1000
    assert cache.get("b") is None and cache.get("a") is not None
    cache.set("huge", b"x" * 600)  # over a quarter of the cache: not kept
    assert cache.get("huge") is None


def test_cache_keys_change_with_every_part() -> None:
    base = cache_key("app", "production", "v1", "SELECT 1", [1])
    assert base == cache_key("app", "production", "v1", "SELECT 1", [1])
    assert base != cache_key("app", "production", "v2", "SELECT 1", [1])
    assert base != cache_key("app", "staging", "v1", "SELECT 1", [1])
    assert base != cache_key("app", "production", "v1", "SELECT 1", [2])


def test_redis_cache_round_trips_and_a_dead_redis_is_no_error() -> None:
    cache = RedisCache(redis_test_url(15), ttl_seconds=60)
    key = cache_key("test", "redis")
    cache.set(key, b"payload")
    assert cache.get(key) == b"payload"
    dead = RedisCache("redis://127.0.0.1:1/0", ttl_seconds=60)
    dead.set(key, b"payload")
    assert dead.get(key) is None
    assert isinstance(make_cache(None, 0, 60).get("k"), type(None))


def _user(groups: tuple[str, ...] = (), role: Role = Role.USER) -> Identity:
    return Identity(user_id=1, username="u", role=role, groups=groups)


RULES = [
    PermissionRule(
        domain="sales",
        scope="ALL_USERS",
        effect="CUSTOM",
        condition={"column": "country", "operator": "eq", "value": "FR"},
    ),
    PermissionRule(domain="sales", scope="USER_GROUP", group="managers", effect="SEE_ALL"),
    PermissionRule(
        domain="hr",
        scope="USER_GROUP",
        group="hr",
        effect="CUSTOM",
        condition={"column": "team", "operator": "eq", "value": "a"},
    ),
    PermissionRule(
        domain="hr",
        scope="USER_GROUP",
        group="hr-b",
        effect="CUSTOM",
        condition={"column": "team", "operator": "eq", "value": "b"},
    ),
    PermissionRule(domain="hr", scope="DEFAULT", effect="SEE_NOTHING"),
]


def test_matching_rules_are_ored_and_default_applies_only_when_none_match() -> None:
    assert row_filter(RULES, "sales", _user()) == RowFilter(False, (RULES[0].condition,))
    assert row_filter(RULES, "sales", _user(("managers",))) == SEE_ALL
    assert row_filter(RULES, "hr", _user()) == SEE_NOTHING
    both = row_filter(RULES, "hr", _user(("hr", "hr-b")))
    assert both.conditions == (RULES[2].condition, RULES[3].condition)
    assert row_filter(RULES, "other", _user()) == SEE_ALL  # no rule: open
    assert row_filter(RULES, "hr", _user(role=Role.ADMIN)) == SEE_ALL


def test_rules_are_validated() -> None:
    with pytest.raises(ValueError):
        PermissionRule(domain="d", scope="USER_GROUP", effect="SEE_ALL")  # no group
    with pytest.raises(ValueError):
        PermissionRule(domain="d", scope="ALL_USERS", effect="CUSTOM")  # no condition


def test_memo_keeps_the_most_recently_used_entries() -> None:
    memo: Memo[str, int] = Memo(max_items=2)
    memo.set("a", 1)
    memo.set("b", 2)
    assert memo.get("a") == 1  # a is now the most recent
    memo.set("c", 3)
    assert len(memo) == 2
    assert memo.get("b") is None and memo.get("a") == 1 and memo.get("c") == 3


def test_each_process_keeps_its_copy_of_redis_answers() -> None:
    first = make_cache(redis_test_url(15), 1, 60)
    second = make_cache(redis_test_url(15), 1, 60)
    assert isinstance(first, TieredCache) and isinstance(second, TieredCache)
    key = cache_key("test", "tiered", time.time_ns())
    first.set(key, b"answer")
    assert first.near.get(key) == b"answer"
    assert second.near.get(key) is None
    assert second.get(key) == b"answer"  # from Redis, shared by every process
    assert second.near.get(key) == b"answer"  # kept: the next read needs no round trip
    # Without Redis, the process's copies still answer.
    cut_off = TieredCache(second.near, RedisCache("redis://127.0.0.1:1/0", ttl_seconds=60))
    assert cut_off.get(key) == b"answer"
    assert isinstance(make_cache(redis_test_url(15), 0, 60), RedisCache)
