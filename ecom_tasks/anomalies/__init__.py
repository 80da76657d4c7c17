"""The anomaly stage: the day's unusual orders (with reasons) and daily metrics outside their band.

See :mod:`ecom_tasks.anomalies.stage` for the train function and README's "Anomalies" section.
"""
