"""Airflow's auth manager in front of the plugin's routes.

The api-server mounts plugin apps without any auth of their own, so every route depends on
:func:`require_user`: the caller must present the Airflow UI's session (the ``_token`` cookie the
UI sets on login, same origin as the page) or a ``Authorization: Bearer`` JWT from ``/auth/token``,
exactly as Airflow's own REST routes do (``airflow.api_fastapi.core_api.security.get_user``), and
the auth manager must allow that user the read-only website view. Anonymous requests get 401.

Airflow is imported on the first request, not when the plugin module is imported (plugins are
loaded early, also by processes that never serve HTTP).
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, status


async def require_user(request: Request) -> Any:
    """The authenticated Airflow user; HTTPException 401 (anonymous) or 403 (not allowed)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    credentials = await bearer_scheme(request)
    user = await get_user(request, None, credentials)
    if not get_auth_manager().is_authorized_view(access_view=AccessView.WEBSITE, user=user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this Airflow user may not read the website views")
    return user
