"""Every name under the data root, in one place: stages, tables and the files inside a folder.

Everything the pipeline writes is addressed as ``{root}/{stage}/{table}/ds=YYYY-MM-DD/`` (see
:mod:`ecom_tasks.storage`); the names here are the ``stage`` and ``table`` parts and the files a
model folder holds. Modules import them from here instead of spelling the strings again, so a
rename is one line and two stages can never disagree on a name. Light: imports nothing.
"""

from __future__ import annotations

# --- sources: what a run's ``source`` parameter may name ----------------------------------------
SYNTHETIC = "synthetic"  # the built-in shop
ONLINE_RETAIL = "online_retail"  # a UCI Online Retail (II) file
SEQUENCE = "sequence"  # ordered sequences, one user per line (Amazon Beauty 5-core style)
LANDING = "landing"  # a landing folder with one sub-folder per day; also ingest/landing/ (its record)
SOURCES: tuple[str, ...] = (SYNTHETIC, ONLINE_RETAIL, SEQUENCE, LANDING)
# The currency of each source's prices, where the source defines one (Online Retail: UK pounds);
# others are written as "currency units".
CURRENCIES: dict[str, str] = {ONLINE_RETAIL: "GBP"}

# --- stages: the first level under the data root ------------------------------------------------
RAW = "raw"  # ingest: the source's days in the canonical tables
VALIDATED = "validated"  # validation: the rows that passed
QUARANTINE = "quarantine"  # validation: the rows that broke a row-level rule, with a reason
VALIDATION = "validation"  # validation: per-day summaries
INGEST = "ingest"  # ingest: per-run summaries
FEATURES = "features"  # feature stage: profiles, item features, analytics, training data
REPORTS = "reports"  # HTML/Markdown reports (behaviour, heads)
MODELS = "models"  # one folder per model and day: the candidate, its metrics and its blessing
OUTPUTS = "outputs"  # batch output tables that follow each model's champion
EXPORTS = "exports"  # flat files of the current output tables (ecom_exports DAG)
ALERTS = "alerts"  # failure alerts (alerts.jsonl)
MLFLOW = "mlflow"  # the embedded MLflow store (when MLFLOW_TRACKING_URI is not set)
DATA_DOCS = "data_docs"  # validation: the Great Expectations Data Docs site (local data root only)
INGEST_QUARANTINE = "ingest_quarantine"  # ingest: rows dated after the run's day, held back
RETRACTED = "retracted"  # landing: partitions of a retracted day, moved aside with a record
HANDOVER = "handover"  # the assistant's hand-over tickets (handover/tickets/)
CORRUPT = "corrupt"  # integrity: partitions whose files do not match their manifest, moved aside
SUPERSEDED = "superseded"  # nightly: an earlier run's model folder of a day whose rerun stepped aside
LOCKS = "_locks"  # writelock: the writer lock file
MONITORING = "monitoring"  # what published models turned out to be: monitoring/<model>/ds=D, drift

# --- tables ---------------------------------------------------------------------------------------
SUMMARY = "summary"  # ingest/summary, validation/summary
GX_RESULTS = "gx_results"  # validation/gx_results: Great Expectations' validation results (JSON)
RETRACTION_RECORDS = "records"  # retracted/records: one record per retraction
# The canonical tables (raw/, validated/, quarantine/; see ecom_tasks.contract for their columns).
EVENTS = "events"  # one row per event: view, add_to_cart, purchase, return
ITEMS = "items"  # the item catalogue
USERS = "users"  # the known customers
# Feature stage (features/<table>).
CUSTOMER_PROFILES = "customer_profiles"  # one row per customer: RFM, tenure, affinity, funnel
ITEM_FEATURES = "item_features"  # one row per item: category, title tokens, price statistics
TRAINING_INTERACTIONS = "training_interactions"  # weighted user-item interactions (retrieval input)
TRAINING_PROFILES = "training_profiles"  # customer_profiles as of the retrieval model's last training day
TRAINING_EXAMPLES = "training_examples"  # labelled customers (churn, repurchase heads)
TRAINING_NEXT_ITEMS = "training_next_items"  # what each user bought next (ranking labels)
STATE_PREFIX = "state_"  # features/state_<table>: the incremental feature state, one table per part
# Behaviour analytics (features/<table>), in the order the report shows them.
FUNNEL_DAILY = "funnel_daily"  # views, carts, purchases and conversion rates per day
COHORT_RETENTION = "cohort_retention"  # share of each monthly cohort still buying, by period
REPEAT_PURCHASE = "repeat_purchase"  # customers by number of orders
BASKET_SIZES = "basket_sizes"  # orders by number of items
CO_PURCHASE_PAIRS = "co_purchase_pairs"  # item pairs bought together, with support, confidence, lift
HOUR_OF_WEEK = "hour_of_week"  # activity by hour of the week
ANALYTICS_TABLES: tuple[str, ...] = (
    FUNNEL_DAILY,
    COHORT_RETENTION,
    REPEAT_PURCHASE,
    BASKET_SIZES,
    CO_PURCHASE_PAIRS,
    HOUR_OF_WEEK,
)
# Model folders (models/<table>): one per model stage.
RETRIEVAL = "retrieval"  # the pretrained two-tower retrieval model (the backbone of the heads)
RANKING = "ranking"  # the re-ranker of the retrieval model's candidates
CHURN = "churn"  # the churn head
REPURCHASE = "repurchase"  # the repurchase head
ANOMALIES = "anomalies"  # order and daily-metric anomaly detectors (also outputs/anomalies)
SUPPORT_LOG = "support_log"  # landing folder: ds=D/support_log.{csv,csv.gz,parquet}, the shop's support log
STOCK = "stock"  # landing folder: ds=D/stock.{csv,csv.gz,parquet}, units on hand and on order per item
ASSISTANT = "assistant"  # the customer-service assistant (intents, slots, answer templates)
FORECAST = "forecast"  # daily demand per item (also reports/forecast)
BEHAVIOUR_REPORT = "behaviour"  # reports/behaviour
HEADS_REPORT = "heads"  # reports/heads

# Batch output tables (outputs/<table>), each moved by one model's publication.
RECOMMENDATIONS = "recommendations"  # top-K items per user, with titles (from the ranking champion)
CHURN_SCORES = "churn_scores"  # churn risk and segment per customer
REPURCHASE_SCORES = "repurchase_scores"  # repurchase propensity, expected orders and segment
DEMAND_FORECAST = "demand_forecast"  # daily demand quantiles per item over the horizon (forecast)
INVENTORY_PLAN = "inventory_plan"  # safety stock, reorder point, order-up-to level per item (forecast)
PRICE_ELASTICITY = "price_elasticity"  # own-price elasticity per category (forecast)
# Monitoring (monitoring/<table>): one table per monitored model (named after it: ranking, churn,
# repurchase, forecast, assistant), one row per night, and the drift of the published scores and
# profile features.
DRIFT = "drift"  # per feature / score: PSI and KS against the champion's training day
ORDER_ANOMALIES = ANOMALIES  # outputs/anomalies: the day's most unusual orders, with reasons
ASSISTANT_INTENTS = "assistant_intents"  # outputs/: the assistant's intents, how each is answered, test F1
METRIC_ANOMALIES = "metric_anomalies"  # outputs/metric_anomalies: the day's metrics against their band
TICKETS = "tickets"  # handover/tickets: one JSON record per hand-over to a person
ANSWERS = "answers"  # handover/answers/<YYYY-MM-DD>.jsonl: one JSON line per message the assistant answered

# --- files -----------------------------------------------------------------------------------------
MANIFEST_FILE = "_manifest.json"  # in every partition: the commit record (rows, schema, file checksums)
SUMMARY_FILE = "summary.json"  # ingest/summary and validation/summary: a run's counts and checks
REPORT_HTML = "report.html"  # reports/behaviour: the behaviour report
DATA_DOCS_INDEX = "index.html"  # data_docs/: the Data Docs site's start page
# Inside a model folder ({root}/models/<model>/ds=D/): what training writes ...
METRICS_FILE = "metrics.json"  # the candidate's and its baselines' metrics on the held-out data
CHAMPION_METRICS_FILE = "champion_metrics.json"  # the champion scored on the same data, same run
HISTORY_FILE = "history.json"  # the training record: configuration, cutoff, epochs
SMOKE_INPUT_FILE = "smoke_input.json"  # the query the serving check sends
SERVING_REQUEST_FILE = "serving_request.json"  # a body for `mlflow models serve`'s /invocations
RUN_RECORD = "_run.json"  # the training task's fingerprint and result (training reuse), written last
SAVED_MODEL_DIR = "saved_model"  # a TensorFlow SavedModel artifact
PICKLE_FILE = "model.pkl"  # a pickled artifact (a scikit-learn baseline)
WEIGHTS_FILE = "weights.npz"  # retrieval: the towers' weights
VOCABULARIES_FILE = "vocabularies.json"  # retrieval: the user, item, category and token vocabularies
TOWER_STATE_FILE = "tower_state.npz"  # retrieval: non-trainable tower state (catalogue, scaling, logQ)
RANKER_FILE = "ranker.json"  # ranking: what the artifact expects (profile feature names, selection)
HEAD_SPEC_FILE = "head.json"  # heads: inputs of the exported head (feature names and order)
RELIABILITY_PLOT = "reliability.png"  # heads: the reliability diagram (also in reports/heads)
# ... and what the gate writes beside it.
BLESSING_FILE = "blessing.json"
SKIPPED_FILE = "skipped.json"  # a model that stepped aside for ds: {model, ds, step, reason}
CARD_MARKDOWN = "model_card.md"
CARD_HTML = "model_card.html"
# Under outputs/: which version of each table is current; under ingest/landing/: the last landing.
POINTER_FILE = "current.json"
POINTER_HISTORY_FILE = "pointer_history.jsonl"  # under outputs/: one line per pointer move (point in time)
JOURNAL_FILE = "journal.json"  # ingest/landing/: a landing in progress (replayed after a crash)
MOVE_RECORD_FILE = "record.json"  # in each partition moved under corrupt/ or retracted/: why
ALERTS_FILE = f"{ALERTS}/alerts.jsonl"  # one JSON line per failure alert
LOCK_FILE = f"{LOCKS}/writer.json"  # the writer lock: who holds it and since when
NOTICE_FILE = "NOTICE.md"  # licence notices of the data a model derives from (named on its card)
ASSISTANT_DIR = "assistant"  # assistant: weights, vocabulary settings, threshold, templates, notices
EVALUATION_FILE = "evaluation.parquet"  # per-example test results of the candidate, baselines, champion
