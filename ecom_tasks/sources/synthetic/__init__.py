"""A deterministic simulated shop that produces the canonical tables one day at a time.

Customers with latent category preferences and activity levels browse a catalogue of items with
Zipf-like popularity, fill carts, check out orders, buy consumables again, return things and drift
away (their activity fades before they churn). Traffic has a weekend uplift and a mild trend. Dirt
(duplicate events, purchases without a customer, zero prices, unknown items) is injected at
configured rates and counted in ``ShopTables.stats``.

Example:
    >>> cfg = SyntheticShopConfig(n_users=200, n_items=60)
    >>> tables = generate_day(cfg, "2024-01-03")
"""

from ecom_tasks.sources.synthetic.config import DIRT_RATES, SyntheticShopConfig
from ecom_tasks.sources.synthetic.frames import (
    DIRT_DUPLICATES,
    DIRT_MISSING_USER,
    DIRT_UNKNOWN_ITEM,
    DIRT_ZERO_PRICE,
)
from ecom_tasks.sources.synthetic.generate import (
    TRUE_ACTIVITY,
    TRUE_CHURN_DATE,
    TRUE_CHURNED,
    TRUE_DECLINE_START,
    TRUE_SIGNUP,
    TRUE_TOP_CATEGORY,
    generate,
    generate_day,
    ground_truth,
)

__all__ = [
    "DIRT_DUPLICATES",
    "DIRT_MISSING_USER",
    "DIRT_RATES",
    "DIRT_UNKNOWN_ITEM",
    "DIRT_ZERO_PRICE",
    "TRUE_ACTIVITY",
    "TRUE_CHURNED",
    "TRUE_CHURN_DATE",
    "TRUE_DECLINE_START",
    "TRUE_SIGNUP",
    "TRUE_TOP_CATEGORY",
    "SyntheticShopConfig",
    "generate",
    "generate_day",
    "ground_truth",
]
