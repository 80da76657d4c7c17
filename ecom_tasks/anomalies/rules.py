"""Transparent rules and the reasons a person reads beside each flagged order.

The rules baseline scores an order by its strongest rule, each scaled so that 1 is where it fires:
a unit price ``price_factor`` times above or below the item's median, a quantity
``quantity_factor`` times the item's 99th percentile (or ``customer_quantity_factor`` times the largest
line the customer bought before), a first order ``first_order_factor`` times the
shop's typical first order, exactly the same basket as an earlier order of the same customer within
``duplicate_window_hours`` (from 1 at the window's end to 2 within a minute; not for a customer who
habitually repeats baskets). :func:`reasons` says in words what makes an order unusual, from the
same features, whichever detector flagged it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ecom_tasks.anomalies import features as f
from ecom_tasks.anomalies import reference as ref
from ecom_tasks.anomalies.config import AnomalyConfig
from ecom_tasks.contract import COUNTRY

MEDIAN_QUANTITY_FACTOR = 10.0  # a reason (not a rule): a line's quantity 10x the item's median


def rule_strengths(frame: pd.DataFrame, config: AnomalyConfig) -> dict[str, np.ndarray]:
    """Each rule's strength per order (>= 1: the rule fires)."""
    price = np.maximum(frame[f.PRICE_HIGH].to_numpy(), -frame[f.PRICE_LOW].to_numpy())
    return {
        "price": price / math.log(config.price_factor),
        "quantity": np.maximum(
            frame[f.QTY_P99_RATIO].to_numpy() / math.log(config.quantity_factor),
            frame[f.QTY_VS_CUSTOMER].to_numpy() / math.log(config.customer_quantity_factor),
        ),
        # value_vs_first_orders is 0 for any order but a customer's first.
        "first_order": frame[f.VS_FIRST].to_numpy() / math.log(config.first_order_factor),
        # 1 + closeness (features.closeness): 2 for a repeat within a minute, 1 at the window's end.
        "duplicate": np.where(frame[f.DUPLICATE].to_numpy() > 0, 1.0 + frame[f.DUPLICATE].to_numpy(), 0.0),
    }


def rules_score(frame: pd.DataFrame, config: AnomalyConfig) -> np.ndarray:
    """The rules baseline: the strongest rule of each order."""
    strengths = rule_strengths(frame, config)
    return np.max(np.vstack(list(strengths.values())), axis=0) if len(frame) else np.zeros(0)


def _money(value: float) -> str:
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def _times(log_ratio: float) -> str:
    ratio = math.exp(log_ratio)
    return f"{ratio:.1f}x" if ratio < 100 else f"{ratio:,.0f}x"


def _elapsed(minutes: float) -> str:
    if minutes < 1:
        return "less than a minute"
    if minutes < 120:
        return f"{minutes:.0f} minute{'s' if round(minutes) != 1 else ''}"
    return f"{minutes / 60:.1f} hours"


def repeat_reason(row: pd.Series) -> str | None:
    """ "the same basket as order X placed 12 minutes earlier" (None without an earlier same basket)."""
    minutes, earlier = row.get(ref.SINCE_SAME_BASKET), row.get(ref.SAME_BASKET_ORDER)
    if minutes is None or pd.isna(minutes) or earlier is None or pd.isna(earlier):
        return None
    text = f"the same basket as order {earlier} placed {_elapsed(float(minutes))} earlier"
    if row.get(f.HABITUAL, 0) > 0:
        text += " (this customer often repeats a basket)"
    return text


def order_reasons(row: pd.Series, config: AnomalyConfig) -> list[str]:
    """What makes one order unusual, strongest first (features of :func:`features.order_features`)."""
    found: list[tuple[float, str]] = []
    high, low = float(row[f.PRICE_HIGH]), float(row[f.PRICE_LOW])
    item, typical = row.get(f.PRICE_ITEM), row.get(f.PRICE_TYPICAL)
    limit = math.log(config.price_factor)
    if row[f.ZERO_PRICES] > 0:
        found.append((10.0, f"{int(row[f.ZERO_PRICES])} line(s) at a unit price of 0"))
    elif max(high, -low) >= limit and pd.notna(typical):
        ratio = high if high >= -low else low
        found.append(
            (
                abs(ratio) / limit,
                f"unit price {_times(ratio)} the item's median ({item}: {_money(float(row[f.PRICE_VALUE]))} "
                f"against {_money(float(typical))})",
            )
        )
    qty = float(row[f.QTY_P99_RATIO])
    if qty >= math.log(config.quantity_factor) and pd.notna(row.get(f.QTY_TYPICAL)):
        found.append(
            (
                qty / math.log(config.quantity_factor),
                f"quantity {_times(qty)} the item's 99th percentile ({row[f.QTY_ITEM]}: "
                f"{row[f.QTY_VALUE]:,.0f} against {row[f.QTY_TYPICAL]:,.0f})",
            )
        )
    elif row.get(f.QTY_VS_CUSTOMER, 0) >= math.log(config.customer_quantity_factor):
        found.append(
            (
                row[f.QTY_VS_CUSTOMER] / math.log(config.customer_quantity_factor),
                f"a line of {row[f.MAX_QTY]:,.0f} units, {_times(row[f.QTY_VS_CUSTOMER])} the largest line "
                f"this customer bought before ({row[ref.CUSTOMER_MAX_QTY]:,.0f})",
            )
        )
    elif row[f.QTY_MEDIAN_RATIO] >= math.log(MEDIAN_QUANTITY_FACTOR):  # high, not beyond its p99
        found.append(
            (
                row[f.QTY_MEDIAN_RATIO] / math.log(30),
                f"a line's quantity {_times(row[f.QTY_MEDIAN_RATIO])} the item's median quantity",
            )
        )
    if row[f.FIRST] > 0 and row[f.VS_FIRST] >= math.log(config.first_order_factor / 2):
        found.append(
            (
                row[f.VS_FIRST] / math.log(config.first_order_factor),
                f"first order of {_money(float(row[ref.VALUE]))}, {_times(row[f.VS_FIRST])} the shop's "
                f"typical first order ({_money(float(row[ref.FIRST_ORDER_MEDIAN]))})",
            )
        )
    repeat = repeat_reason(row)
    if repeat is not None:
        found.append((1.0 + float(row[f.DUPLICATE]), repeat) if row[f.DUPLICATE] > 0 else (0.4, repeat))
    if row[f.VS_USUAL] >= math.log(5):
        found.append(
            (
                row[f.VS_USUAL] / math.log(10),
                f"order value {_times(row[f.VS_USUAL])} the customer's usual "
                f"({_money(float(row[ref.USUAL_VALUE]))})",
            )
        )
    if row[f.COUNTRY_CHANGED] > 0:
        found.append((0.5, f"ordered from {row[COUNTRY]}, usually from {row[ref.USUAL_COUNTRY]}"))
    if row[f.NEW_ITEMS] > 0.5:
        found.append((0.4, f"{row[f.NEW_ITEMS]:.0%} of its lines are items never sold before"))
    if row[f.LOST_CUSTOMER] > 0:
        found.append((2.0, f"{int(row[f.LOST_CUSTOMER])} line(s) without the order's customer id"))
    if row[f.ANONYMOUS] > 0:
        found.append((0.3, "no customer id"))
    if not any(weight >= 0.5 for weight, _ in found):  # nothing telling: describe the order
        found.append(
            (
                0.45,  # before the weak hints (no customer id, new items) that may follow it
                f"no single feature stands out ({int(row[ref.LINES])} line(s), {row[ref.UNITS]:,.0f} "
                f"unit(s), value {_money(float(row[ref.VALUE]))} at {int(row[f.HOUR]):02d}:00)",
            )
        )
    return [text for _, text in sorted(found, key=lambda pair: -pair[0])]


def reasons(frame: pd.DataFrame, config: AnomalyConfig) -> list[str]:
    """One line of reasons per order ("; "-separated)."""
    return ["; ".join(order_reasons(row, config)) for _, row in frame.iterrows()]
