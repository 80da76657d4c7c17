from __future__ import annotations

import pandas as pd
import pytest

from ecom_tasks import contract as c
from ecom_tasks.errors import ContractError


def _events(**overrides) -> pd.DataFrame:
    raw = pd.DataFrame(
        {
            c.EVENT_ID: ["e1", "e2", "e3"],
            c.TS: ["2024-01-01T10:00:00Z", "2024-01-01T10:01:00Z", "2024-01-01T10:02:00Z"],
            c.USER_ID: ["u1", None, "u1"],
            c.SESSION_ID: ["s1", "s2", "s1"],
            c.ITEM_ID: ["i1", "i2", "i1"],
            c.EVENT_TYPE: ["view", "view", "purchase"],
            c.QUANTITY: [1, 1, 2],
            c.UNIT_PRICE: [0.0, 0.0, 9.5],
            c.ORDER_ID: [None, None, "o1"],
            c.COUNTRY: ["UK", None, "UK"],
        }
    )
    for k, v in overrides.items():
        raw[k] = v
    return raw


def test_conform_gives_canonical_dtypes_and_order():
    df = c.conform(_events().iloc[:, ::-1], c.EVENTS)
    assert list(df.columns) == c.columns(c.EVENTS)
    assert c.contract_problems(df, c.EVENTS) == []
    assert str(df[c.TS].dtype) == c.TS_DTYPE
    assert df[c.USER_ID].isna().sum() == 1


def test_empty_frame_conforms():
    for table in c.TABLES:
        assert c.contract_problems(c.empty_frame(table), table) == []


def test_problems_name_columns_precisely():
    df = c.conform(_events(), c.EVENTS)
    df = df.drop(columns=[c.COUNTRY]).assign(extra=1)
    df[c.EVENT_ID] = ["e1", "e1", "e3"]
    df[c.EVENT_TYPE] = ["view", "click", "purchase"]
    df[c.QUANTITY] = df[c.QUANTITY].astype("float64")
    problems = " | ".join(c.contract_problems(df, c.EVENTS))
    assert "missing column(s) ['country']" in problems
    assert "unexpected column(s) ['extra']" in problems
    assert "events.event_id: 1 duplicate" in problems
    assert "events.event_type: unknown value(s) ['click']" in problems
    assert "events.quantity: dtype is float64, expected int64" in problems


def test_null_in_non_nullable_column_is_named():
    df = c.conform(_events(), c.EVENTS)
    df.loc[0, c.SESSION_ID] = None
    with pytest.raises(ContractError, match=r"in raw.csv: .*events.session_id: 1 null"):
        c.check_frame(df, c.EVENTS, where="raw.csv")


def test_conform_names_the_column_it_cannot_cast():
    with pytest.raises(ContractError, match=r"events.quantity in f.csv: cannot convert to int64"):
        c.conform(_events(quantity=["1", "two", "3"]), c.EVENTS, where="f.csv")
    with pytest.raises(ContractError, match=r"events.ts: cannot convert"):
        c.conform(_events(ts=["yesterday", "2024-01-01", "2024-01-01"]), c.EVENTS)
    with pytest.raises(ContractError, match=r"non-integer"):
        c.conform(_events(quantity=[1.5, 1, 1]), c.EVENTS)
    with pytest.raises(ContractError, match=r"missing column\(s\) \['unit_price'\]"):
        c.conform(_events().drop(columns=[c.UNIT_PRICE]), c.EVENTS)


def test_unknown_table():
    with pytest.raises(ContractError, match="unknown table 'orders'"):
        c.columns("orders")
