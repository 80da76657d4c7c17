"""Column names of the feature stage's outputs, in one place (like ``ecom_tasks.contract``).

Downstream stages import these constants instead of repeating string literals. Columns of the
canonical contract (``USER_ID``, ``ITEM_ID``, ``TS`` ...) keep their contract names.
"""

from __future__ import annotations

# --- shared -----------------------------------------------------------------------------------
UNKNOWN = "unknown"  # fill for a missing category or country (a value, not a column)
DAY = "day"  # UTC midnight of a day, datetime64[us, UTC]
MONTH = "month"  # months since 1970-01 (int64) in state; "YYYY-MM" strings in analytics

# --- customer profiles ------------------------------------------------------------------------
HAS_EVENTS = "has_events"
HAS_PURCHASE = "has_purchase"
TENURE_DAYS = "tenure_days"
RECENCY_DAYS = "recency_days"
FREQUENCY = "frequency"
MONETARY = "monetary"
GROSS_VALUE = "gross_value"
RETURNED_VALUE = "returned_value"
R_SCORE = "r_score"
F_SCORE = "f_score"
M_SCORE = "m_score"
RFM_CELL = "rfm_cell"
SEGMENT = "segment"
AVG_ORDER_VALUE = "avg_order_value"
UNITS_PURCHASED = "units_purchased"
UNITS_RETURNED = "units_returned"
RETURN_RATE = "return_rate"
HAS_RETURNS = "has_returns"
N_DISTINCT_ITEMS = "n_distinct_items"
N_DISTINCT_CATEGORIES = "n_distinct_categories"
TOP_CATEGORY = "top_category"
CAT_SHARE_PREFIX = "cat_share_"
CAT_SHARE_OTHER = "cat_share_other"
DAYS_SINCE_FIRST_PURCHASE = "days_since_first_purchase"
HAS_REPEAT = "has_repeat"
GAP_MEAN_DAYS = "gap_mean_days"
GAP_STD_DAYS = "gap_std_days"
GAP_MIN_DAYS = "gap_min_days"
GAP_MAX_DAYS = "gap_max_days"
EVENTS_RECENT = "events_recent"
EVENTS_PRIOR = "events_prior"
ORDERS_RECENT = "orders_recent"
ORDERS_PRIOR = "orders_prior"
SPEND_RECENT = "spend_recent"
SPEND_PRIOR = "spend_prior"
ACTIVITY_TREND = "activity_trend"
ORDER_TREND = "order_trend"
N_ACTIVE_MONTHS = "n_active_months"  # calendar months with a purchase
ACTIVE_MONTH_SHARE = "active_month_share"  # of the months since the first purchase month
ORDERS_PER_ACTIVE_MONTH = "orders_per_active_month"
PREFERRED_HOUR = "preferred_hour"
PREFERRED_WEEKDAY = "preferred_weekday"
N_EVENTS = "n_events"
N_VIEWS = "n_views"
N_CARTS = "n_carts"
N_PURCHASE_LINES = "n_purchase_lines"
N_RETURN_LINES = "n_return_lines"
HAS_VIEWS = "has_views"
HAS_CARTS = "has_carts"
VIEW_TO_CART = "view_to_cart"
CART_TO_PURCHASE = "cart_to_purchase"
VIEW_TO_PURCHASE = "view_to_purchase"

# The numeric profile columns that mean the same thing on every day, in the order models read them.
# A model trained on the profiles of one day (a training cutoff) is served and evaluated with another
# day's, so it may read only these (the heads and the retrieval query tower do). Left out:
# - CAT_SHARE_PREFIX columns (and CAT_SHARE_OTHER): one per each day's top categories, so a column
#   disappears when its category leaves the top (FeatureConfig.affinity_categories=None) and
#   "other" covers a different set of categories from day to day;
# - R_SCORE, F_SCORE, M_SCORE and RFM_CELL: quintile ranks within that day's customers, not amounts
#   (the same customer's score moves when others buy);
# - PREFERRED_HOUR, PREFERRED_WEEKDAY: category codes (-1 none), not quantities;
# - HAS_EVENTS, HAS_PURCHASE: N_EVENTS > 0 and FREQUENCY > 0 again (and the heads score buyers only);
# - strings and timestamps (country, first_seen, SEGMENT, TOP_CATEGORY): not numeric features.
STABLE_PROFILE_FEATURES: tuple[str, ...] = (
    TENURE_DAYS,
    RECENCY_DAYS,
    FREQUENCY,
    MONETARY,
    GROSS_VALUE,
    RETURNED_VALUE,
    AVG_ORDER_VALUE,
    UNITS_PURCHASED,
    UNITS_RETURNED,
    RETURN_RATE,
    HAS_RETURNS,
    N_DISTINCT_ITEMS,
    N_DISTINCT_CATEGORIES,
    DAYS_SINCE_FIRST_PURCHASE,
    HAS_REPEAT,
    GAP_MEAN_DAYS,
    GAP_STD_DAYS,
    GAP_MIN_DAYS,
    GAP_MAX_DAYS,
    EVENTS_RECENT,
    EVENTS_PRIOR,
    ORDERS_RECENT,
    ORDERS_PRIOR,
    SPEND_RECENT,
    SPEND_PRIOR,
    ACTIVITY_TREND,
    ORDER_TREND,
    N_ACTIVE_MONTHS,
    ACTIVE_MONTH_SHARE,
    ORDERS_PER_ACTIVE_MONTH,
    N_EVENTS,
    N_VIEWS,
    N_CARTS,
    N_PURCHASE_LINES,
    N_RETURN_LINES,
    HAS_VIEWS,
    HAS_CARTS,
    VIEW_TO_CART,
    CART_TO_PURCHASE,
    VIEW_TO_PURCHASE,
)

# --- item features ----------------------------------------------------------------------------
TITLE_TOKENS = "title_tokens"
HAS_TITLE = "has_title"
AGE_DAYS = "age_days"
ZERO_PRICE = "zero_price"
HAS_PRICE_HISTORY = "has_price_history"
PRICE_MEAN = "price_mean"
PRICE_STD = "price_std"
PRICE_MIN = "price_min"
PRICE_MAX = "price_max"
N_ZERO_PRICE_LINES = "n_zero_price_lines"
PURCHASES_PREFIX = "purchases_"  # + "{w}d"
VIEWS_PREFIX = "views_"
CARTS_PREFIX = "carts_"
N_ORDERS = "n_orders"
UNITS = "units"
REVENUE = "revenue"
N_BUYERS = "n_buyers"
N_REPEAT_BUYERS = "n_repeat_buyers"
REPEAT_PURCHASE_RATE = "repeat_purchase_rate"

# --- running state (internal; see state.py) ----------------------------------------------------
FIRST_EVENT_TS = "first_event_ts"
LAST_EVENT_TS = "last_event_ts"
FIRST_PURCHASE_TS = "first_purchase_ts"
LAST_PURCHASE_TS = "last_purchase_ts"
GAP_SUM = "gap_sum_s"  # seconds between consecutive orders
GAP_SUMSQ = "gap_sumsq_s2"
GAP_MIN = "gap_min_s"
GAP_MAX = "gap_max_s"
HOUR_PREFIX = "hour_"  # hour_00 .. hour_23: events by UTC hour
WEEKDAY_PREFIX = "weekday_"  # weekday_0 (Monday) .. weekday_6
VALUE = "value"
PRICE_N = "price_n"  # purchase lines with a positive price
PRICE_SUM = "price_sum"
PRICE_SUMSQ = "price_sumsq"
N_SESSIONS = "n_sessions"
SESSIONS_VIEW = "sessions_with_view"
SESSIONS_CART = "sessions_with_cart"
SESSIONS_PURCHASE = "sessions_with_purchase"
N_ACTIVE_USERS = "n_active_users"
N_BUYERS_DAY = "n_buyers"
HOUR_OF_WEEK = "hour_of_week"  # 0 = Monday 00:00 UTC .. 167

# --- analytics --------------------------------------------------------------------------------
N_NEW_BUYERS = "n_new_buyers"
VIEW_TO_CART_RATE = "view_to_cart_rate"
CART_TO_PURCHASE_RATE = "cart_to_purchase_rate"
SESSION_CONVERSION = "session_conversion"
COHORT = "cohort"
PERIOD = "period"  # months since the cohort month
COHORT_SIZE = "cohort_size"
N_CUSTOMERS = "n_customers"
RETENTION = "retention"
ORDERS_BUCKET = "orders_bucket"
SHARE = "share"
BASKET_ITEMS = "basket_items"
ITEM_A = "item_a"
ITEM_B = "item_b"
TITLE_A = "title_a"
TITLE_B = "title_b"
N_PAIR_ORDERS = "n_pair_orders"
SUPPORT = "support"
CONFIDENCE_AB = "confidence_a_to_b"
CONFIDENCE_BA = "confidence_b_to_a"
LIFT = "lift"
WEEKDAY = "weekday"
HOUR = "hour"

# --- training data ----------------------------------------------------------------------------
WEIGHT = "weight"
CUTOFF = "cutoff"
LABEL_CHURN = "label_churn"  # 1 = no purchase within the churn horizon after the cutoff
LABEL_REPURCHASE = "label_repurchase"  # 1 = a purchase within the repurchase horizon
LABEL_ORDERS = "label_orders"  # orders within the repurchase horizon (expected-orders target)
LABEL_SPEND = "label_spend"  # gross value within the repurchase horizon
FIRST_TS = "first_ts"
