"""The plugin's FastAPI app: the "Shop ML" page and its JSON endpoints; every GET is read-only.

Routes (under ``/ecom`` in the api-server):

- ``/``: the page (models and gates, data quality, analytics charts, the behaviour report link and
  the customer explorer); ``?ds=YYYY-MM-DD`` picks the day, ``?customer=ID`` asks the explorer;
- ``/api/customers/{id}``, ``/api/models``, ``/api/quality``, ``/api/analytics``, ``/api/days``: JSON;
- ``/api/stages/{model}``: a model stage's own section data (``ModelStage.ui``), with the page's
  query parameters; on the page each such section follows "Models and gate decisions";
- ``POST /api/assistant`` (JSON ``{"message", "customer"}``): the customer-service assistant's answer,
  filing a hand-over ticket under the data root when it needs a person; the page's form asks it by GET
  (which files nothing) and its "Hand over to a person" button posts to ``POST /assistant/handover``
  (form fields ``ask``, ``ask_customer``, ``ds`` and the page's ``csrf_token``, :mod:`ecom_ui.csrf`:
  refused with 403 without it), which files the ticket and redirects (303) back to the page with
  ``&ticket=<id>``;
- ``/reports/{ds}``: the behaviour report of a day; ``/models/{model}/{ds}/card``: a model card,
  ``/models/{model}/{ds}/{name}.png``: its plots;
- ``/data-docs/{path}``: the Great Expectations Data Docs site, its CDN scripts and styles
  replaced by the copies under ``/static/`` (``ecom_tasks.ui.datadocs``), with a strict CSP.

Bad input gets 422 (malformed) or 404 (well-formed but unknown) with a message that never
repeats the input; any other failure a 500 naming no internals (the traceback goes to the log).
Pages carry a Content-Security-Policy without scripts, so even a mistake in escaping could not
run code in the browser.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jinja2
from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from ecom_tasks.ui import inputs
from ecom_tasks.ui.config import DEFAULT_UI, UIConfig
from ecom_ui import csrf
from ecom_ui.auth import require_user
from ecom_ui.page import PageBuilder

log = logging.getLogger(__name__)

URL_PREFIX = "/ecom"
TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")  # vendored scripts and styles of the Data Docs
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'self'; base-uri 'none'"
)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    env.filters["num"] = _num
    env.filters["pct"] = lambda v: "-" if v is None else f"{float(v):.1%}"
    # Plain words and units (ecom_tasks.ui.labels, imported on the first render).
    env.filters["metric_label"] = lambda key: _labels().metric_label(key)
    env.filters["metric_value"] = lambda value, key: _labels().metric_value(key, value)
    env.filters["field_label"] = lambda key: _labels().field(key)[0]
    env.filters["field_value"] = lambda value, key, currency=None: _labels().number(
        value, _labels().field(key)[1], currency
    )
    env.filters["model_name"] = lambda name: _labels().model_name(name)
    env.filters["date"] = lambda value: _labels().date(value)
    env.filters["timestamp"] = lambda value: _labels().timestamp(value)
    env.filters["points"] = lambda v: "-" if v is None else f"{float(v) * 100:+.1f} points"
    env.filters["score"] = lambda v: "-" if v is None else f"{float(v):.4g}"
    return env


def _labels() -> Any:
    from ecom_tasks.ui import labels

    return labels


def _num(value: Any, digits: int = 4) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        body, status, headers={"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}
    )


class AskBody(BaseModel):
    """A question to the customer-service assistant."""

    message: str
    customer: str | None = None


def create_app(root: str | None = None, config: UIConfig = DEFAULT_UI, *, auth: bool = True) -> FastAPI:
    """The app. ``root``: the data root (default ``$ECOM_DATA_ROOT`` at each request);
    ``auth=False`` only for tests and benchmarks that call it in-process."""
    app = FastAPI(
        title="Shop ML",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(require_user)] if auth else [],
    )
    templates = _environment()
    builder = PageBuilder(root, config)
    app.state.builder = builder

    def wants_html(request: Request) -> bool:
        path = request.url.path.removeprefix(request.scope.get("root_path", ""))
        return not path.startswith("/api/")

    def error(request: Request, status: int, message: str) -> Response:
        if wants_html(request):
            page = templates.get_template("error.html").render(status=status, message=message)
            return _html(page, status)
        return JSONResponse({"detail": message}, status)

    @app.exception_handler(inputs.BadInput)
    async def bad_input(request: Request, exc: inputs.BadInput) -> Response:
        return error(request, 422, str(exc))

    @app.exception_handler(inputs.NotFound)
    async def not_found(request: Request, exc: inputs.NotFound) -> Response:
        return error(request, 404, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's default answer echoes the input back; name the parameter only.
        names = sorted({str(e.get("loc", ("", "?"))[-1]) for e in exc.errors()})
        return error(request, 422, f"invalid parameter(s): {', '.join(names)}")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        message = str(exc.detail)
        if exc.status_code == 401:
            message = f"{message}: log in to Airflow first (this page needs an Airflow session or a token)"
        return error(request, exc.status_code, message)

    @app.exception_handler(Exception)
    async def failure(request: Request, exc: Exception) -> Response:
        log.exception("%s failed", request.url.path)
        return error(request, 500, "the page could not be built; the api-server log says why")

    template_names = set(templates.list_templates())

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request, customer: str | None = None, ds: str | None = None) -> Response:
        query = dict(request.query_params)
        context, status = builder.page(customer, ds, query, template_names)
        token, cookie = csrf.page_token(request)
        response = _html(templates.get_template("page.html").render(**context, csrf_token=token), status)
        csrf.set_cookie(response, cookie, request.scope.get("root_path", "") + "/")
        return response

    @app.get("/api/stages/{name}")
    def stage_json(request: Request, name: str, ds: str | None = None) -> dict[str, Any]:
        return builder.stage_section(name, _day(ds), dict(request.query_params))

    @app.post("/api/assistant")
    def assistant_json(request: Request, body: AskBody) -> dict[str, Any]:
        from ecom_tasks.assistant.answer_log import record
        from ecom_tasks.assistant.ui import ASK, CUSTOMER, hand_over

        # JSON only (FastAPI refuses the text/plain and form bodies a cross-site page can send without a
        # preflight), and never from another origin's page.
        csrf.check_origin(request)

        query = {ASK: body.message, CUSTOMER: body.customer or ""}
        reply = hand_over(builder.section_request(None, query))
        if reply["message"]:  # another system's customer was answered: counted in the hand-over rate
            record(builder.root, reply)
        return reply

    @app.post("/assistant/handover")
    async def assistant_handover(request: Request) -> Response:
        # The page's "Hand over to a person" button (an HTML form: no scripts under the CSP).
        from ecom_tasks.assistant.ui import ASK, CUSTOMER, TICKET, hand_over

        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        csrf.check(request, form.get(csrf.FIELD))  # the button posts with the user's cookies
        ds = form.get("ds") or None
        query = {ASK: form.get(ASK, ""), CUSTOMER: form.get(CUSTOMER, "")}
        reply = await run_in_threadpool(hand_over, builder.section_request(_day(ds), query))
        back = {"ds": ds} if ds else {}
        back |= {ASK: reply["message"], CUSTOMER: reply["customer"] or ""}
        if reply["ticket"]:
            back[TICKET] = reply["ticket"]["ticket_id"]
        # Post/redirect/get: a refreshed page asks again by GET and files nothing.
        return RedirectResponse(f"../?{urlencode(back)}#stage-assistant", status_code=303)

    @app.get("/api/customers/{customer_id}")
    def customer_json(customer_id: str, ds: str | None = None) -> dict[str, Any]:
        return builder.customer(inputs.customer_id(customer_id, config), _day(ds))

    @app.get("/api/models")
    def models_json() -> list[dict[str, Any]]:
        return builder.models()

    @app.get("/api/quality")
    def quality_json(ds: str | None = None) -> dict[str, Any]:
        return builder.quality(_day(ds))

    @app.get("/api/analytics")
    def analytics_json(ds: str | None = None) -> dict[str, Any]:
        return builder.analytics(_day(ds))

    @app.get("/api/days")
    def days_json() -> dict[str, list[str]]:
        return builder.days()

    @app.get("/reports/{ds}")
    def report(ds: str) -> Response:
        return _file(builder.report(inputs.logical_date(ds)), csp=True)

    @app.get("/models/{model}/{ds}/card")
    def card(model: str, ds: str) -> Response:
        return _file(builder.card(model, inputs.logical_date(ds)), csp=True)

    @app.get("/models/{model}/{ds}/{name}")
    def card_file(model: str, ds: str, name: str) -> Response:
        # The card's images (reliability.png): relative links from the card resolve here.
        return _file(builder.card_file(model, inputs.logical_date(ds), name), csp=True)

    @app.get("/data-docs/{path:path}")
    def data_docs(path: str) -> Response:
        # Great Expectations' own pages, with the CDN assets they name served from static/.
        return _data_docs(builder.data_docs(path), path)

    @app.get("/static/{path:path}")
    def static(path: str) -> Response:
        from ecom_tasks.ui.files import safe_file

        found = safe_file(STATIC, path)
        if found is None:
            raise inputs.NotFound("no such file")
        return _file(found, csp=True)

    return app


def _day(ds: str | None) -> dt.date | None:
    return None if ds is None or ds == "" else inputs.logical_date(ds)


def _data_docs(path: Path, relative: str) -> Response:
    """A Data Docs file: pages and styles rewritten to local assets, each with a strict CSP."""
    from ecom_tasks.ui import datadocs

    headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": datadocs.csp([])}
    if path.suffix == ".html":
        page, hashes = datadocs.rewrite(path.read_text(encoding="utf-8"), relative.count("/"))
        return HTMLResponse(page, headers=headers | {"Content-Security-Policy": datadocs.csp(hashes)})
    if path.suffix == ".css":
        text = datadocs.rewrite_css(path.read_text(encoding="utf-8"))
        return Response(text, media_type="text/css", headers=headers)
    return FileResponse(path, headers=headers)


def _file(path: Path, *, csp: bool) -> Response:
    headers = {"X-Content-Type-Options": "nosniff"} | ({"Content-Security-Policy": CSP} if csp else {})
    return FileResponse(path, headers=headers)


__all__: list[str] = ["URL_PREFIX", "create_app"]
