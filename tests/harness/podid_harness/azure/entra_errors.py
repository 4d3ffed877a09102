# SPDX-License-Identifier: Apache-2.0
"""Entra ID's error answers: the AADSTS catalogue the emulator uses and the JSON envelope around it.

Envelope, status rule (invalid_client -> 401, everything else 400) and AADSTS7000215 / 70011 wording are from
reference/azure-wire-formats.md §4.4; 70021 and 700024 wording is as quoted from the real service in public
issue reports; the remaining texts follow Entra's phrasing as closely as known and are marked [A] there.
"""
from __future__ import annotations

import datetime
import uuid
from typing import Optional

from ..httpbase import Response


class EntraError(Exception):
    """An error the token endpoint answers with. `code` is the AADSTS number."""

    def __init__(self, error: str, code: int, message: str, status: Optional[int] = None) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.error, self.code, self.message = error, code, message
        self.status = status if status is not None else (401 if error == "invalid_client" else 400)

    def response(self, correlation_id: Optional[str] = None, error_uri_base: str = "https://login.microsoftonline.com",
                 now: Optional[datetime.datetime] = None) -> Response:
        now = now or datetime.datetime.now(datetime.timezone.utc)
        stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
        trace_id = str(uuid.uuid4())
        correlation_id = correlation_id or str(uuid.uuid4())
        body = {
            "error": self.error,
            "error_description": f"AADSTS{self.code}: {self.message}\r\nTrace ID: {trace_id}\r\n"
                                 f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp}",
            "error_codes": [self.code], "timestamp": stamp, "trace_id": trace_id,
            "correlation_id": correlation_id, "error_uri": f"{error_uri_base}/error?code={self.code}",
        }
        return Response.json(self.status, body, headers=no_cache_headers(trace_id, correlation_id))


def no_cache_headers(trace_id: str, correlation_id: Optional[str]) -> list[tuple[str, str]]:
    headers = [("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache"), ("x-ms-request-id", trace_id)]
    if correlation_id:
        headers.append(("client-request-id", correlation_id))
    return headers


# -- the catalogue ------------------------------------------------------------------------------------------
def missing_parameter(name: str) -> EntraError:
    return EntraError("invalid_request", 900144, f"The request body must contain the following parameter: '{name}'.")


def unknown_tenant(tenant: str) -> EntraError:
    return EntraError("invalid_request", 90002,
                      f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
                      "signing into the correct cloud. Check with your subscription administrator, this may "
                      "happen if there are no active subscriptions for the tenant.")


def unsupported_grant(grant: str) -> EntraError:
    return EntraError("unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'.")


def post_only(method: str) -> EntraError:
    return EntraError("invalid_request", 900561,
                      f"The endpoint only accepts POST, OPTIONS requests. Received a {method} request.")


def scope_not_default(scope: str) -> EntraError:
    return EntraError("invalid_scope", 1002012,
                      f"The provided value for scope {scope} is not valid. Client credential flows must have a "
                      "scope value with /.default suffixed to the resource identifier (application ID URI).")


def invalid_scope(scope: str) -> EntraError:
    return EntraError("invalid_scope", 70011,
                      f"The provided value for the input parameter 'scope' is not valid. The scope {scope} is "
                      "not valid.")


def resource_missing() -> EntraError:
    return EntraError("invalid_resource", 50001, "Resource identifier is not provided.")


def unknown_resource(resource: str, tenant: str) -> EntraError:
    return EntraError("invalid_resource", 500011,
                      f"The resource principal named {resource} was not found in the tenant named {tenant}. This "
                      "can happen if the application has not been installed by the administrator of the tenant "
                      "or consented to by any user in the tenant. You might have sent your authentication "
                      "request to the wrong tenant.")


def unknown_app(client_id: str, tenant: str) -> EntraError:
    return EntraError("unauthorized_client", 700016,
                      f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. "
                      "This can happen if the application has not been installed by the administrator of the "
                      "tenant or consented to by any user in the tenant. You may have sent your authentication "
                      "request to the wrong tenant.")


def no_credential() -> EntraError:
    return EntraError("invalid_client", 7000218,
                      "The request body must contain the following parameter: 'client_assertion' or "
                      "'client_secret'.", status=400)


def invalid_secret(client_id: str) -> EntraError:
    return EntraError("invalid_client", 7000215,
                      "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                      f"secret value, not the client secret ID, for a secret added to app '{client_id}'.")


def expired_secret(client_id: str) -> EntraError:
    return EntraError("invalid_client", 7000222,
                      f"The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal "
                      "to create new keys for your app.")


def bad_assertion_type(value: str) -> EntraError:
    return EntraError("invalid_request", 50027,
                      f"Invalid client_assertion_type '{value}'. Expected "
                      "'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.")


def malformed_assertion(why: str) -> EntraError:
    return EntraError("invalid_request", 50027, f"JWT token is invalid or malformed. {why}")


def key_not_found(thumbprint: str, client_id: str) -> EntraError:
    return EntraError("invalid_client", 700027,
                      "Client assertion contains an invalid signature. [Reason - The key was not found., "
                      f"Thumbprint of key used by client: '{thumbprint}', Please visit the Azure Portal, Graph "
                      f"Explorer or directly use MS Graph to see configured keys for app Id '{client_id}'.]")


def bad_signature(thumbprint: str, client_id: str) -> EntraError:
    return EntraError("invalid_client", 700027,
                      "Client assertion contains an invalid signature. [Reason - The provided signature value "
                      f"did not match the expected signature value., Thumbprint of key used by client: "
                      f"'{thumbprint}', Found key 'Start=..., End=...' for app Id '{client_id}'.]")


def app_id_mismatch() -> EntraError:
    return EntraError("invalid_client", 700021,
                      "Client assertion application identifier doesn't match 'client_id' parameter. Review the "
                      "documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .")


def audience_mismatch(aud) -> EntraError:
    return EntraError("invalid_client", 50012,
                      f"Client assertion audience claim does not match Realm issuer. Audience: '{aud}'.")


def _iso(epoch: Optional[float]) -> str:
    dt = datetime.datetime.fromtimestamp(epoch or 0, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def not_in_time_range(now: float, nbf: Optional[float], exp: Optional[float]) -> EntraError:
    return EntraError("invalid_client", 700024,
                      f"Client assertion is not within its valid time range. Current time: {_iso(now)}, "
                      f"assertion valid from {_iso(nbf)}, expiry time of assertion {_iso(exp)}. Review the "
                      "documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .")


_FIC_HINT = ("Check your federated identity credential Subject, Audience and Issuer against the presented "
             "assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation")


def no_federated_issuer(issuer: str) -> EntraError:
    """No credential of the app names the assertion's issuer (Entra's wording since 2024, as 401)."""
    return EntraError("invalid_client", 700211, f"No matching federated identity record found for presented "
                                                f"assertion issuer '{issuer}'. {_FIC_HINT}")


def no_federated_audience(audience: str) -> EntraError:
    return EntraError("invalid_client", 700212, f"No matching federated identity record found for presented "
                                                f"assertion audience '{audience}'. {_FIC_HINT}")


def no_federated_subject(subject: str) -> EntraError:
    """The issuer is known but no credential names this subject: the usual "create the FIC" case (azwi#1200)."""
    return EntraError("invalid_client", 700213, f"No matching federated identity record found for presented "
                                                f"assertion subject '{subject}'. {_FIC_HINT}")


def no_federated_match(issuer: str, subject: str, audience: str) -> EntraError:
    """The single older code (2022-2023 reports), kept for EntraEmulator(federated_errors="legacy")."""
    return EntraError("invalid_request", 70021,
                      f"No matching federated identity record found for presented assertion. Assertion Issuer: "
                      f"'{issuer}'. Assertion Subject: '{subject}'. Assertion Audience: '{audience}'. "
                      "https://learn.microsoft.com/entra/workload-id/workload-identity-federation")


def oidc_unreachable(issuer: str, why: str) -> EntraError:
    return EntraError("invalid_request", 50166, f"Request to External OIDC endpoint failed. Issuer: '{issuer}'. {why}")


def unknown_instance() -> EntraError:
    return EntraError("invalid_instance", 50049, "Unknown or invalid instance.")
