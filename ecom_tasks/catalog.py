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
LANDING = "landing"  # a landing folder with one sub-folder per day
SOURCES: tuple[str, ...] = (SYNTHETIC, ONLINE_RETAIL, SEQUENCE, LANDING)

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

# --- tables ---------------------------------------------------------------------------------------
SUMMARY = "summary"  # ingest/summary, validation/summary
CUSTOMER_PROFILES = "customer_profiles"
TRAINING_PROFILES = "training_profiles"  # customer_profiles as of the retrieval model's last training day
BEHAVIOUR_REPORT = "behaviour"  # reports/behaviour
HEADS_REPORT = "heads"  # reports/heads

# Batch output tables (outputs/<table>), each moved by one model's publication.
RECOMMENDATIONS = "recommendations"  # top-K items per user, with titles (from the ranking champion)
CHURN_SCORES = "churn_scores"  # churn risk and segment per customer
REPURCHASE_SCORES = "repurchase_scores"  # repurchase propensity, expected orders and segment

# --- files -----------------------------------------------------------------------------------------
SUMMARY_FILE = "summary.json"
REPORT_HTML = "report.html"
# Inside a model folder ({root}/models/<model>/ds=D/): what training writes ...
METRICS_FILE = "metrics.json"  # the candidate's and its baselines' metrics on the held-out data
CHAMPION_METRICS_FILE = "champion_metrics.json"  # the champion scored on the same data, same run
HISTORY_FILE = "history.json"  # the training record: configuration, cutoff, epochs
SMOKE_INPUT_FILE = "smoke_input.json"  # the query the serving check sends
RUN_RECORD = "_run.json"  # the training task's fingerprint and result (training reuse), written last
SAVED_MODEL_DIR = "saved_model"  # a TensorFlow SavedModel artifact
PICKLE_FILE = "model.pkl"  # a pickled artifact (a scikit-learn baseline)
# ... and what the gate writes beside it.
BLESSING_FILE = "blessing.json"
CARD_MARKDOWN = "model_card.md"
CARD_HTML = "model_card.html"
# Under outputs/: which version of each table is current.
POINTER_FILE = "current.json"
ALERTS_FILE = f"{ALERTS}/alerts.jsonl"
EVALUATION_FILE = "evaluation.parquet"  # per-example test results of the candidate, baselines, champion
