"""Great Expectations' Data Docs served without a request outside the server.

GE writes pages that load jQuery, Bootstrap, bootstrap-table and friends from public CDNs: offline
they render unstyled and empty (the tables are filled by scripts), and on the Airflow origin a
third-party script could read the login token. :func:`rewrite` points every such script and
stylesheet at the copies the plugin vendors (``plugins/ecom_ui/static/vendor``), drops those the
pages do not need (Vega: no charts on the validation and expectation pages; the dark-mode sheet),
replaces GE's hosted logo with the site's own ``static/images/logo-long.png``, and returns the
hashes of the page's own inline scripts and handlers for a Content-Security-Policy that allows
exactly those, the server's files and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re

# CDN file -> vendored file (under the app's static/ folder); None: left out.
VENDORED: dict[str, str | None] = {
    "jquery-3.7.1.min.js": "vendor/jquery-3.7.1.min.js",
    "popper.min.js": None,  # in the Bootstrap bundle
    "bootstrap.min.js": "vendor/bootstrap-4.3.1.bundle.min.js",
    "bootstrap.min.css": "vendor/bootstrap-4.3.1.min.css",
    "bootstrap-table.min.js": "vendor/bootstrap-table-1.19.1.min.js",
    "bootstrap-table.min.css": "vendor/bootstrap-table-1.19.1.min.css",
    "bootstrap-table-filter-control.min.js": "vendor/bootstrap-table-filter-control-1.19.1.min.js",
    "bootstrap-table-filter-control.min.css": "vendor/bootstrap-table-filter-control-1.19.1.min.css",
    "bootstrap-table-filter-control.css": "vendor/bootstrap-table-filter-control-1.19.1.min.css",
    "bootstrap-datepicker.min.js": "vendor/bootstrap-datepicker-1.9.0.min.js",
    "bootstrap-datepicker.min.css": "vendor/bootstrap-datepicker-1.9.0.min.css",
    "all.min.css": "icons.css",  # Font Awesome: the few icons used, as characters
}
# CDN files the pages go without: Vega (charts, which the validation and expectation pages do not
# draw) and the dark-mode sheet. Any other CDN file is dropped too, and :func:`unknown_assets` names it.
DROPPED = ("vega@5", "vega-lite@5", "vega-embed@6", "bootstrap-prefers-dark.css")
SITE_LOGO = "static/images/logo-long.png"  # shipped in every GE site (great_expectations/render/view/static)

_EXTERNAL = r"(?:https?:)?//[^\"'\s>]+"
_SCRIPT = re.compile(rf"<script\b[^>]*\bsrc=[\"']({_EXTERNAL})[\"'][^>]*>\s*</script>", re.I)
_LINK = re.compile(rf"<link\b[^>]*\bhref=[\"']({_EXTERNAL})[\"'][^>]*>", re.I)
_IMG_SRC = re.compile(rf"(<img\b[^>]*\bsrc=)[\"']{_EXTERNAL}[\"']", re.I)
_CSS_URL = re.compile(rf"url\(\s*[\"']?{_EXTERNAL}[\"']?\s*\)", re.I)
_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.I | re.S)
_HANDLER = re.compile(r"\son[a-z]+=\"([^\"]*)\"", re.I)


def _name(url: str) -> str:
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def _local(url: str) -> str | None:
    """The vendored file standing in for a CDN ``url``; None when the page goes without it."""
    return VENDORED.get(_name(url))


def unknown_assets(page: str) -> list[str]:
    """CDN scripts and stylesheets of a GE page that are neither vendored nor known to be unneeded
    (a newer GE may add one: the test on a real site catches it)."""
    urls = [m.group(1) for pattern in (_SCRIPT, _LINK) for m in pattern.finditer(page)]
    return [u for u in urls if _name(u) not in VENDORED and _name(u) not in DROPPED]


def rewrite(page: str, depth: int) -> tuple[str, list[str]]:
    """``page`` with local assets only, and the CSP sources of its inline scripts.

    Args:
        depth: folders between the site's root and the page (``index.html``: 0), so that links
            stay relative: the app may sit behind a path prefix.

    Returns:
        The page and ``["'sha256-...'", ...]``, one per inline script and event handler.
    """
    to_app = "../" * (depth + 1)  # the page is at {app}/data-docs/<path>
    to_site = "../" * depth

    def script(match: re.Match[str]) -> str:
        local = _local(match.group(1))
        return "" if local is None else f'<script src="{to_app}static/{local}"></script>'

    def link(match: re.Match[str]) -> str:
        local = _local(match.group(1))
        return "" if local is None else f'<link rel="stylesheet" href="{to_app}static/{local}">'

    page = _SCRIPT.sub(script, page)
    page = _LINK.sub(link, page)
    page = _IMG_SRC.sub(lambda m: f'{m.group(1)}"{to_site}{SITE_LOGO}"', page)
    page = _CSS_URL.sub("none", page)
    return page, inline_hashes(page)


def rewrite_css(text: str) -> str:
    """A stylesheet of the site without images from outside (GE's dark logo)."""
    return _CSS_URL.sub("none", text)


def _hash(code: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(code.encode("utf-8")).digest()).decode() + "'"


def inline_hashes(page: str) -> list[str]:
    """CSP hash sources of every inline ``<script>`` and ``on...=""`` handler of ``page``."""
    found = [_hash(m.group(1)) for m in _INLINE_SCRIPT.finditer(page)]
    found += [_hash(html.unescape(m.group(1))) for m in _HANDLER.finditer(page)]
    return list(dict.fromkeys(found))


def csp(hashes: list[str]) -> str:
    """The Content-Security-Policy of a Data Docs page: the server's own files, the page's own
    inline scripts (by hash), no connections, no forms, no framing by other sites."""
    scripts = " ".join(["'self'", *(["'unsafe-hashes'", *hashes] if hashes else [])])
    return (
        f"default-src 'none'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'none'; form-action 'none'; "
        "frame-ancestors 'self'; base-uri 'none'"
    )


def external_refs(page: str) -> list[str]:
    """URLs outside the server that a page would load (scripts, stylesheets, images, CSS urls):
    what the tests assert is empty."""
    refs = [
        m.group(1)
        for m in re.finditer(
            rf"<(?:script|img|link|iframe|source)\b[^>]*\b(?:src|href)=[\"']({_EXTERNAL})[\"']", page, re.I
        )
    ]
    refs += re.findall(rf"url\(\s*[\"']?({_EXTERNAL})", page, re.I)
    return refs
