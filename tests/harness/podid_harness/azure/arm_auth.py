# SPDX-License-Identifier: Apache-2.0
"""ARM's front door: bearer-token checks (reference §5.1) and subscription throttling budgets (§5.5); and
Compute's own per-resource budgets (its x-ms-ratelimit-remaining-resource policies).

Split from arm.py because both are policies tests tune on their own (a wrong audience, an expired token, a
budget of three writes) without touching resource semantics.
"""
from __future__ import annotations

import threading
import time
from typing import Optional

import jwt

from ..httpbase import Request
from .arm_identity import ArmError
from .tokens import InvalidToken, TokenIssuer

# Exactly the audiences ARM accepts, in the order its error message lists them.
ARM_AUDIENCES = ("https://management.core.windows.net/", "https://management.core.windows.net",
                 "https://management.azure.com/", "https://management.azure.com")
# ARM's hourly figures per principal per subscription (reference §5.5).
DEFAULT_READS, DEFAULT_WRITES = 12000, 1200


class AuthN:
    def __init__(self, issuer: TokenIssuer) -> None:
        self.issuer = issuer

    def _challenge(self, error: str = "invalid_token") -> list[tuple[str, str]]:
        return [("WWW-Authenticate", f'Bearer authorization_uri="https://login.windows.net/{self.issuer.tenant_id}", '
                                     f'error="{error}", error_description="The authentication failed because of '
                                     'missing \'Authorization\' header."')]

    def check(self, req: Request) -> dict:
        """Claims of a valid ARM token, or raise the 401 ARM would send."""
        auth = req.header("authorization") or ""
        if not auth:
            raise ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is "
                           "missing.", self._challenge())
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is "
                           "provided in an invalid format.", self._challenge())
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.",
                           self._challenge()) from None
        aud = unverified.get("aud", "")
        if aud not in ARM_AUDIENCES:
            allowed = ",".join(f"'{a}'" for a in ARM_AUDIENCES)
            raise ArmError(401, "InvalidAuthenticationTokenAudience", "The access token has been obtained for "
                           f"wrong audience or resource '{aud}'. It should exactly match with one of the allowed "
                           f"audiences {allowed}.", self._challenge())
        try:
            return self.issuer.verify(token, audience=aud)
        except InvalidToken as e:
            if e.reason == "expired":
                exp = time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(unverified.get("exp", 0)))
                now = time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime())
                raise ArmError(401, "ExpiredAuthenticationToken", f"The access token expiry UTC time '{exp}' is "
                               f"earlier than current UTC time '{now}'.", self._challenge()) from None
            raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.",
                           self._challenge()) from None


class Budgets:
    """Reads and writes left per (subscription, principal); once spent, 429 until `retry_after_s` has passed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.configure(None, None, 30)

    def configure(self, reads: Optional[int], writes: Optional[int], retry_after_s: int) -> None:
        with self._lock:
            self._limits = {False: DEFAULT_READS if reads is None else reads,
                            True: DEFAULT_WRITES if writes is None else writes}
            self.retry_after_s = retry_after_s
            self._left: dict[tuple[str, str, bool], int] = {}
            self._blocked_until: dict[tuple[str, str, bool], float] = {}

    def spend(self, sub: str, principal: str, write: bool) -> int:
        """Remaining budget after this request, or raise the 429 (reference §5.5 body and headers)."""
        k = (sub.lower(), principal.lower(), write)
        now = time.monotonic()
        with self._lock:
            until = self._blocked_until.get(k)
            if until is not None and now >= until:
                del self._blocked_until[k]
                self._left[k] = self._limits[write]
            left = self._left.get(k, self._limits[write])
            if until is not None and now < until or left <= 0:
                if until is None:
                    until = self._blocked_until[k] = now + self.retry_after_s
                raise self._throttled(write, max(1, int(until - now + 0.999)), self._limits[write])
            self._left[k] = left - 1
            return left - 1

    @staticmethod
    def _throttled(write: bool, retry_after: int, allowed: int) -> ArmError:
        kind = "writes" if write else "reads"
        group = "UpdateVMScaleSet30Min" if write else "HighCostGet30Min"
        start = time.strftime("%Y-%m-%dT%H:%M:%S.0000000+00:00", time.gmtime())
        end = time.strftime("%Y-%m-%dT%H:%M:%S.0000000+00:00", time.gmtime(time.time() + retry_after))
        inner = (f'{{"operationGroup":"{group}","startTime":"{start}","endTime":"{end}",'
                 f'"allowedRequestCount":{allowed},"measuredRequestCount":{allowed + 1}}}')
        err = ArmError(429, "OperationNotAllowed", "The server rejected the request because too many requests have "
                       "been received for this subscription.",
                       [("Retry-After", str(retry_after)), (f"x-ms-ratelimit-remaining-subscription-{kind}", "0"),
                        ("x-ms-ratelimit-remaining-resource", f"Microsoft.Compute/{group};0")])
        err.details = [{"code": "TooManyRequests", "target": group, "message": inner}]
        return err


class ResourceBudgets:
    """Compute's per-resource limits: reads and writes left per scale set or VM (by its policy, e.g.
    `Microsoft.Compute/GetVMScaleSet3Min`), stated on every answer about it in `x-ms-ratelimit-remaining-resource`;
    once spent, 429 for that resource only (the subscription's budget is untouched) until `retry_after_s` has
    passed. Unlimited (no header) until configured."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.configure(None, None, 5)

    def configure(self, reads: Optional[int], writes: Optional[int], retry_after_s: int) -> None:
        with self._lock:
            self._limits = {False: reads, True: writes}
            self.retry_after_s = retry_after_s
            self._left: dict[tuple[str, bool], int] = {}
            self._blocked_until: dict[tuple[str, bool], float] = {}

    def spend(self, resource: str, policy: str, write: bool) -> Optional[tuple[str, str]]:
        """The header to answer with, or raise the resource's 429."""
        limit = self._limits[write]
        if limit is None:
            return None
        k = (resource.lower(), write)
        now = time.monotonic()
        with self._lock:
            until = self._blocked_until.get(k)
            if until is not None and now >= until:
                del self._blocked_until[k]
                self._left[k] = limit
            left = self._left.get(k, limit)
            if until is not None and now < until or left <= 0:
                if until is None:
                    until = self._blocked_until[k] = now + self.retry_after_s
                retry = max(1, int(until - now + 0.999))
                inner = (f'{{"operationGroup":"{policy.split("/")[-1]}","allowedRequestCount":{limit},'
                         f'"measuredRequestCount":{limit + 1}}}')
                err = ArmError(429, "OperationNotAllowed", "The server rejected the request because too many "
                               "requests have been received for this resource.",
                               [("Retry-After", str(retry)), ("x-ms-ratelimit-remaining-resource", f"{policy};0")])
                err.details = [{"code": "TooManyRequests", "target": policy.split("/")[-1], "message": inner}]
                raise err
            self._left[k] = left - 1
            return ("x-ms-ratelimit-remaining-resource", f"{policy};{left - 1}")
