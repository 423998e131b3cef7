"""The operator's web app: connect links for customers, tenant pages for operators, metrics, health."""

from fortnox_connector.runtime.web.app import create_app
from fortnox_connector.runtime.web.settings import WebSettings

__all__ = ["WebSettings", "create_app"]
