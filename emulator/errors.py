"""Error bodies in the exact shapes Entra ID and Microsoft Graph use."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso_z(moment: dt.datetime, *, millis: bool = False) -> str:
    """ISO 8601 in UTC with a trailing ``Z`` (Graph's date-time format)."""
    text = moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if millis:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


def new_guid() -> str:
    return str(uuid.uuid4())


class OAuthError(Exception):
    """An Entra ID token-endpoint error: ``AADSTS<code>: <message>`` with an OAuth ``error`` value."""

    def __init__(self, status: int, error: str, code: int, message: str) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.status = status
        self.error = error
        self.code = code
        self.message = message

    def body(self, correlation_id: str | None = None, error_uri_base: str = "") -> dict[str, Any]:
        """The JSON body Entra sends, e.g. ``{"error", "error_description", "error_codes", "timestamp", ...}``."""
        now = utc_now()
        stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
        trace_id = new_guid()
        correlation = correlation_id or new_guid()
        description = (
            f"AADSTS{self.code}: {self.message}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation}"
            f"\r\nTimestamp: {stamp}"
        )
        body: dict[str, Any] = {
            "error": self.error,
            "error_description": description,
            "error_codes": [self.code],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation,
        }
        if error_uri_base:
            body["error_uri"] = f"{error_uri_base}/error?code={self.code}"
        return body


class GraphError(Exception):
    """A Microsoft Graph error response (``{"error": {"code", "message", "innerError"}}``)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def graph_error_body(code: str, message: str, request_id: str, client_request_id: str) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": iso_z(utc_now()),
                "request-id": request_id,
                "client-request-id": client_request_id,
            },
        }
    }


# Frequently used Graph errors, named for what they mean.


def not_found(key: str) -> GraphError:
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.",
    )


def bad_request(message: str, code: str = "Request_BadRequest") -> GraphError:
    return GraphError(400, code, message)


def unsupported_query(message: str) -> GraphError:
    return GraphError(400, "Request_UnsupportedQuery", message)


def access_denied() -> GraphError:
    return GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


def invalid_json() -> GraphError:
    return GraphError(
        400,
        "BadRequest",
        "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON "
        "format.",
    )
