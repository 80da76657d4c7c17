"""The Airflow 3 public REST API (/api/v2) as the ops tests and benchmarks use it.

A JWT comes from the auth manager's /auth/token (FAB and the simple auth manager both answer a
username and password there); the client renews it once when a call returns 401.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from tests.ops.services import TopologyError


class ApiClient:
    """The public REST API (/api/v2) with a JWT from /auth/token, renewed once on a 401."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._credentials = {"username": username, "password": password}
        self._http = httpx.Client(base_url=self.base_url, timeout=90)  # a loaded 2-core CI box is slow
        self._token: str | None = None

    def close(self) -> None:
        self._http.close()

    def healthy(self) -> bool:
        resp = self._http.get("/api/v2/monitor/health")
        return resp.status_code == 200 and resp.json()["metadatabase"]["status"] == "healthy"

    def _login(self) -> str:
        resp = self._http.post("/auth/token", json=self._credentials)
        if resp.status_code not in (200, 201):
            raise TopologyError(f"/auth/token refused the login: {resp.status_code} {resp.text[:500]}")
        return resp.json()["access_token"]

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in (1, 2):
            if self._token is None:
                self._token = self._login()
            headers = {"Authorization": f"Bearer {self._token}"}
            resp = self._http.request(method, f"/api/v2{path}", headers=headers, **kwargs)
            if resp.status_code != 401 or attempt == 2:
                return resp
            self._token = None
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        resp = self.request(method, path, **kwargs)
        if resp.status_code not in ok:
            raise TopologyError(f"{method} /api/v2{path}: {resp.status_code} {resp.text[:1000]}")
        return resp.json() if resp.content else None

    def dag_parsed(self, dag_id: str) -> bool:
        return self.request("GET", f"/dags/{dag_id}").status_code == 200

    def ensure_pool(self, name: str, slots: int, description: str) -> None:
        body = {"slots": slots, "description": description, "include_deferred": False}
        resp = self.request("POST", "/pools", json={"name": name, **body})
        if resp.status_code == 409:
            self.json("PATCH", f"/pools/{name}", json={"pool": name, **body})
        elif resp.status_code not in (200, 201):
            raise TopologyError(f"creating pool {name}: {resp.status_code} {resp.text[:500]}")

    def unpause(self, dag_id: str) -> None:
        self.json("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, ds: str, conf: dict[str, Any]) -> str:
        logical = dt.datetime.fromisoformat(ds).replace(tzinfo=dt.UTC).isoformat()
        body = {"logical_date": logical, "conf": conf}
        return self.json("POST", f"/dags/{dag_id}/dagRuns", ok=(200, 201), json=body)["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.json("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return self.json("GET", path, params={"limit": 1000})["task_instances"]

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.json("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 1000})["dag_runs"]

    def backfills(self, dag_id: str) -> list[dict[str, Any]]:
        return self.json("GET", "/backfills", params={"dag_id": dag_id, "limit": 100})["backfills"]
