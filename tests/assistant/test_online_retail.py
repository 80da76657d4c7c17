"""Grounded answers on a slice of UCI Online Retail II (../shared/data): a real customer's last order,
returns and another customer's order, read from validated partitions as the nightly writes them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from ecom_tasks import contract as c
from ecom_tasks.assistant import answers
from tests.assistant.shop import FixedAssistant
from tests.validated_shop import write_validated

DAYS = 5  # 2009-12-01 .. 2009-12-05: the first lines of the file
ASKED = {
    "where is my order": ("track_order", 0.95, False),
    "where is order 999999": ("track_order", 0.95, False),
    "where is my refund": ("track_refund", 0.9, False),
}


@pytest.fixture(scope="module")
def retail(online_retail_ii: Path, tmp_path_factory) -> tuple[str, pd.DataFrame, dt.date]:
    from ecom_tasks.sources.online_retail import read_online_retail

    folder = tmp_path_factory.mktemp("online_retail")
    lines = pd.read_csv(online_retail_ii, nrows=20_000, dtype=str)  # the file is in time order
    first = pd.to_datetime(lines["InvoiceDate"]).dt.date.min()
    last = first + dt.timedelta(days=DAYS - 1)
    lines.to_csv(folder / "slice.csv", index=False)
    shop = read_online_retail(folder / "slice.csv", until=last)
    root = str(folder / "root")
    write_validated(root, first, DAYS, shop.events, shop.items, shop.users)
    titles = shop.items.set_index(c.ITEM_ID)[c.TITLE]
    return root, shop.events.assign(**{c.TITLE: shop.events[c.ITEM_ID].map(titles)}), last


def _customer_with_a_return(events: pd.DataFrame) -> str:
    known = events[events[c.USER_ID].notna()]
    returned = set(known.loc[known[c.EVENT_TYPE] == c.RETURN, c.USER_ID])
    bought = known[known[c.EVENT_TYPE] == c.PURCHASE].groupby(c.USER_ID)[c.ORDER_ID].nunique()
    candidates = sorted(u for u in returned if bought.get(u, 0) >= 1)
    if not candidates:
        pytest.skip("no customer of the slice both bought and returned")
    return str(candidates[0])


def test_a_real_customer_gets_their_own_last_order_and_returns(retail):
    root, events, last = retail
    customer = _customer_with_a_return(events)
    assistant = FixedAssistant(ASKED, {})
    mine = events[events[c.USER_ID].astype(str) == customer]
    bought = mine[mine[c.EVENT_TYPE] == c.PURCHASE].sort_values(c.TS)
    order = str(bought[c.ORDER_ID].iloc[-1])
    reply = answers.answer("where is my order", customer, root=root, day=last, assistant=assistant)
    assert reply["intent"] == "track_order" and not reply["handover"]
    assert reply["facts"]["order_id"] == order
    assert reply["facts"]["date"] == str(bought[c.TS].iloc[-1])[:10]
    # Every line of that invoice, by its catalogue title (Online Retail's Description).
    lines = bought[bought[c.ORDER_ID].astype(str) == order]
    assert sorted(reply["facts"]["items"]) == sorted(lines[c.TITLE].astype(str))
    assert reply["answer"].startswith(f"Your last order {order} of {reply['facts']['date']} holds ")

    refund = answers.answer("where is my refund", customer, root=root, day=last, assistant=assistant)
    returned = mine[mine[c.EVENT_TYPE] == c.RETURN]
    listed = [title for titles in refund["facts"]["returns"].values() for title in titles]
    assert sorted(listed) == sorted(returned[c.TITLE].astype(str))
    assert refund["answer"].startswith("Your returns: order ")


def test_another_customers_order_or_an_unknown_customer_is_handed_over(retail, tmp_path, monkeypatch):
    root, events, last = retail
    monkeypatch.setattr(answers.templates, "load_shop", lambda path: {"contact_hours": "9 to 5", "name": "X"})
    customer = _customer_with_a_return(events)
    known = events[events[c.USER_ID].notna() & (events[c.EVENT_TYPE] == c.PURCHASE)]
    other = known[known[c.USER_ID].astype(str) != customer]
    theirs = str(other[c.ORDER_ID].iloc[0])
    asked = {f"where is order {theirs}": ("track_order", 0.95, False)} | ASKED
    assistant = FixedAssistant(asked, {})
    kw = {"root": root, "day": last, "assistant": assistant, "file_ticket": False}
    reply = answers.answer(f"where is order {theirs}", customer, **kw)
    shown = str(reply["answer"]) + str(reply["facts"])
    assert reply["handover"] and reply["facts"] == {}
    for title in other.loc[other[c.ORDER_ID].astype(str) == theirs, c.TITLE].dropna():
        assert str(title) not in shown  # nothing of another customer's order
    unknown = answers.answer("where is my order", "no-such-customer", **kw)
    assert (
        unknown["handover"] and unknown["handover_reason"] == "order or customer not found in the shop's data"
    )
