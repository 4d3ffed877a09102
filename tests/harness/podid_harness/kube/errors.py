# SPDX-License-Identifier: Apache-2.0
"""Failures as the real API server reports them: a `Status` object (kind Status, apiVersion v1, status Failure)
with the reason and code clients branch on (client-go's apierrors.IsNotFound and friends read `reason`)."""
from __future__ import annotations

from typing import Optional

_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
            406: "NotAcceptable", 409: "Conflict", 410: "Expired", 415: "UnsupportedMediaType", 422: "Invalid",
            429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}


class ApiError(Exception):
    def __init__(self, code: int, message: str, reason: Optional[str] = None,
                 details: Optional[dict] = None) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.reason = reason or _REASONS.get(code, "Unknown")
        self.details = details

    def status(self) -> dict:
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            st["details"] = self.details
        return st


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> ApiError:
    return ApiError(404, f'{_qualified(resource, group)} "{name}" not found',
                    details={"name": name, "group": group or None, "kind": resource})


def already_exists(resource: str, group: str, name: str) -> ApiError:
    return ApiError(409, f'{_qualified(resource, group)} "{name}" already exists', "AlreadyExists",
                    details={"name": name, "group": group or None, "kind": resource})


def conflict(resource: str, group: str, name: str) -> ApiError:
    return ApiError(409, f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": the object '
                         f'has been modified; please apply your changes to the latest version and try again',
                    "Conflict", details={"name": name, "group": group or None, "kind": resource})


def invalid(kind: str, group: str, name: str, field: str, value, detail: str) -> ApiError:
    shown = f'"{value}"' if isinstance(value, str) else str(value)
    cause = f"{field}: Invalid value: {shown}: {detail}"
    return ApiError(422, f'{kind}{"." + group if group else ""} "{name}" is invalid: {cause}', "Invalid",
                    details={"name": name, "group": group or None, "kind": kind,
                             "causes": [{"reason": "FieldValueInvalid", "message": f"Invalid value: {shown}: "
                                         f"{detail}", "field": field}]})


def expired(message: str) -> ApiError:
    return ApiError(410, message, "Expired")


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, "BadRequest")
