"""Read-only queries behind the Airflow UI plugin ("Shop ML" page, ``plugins/ecom_ui``).

Plain functions over published artifacts: the outputs pointer and its tables, blessings and model
cards, the MLflow registry, validation summaries, quarantine partitions, feature analytics and the
behaviour report. Nothing here writes, trains or triggers; the web layer only renders what these
functions return.
"""
