"""The "Shop ML" page of the Airflow UI: models, gates, data quality, behaviour analytics
and a customer explorer.

Wiring only: the FastAPI app lives in ``ecom_ui.app`` (mounted by the api-server under
``/ecom``), the queries in ``ecom_tasks.ui``. The external view puts the page in the UI's
navigation; the UI shows it in a frame at ``/plugin/ecom-ml``.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin
from ecom_ui.app import URL_PREFIX, create_app

# Short enough for the navigation bar, which cuts longer names ("E-comm...").
NAV_LABEL = "Shop ML"


class EcomMLPlugin(AirflowPlugin):
    """Registers the app and its page in the navigation."""

    name = "ecom_ml"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Shop ML"}]  # noqa: RUF012
    external_views = [  # noqa: RUF012
        {
            "name": NAV_LABEL,
            # Relative (no leading slash), so the page follows the UI behind a path prefix.
            "href": URL_PREFIX.lstrip("/") + "/",
            "url_route": "ecom-ml",
            "destination": "nav",  # no category: a top-level entry of the navigation
        }
    ]
