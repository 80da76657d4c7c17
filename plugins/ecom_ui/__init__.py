"""The web layer of the "Shop ML" plugin: a FastAPI app and its Jinja2 templates.

The queries it renders live in :mod:`ecom_tasks.ui`; this package only handles HTTP, auth and HTML.
"""
