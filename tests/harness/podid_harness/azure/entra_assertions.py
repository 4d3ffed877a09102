# SPDX-License-Identifier: Apache-2.0
"""How Entra ID checks a `client_assertion`: a certificate-signed JWT made by the app itself, or a federated
token (a Kubernetes service-account JWT) checked against the app's federated identity credentials.

Rules from reference/azure-wire-formats.md §4.3 (both RS256 from adal and PS256 from msal-node; `x5t` SHA-1 with or
without padding, `x5t#S256`; aud = the token endpoint, adal's `?api-version=1.0` included) and §6 (federation).
A replayed `jti` is not refused: msal-node reuses its cached assertion until it expires, and Entra accepts that.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import json
import socket
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Iterable, Optional
from urllib.parse import urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..httpbase import thread_in_netns
from . import entra_errors as err

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CERT_ALGORITHMS = ("RS256", "PS256")
FEDERATED_ALGORITHMS = ("RS256", "PS256", "ES256")
CLOCK_SKEW_S = 300          # Entra tolerates five minutes of clock skew on nbf/exp


@dataclass(frozen=True)
class FederatedCredential:
    issuer: str
    subject: str
    audience: str = "api://AzureADTokenExchange"
    name: str = ""


def unverified(token: str) -> tuple[dict, dict]:
    """Header and claims of a JWT, unverified; raises the 'malformed' error."""
    try:
        return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as e:
        raise err.malformed_assertion(str(e)) from e


def check_time(claims: dict, now: float) -> None:
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, (int, float)):
        raise err.malformed_assertion("The 'exp' claim is missing.")
    if exp + CLOCK_SKEW_S < now or (isinstance(nbf, (int, float)) and nbf - CLOCK_SKEW_S > now):
        raise err.not_in_time_range(now, nbf, exp)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _b64url_decode(value: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return b""


def _find_certificate(header: dict, certs: Iterable[x509.Certificate]) -> tuple[Optional[x509.Certificate], str]:
    """The registered certificate the header's thumbprint names, and that thumbprint in hex for messages."""
    if "x5t#S256" in header:
        want, digest = _b64url_decode(str(header["x5t#S256"])), hashlib.sha256
    elif "x5t" in header:
        want, digest = _b64url_decode(str(header["x5t"])), hashlib.sha1
    else:
        return None, ""
    for cert in certs:
        if digest(_der(cert)).digest() == want:
            return cert, want.hex().upper()
    return None, want.hex().upper()


def verify_certificate_assertion(token: str, header: dict, claims: dict, *, client_id: str,
                                 certificates: list[x509.Certificate], audiences: set[str], now: float) -> None:
    if header.get("alg") not in CERT_ALGORITHMS:
        raise err.malformed_assertion(f"Unsupported signing algorithm '{header.get('alg')}'.")
    cert, thumb = _find_certificate(header, certificates)
    if cert is None:
        raise err.key_not_found(thumb, client_id)
    try:
        jwt.decode(token, cert.public_key(), algorithms=[header["alg"]],
                   options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False})
    except jwt.PyJWTError as e:
        raise err.bad_signature(thumb, client_id) from e
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise err.app_id_mismatch()
    aud = claims.get("aud")
    if not isinstance(aud, str) or _without_query(aud) not in audiences:
        raise err.audience_mismatch(aud)
    if not claims.get("jti"):
        raise err.malformed_assertion("The 'jti' claim is missing.")
    check_time(claims, now)


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}"


def token_endpoint_audiences(base_url: str, tenant: str) -> set[str]:
    """What a client may put in `aud`: the v1 or v2 token endpoint (query ignored) or the authority itself."""
    base = _without_query(base_url).rstrip("/")
    return {f"{base}/{tenant}/oauth2/token", f"{base}/{tenant}/oauth2/v2.0/token", f"{base}/{tenant}/",
            f"{base}/{tenant}", f"{base}/{tenant}/v2.0"}


def match_federated(credentials: Iterable[FederatedCredential], claims: dict,
                    legacy_error: bool = False) -> FederatedCredential:
    """The credential matching issuer, subject and audience exactly (case-sensitive, as Entra has matched since
    2025). Otherwise what Entra answers today: 700211 when no credential names the issuer, 700213 when none names
    the subject under it, 700212 when only the audience differs; or the single 70021 of older reports."""
    iss, sub, aud = claims.get("iss", ""), claims.get("sub", ""), claims.get("aud", "")
    auds = aud if isinstance(aud, list) else [aud]
    credentials = list(credentials)
    for cred in credentials:
        if cred.issuer == iss and cred.subject == sub and cred.audience in auds:
            return cred
    if legacy_error:
        raise err.no_federated_match(str(iss), str(sub), ",".join(str(a) for a in auds))
    same_issuer = [c for c in credentials if c.issuer == iss]
    if not same_issuer:
        raise err.no_federated_issuer(str(iss))
    if not any(c.subject == sub for c in same_issuer):
        raise err.no_federated_subject(str(sub))
    raise err.no_federated_audience(",".join(str(a) for a in auds))


class OidcKeyFetcher:
    """Fetches an external issuer's signing keys the way Entra does: `<issuer>/.well-known/openid-configuration`
    -> `jwks_uri`. Only addresses on this machine are ever contacted."""

    def __init__(self, ssl_context: Optional[ssl.SSLContext] = None, timeout_s: float = 5.0,
                 cache_s: float = 60.0, netns: Optional[str] = None) -> None:
        self.ssl_context = ssl_context
        # Where Entra reaches issuers from: a named network namespace (a simulated node's, where a Kubernetes
        # stand-in listens on the node's loopback), or this process's own.
        self.netns = netns
        # Loopback is always allowed; a test namespace's own address (say a Kubernetes stand-in on 10.x inside
        # a namespace the test made) must be added here explicitly, so that no guess ever reaches the LAN.
        self.allowed_addresses: set[str] = set()
        self._timeout_s, self._cache_s = timeout_s, cache_s
        self._cache: dict[str, tuple[float, list[jwt.PyJWK]]] = {}
        self._lock = threading.Lock()

    def forget(self) -> None:
        """Drop every cached key set: the next assertion makes Entra fetch the issuer's keys again."""
        with self._lock:
            self._cache.clear()

    def verify(self, token: str, header: dict, issuer: str) -> None:
        if header.get("alg") not in FEDERATED_ALGORITHMS:
            raise err.malformed_assertion(f"Unsupported signing algorithm '{header.get('alg')}'.")
        keys = self._keys(issuer, header.get("kid"))
        for key in keys:
            if header.get("kid") and key.key_id and key.key_id != header["kid"]:
                continue
            try:
                jwt.decode(token, key.key, algorithms=[header["alg"]],
                           options={"verify_aud": False, "verify_exp": False, "verify_nbf": False,
                                    "verify_iat": False})
                return
            except jwt.PyJWTError:
                continue
        raise err.bad_signature(str(header.get("kid", "")), issuer)

    def _keys(self, issuer: str, kid: Optional[str]) -> list[jwt.PyJWK]:
        with self._lock:
            cached = self._cache.get(issuer)
        fresh = cached and time.monotonic() - cached[0] < self._cache_s
        # A kid we have not seen means the issuer rotated its keys: fetch again, as Entra does.
        if fresh and (kid is None or any(k.key_id == kid for k in cached[1])):
            return cached[1]
        keys = self._fetch(issuer)
        with self._lock:
            self._cache[issuer] = (time.monotonic(), keys)
        return keys

    def _fetch(self, issuer: str) -> list[jwt.PyJWK]:
        try:
            config = self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
            jwks = self._get_json(config["jwks_uri"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise err.oidc_unreachable(issuer, str(e)) from e
        keys = []
        for jwk in jwks.get("keys", []):
            try:
                keys.append(jwt.PyJWK(jwk))
            except jwt.PyJWTError:
                continue    # a key type we cannot use does not spoil the others
        return keys

    def _get_json(self, url: str):
        # No proxies from the environment and no redirects: either could lead off the machine.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect,
                                             urllib.request.HTTPSHandler(context=self.ssl_context))
        req = urllib.request.Request(url, headers={"Accept": "application/json"})
        with thread_in_netns(self.netns):
            _require_local(url, self.allowed_addresses)
            with opener.open(req, timeout=self._timeout_s) as resp:
                return json.loads(resp.read())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise ValueError(f"refusing to follow a redirect to {newurl!r}")


def _require_local(url: str, allowed: set[str]) -> None:
    """Refuse any URL whose host is not loopback or explicitly allowed: the emulator must never reach out."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"refusing to fetch {url!r}: not an http(s) URL")
    for info in socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP):
        addr = ipaddress.ip_address(info[4][0].split("%")[0])
        if not (addr.is_loopback or str(addr) in allowed):
            raise ValueError(f"refusing to fetch {url!r}: {addr} is not a local test address")
