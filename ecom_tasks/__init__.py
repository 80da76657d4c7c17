"""The work of the e-commerce ML workflow: one module per stage, plain typed functions.

Airflow DAG files in ``dags/`` only wire these functions together.
"""

__version__ = "0.1.0"
