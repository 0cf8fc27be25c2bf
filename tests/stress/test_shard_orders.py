"""One shard's orders read to the end (``stress.shard_orders``), against real node processes:
more orders than one page, rows the node skips as damaged, and the node token."""

from __future__ import annotations

import asyncio

import pytest

from order_contracts.envvars import NODE_API_TOKEN
from stress import shard_orders
from stress.http import client_session
from stress.shard_orders import PAGE_LIMIT, ShardOrders, ShardReadError, read_shard, read_shard_now
from tests.conftest import NodeFactory
from tests.stress.conftest import damage, post_all


def test_the_reader_follows_the_cursor_past_full_pages_and_keeps_only_the_prefix(
    node_factory: NodeFactory,
) -> None:
    node = node_factory("HCM")
    sent = [f"page-{i:05d}" for i in range(2 * PAGE_LIMIT + 10)]
    post_all(node, ["other-1", *sent[:PAGE_LIMIT], "other-2", *sent[PAGE_LIMIT:]])

    async def read() -> ShardOrders:
        async with client_session(1, 30.0, None) as session:
            return await read_shard(session, node.url, "page-")

    shard = asyncio.run(read())
    assert shard.ids() == sent  # three pages, in storage order, nothing repeated or skipped
    assert shard.damaged == 0
    everything = read_shard_now(node.url)
    assert everything.ids() == ["other-1", *sent[:PAGE_LIMIT], "other-2", *sent[PAGE_LIMIT:]]


def test_damaged_rows_are_summed_over_pages_and_a_page_without_orders_is_not_the_end(
    node_factory: NodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = node_factory("HCM")
    post_all(node, list("abcde"))
    damage(node, list("bcd"))
    # Pages of two: [a, b*] [c*, d*] [e] — the second page holds no order yet has a cursor.
    monkeypatch.setattr(shard_orders, "PAGE_LIMIT", 2)
    shard = read_shard_now(node.url)
    assert shard.ids() == ["a", "e"]
    assert shard.damaged == 3


def test_the_node_token_is_sent_and_a_refusal_is_a_named_error(node_factory: NodeFactory) -> None:
    node = node_factory("HCM", env={NODE_API_TOKEN: "s3cret-token"})
    post_all(node, ["t-1", "t-2"], token="s3cret-token")
    assert read_shard_now(node.url, "s3cret-token").ids() == ["t-1", "t-2"]
    with pytest.raises(ShardReadError, match=r"GET http://127\.0\.0\.1:\d+/orders answered 401"):
        read_shard_now(node.url)
