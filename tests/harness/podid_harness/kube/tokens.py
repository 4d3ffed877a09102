# SPDX-License-Identifier: Apache-2.0
"""Service-account tokens as the API server issues them through the TokenRequest API (bound, audience-scoped
RS256 JWTs), and the OIDC discovery documents a relying party (Entra ID workload identity federation) reads to
verify them."""
from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from typing import Optional

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from .errors import ApiError


MIN_EXPIRATION_S = 600
MAX_EXPIRATION_S = 2 ** 32


def _kid(key: rsa.RSAPrivateKey) -> str:
    """The API server's key id: unpadded base64url of the SHA-256 of the DER public key."""
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


class ServiceAccountSigner:
    """Signs with one key and publishes it, plus the keys it was told to keep after a rotation (an API server
    given several --service-account-key-file verifies, and publishes, them all)."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = _kid(self._key)
        self._published: list[rsa.RSAPrivateKey] = [self._key]

    def rotate(self, keep_old: bool = True) -> None:
        """A new signing key; the old one stays published (and accepted) only if `keep_old`."""
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = _kid(self._key)
        self._published = [self._key] + (self._published if keep_old else [])

    def jwks(self) -> dict:
        keys = []
        for key in self._published:
            jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
            jwk.update({"use": "sig", "alg": "RS256", "kid": _kid(key)})
            keys.append(jwk)
        return {"keys": keys}

    def openid_configuration(self) -> dict:
        return {"issuer": self.issuer, "jwks_uri": f"{self.issuer}/openid/v1/jwks",
                "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"]}

    @staticmethod
    def validate_expiration(spec: dict) -> None:
        """ValidateTokenRequest: at least 10 minutes, at most 2^32 seconds (422 otherwise)."""
        ttl = spec.get("expirationSeconds")
        if ttl is None:
            return
        prefix = 'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: %d: '
        if ttl < MIN_EXPIRATION_S:
            raise ApiError(422, prefix % ttl + "may not specify a duration less than 10 minutes", "Invalid")
        if ttl > MAX_EXPIRATION_S:
            raise ApiError(422, prefix % ttl + "may not specify a duration larger than 2^32 seconds", "Invalid")

    def issue(self, namespace: str, sa: dict, spec: dict, pod: Optional[dict],
              node: Optional[dict] = None) -> tuple[str, int]:
        """Return (token, exp) for a TokenRequest `spec` against service account `sa`."""
        self.validate_expiration(spec)
        ttl = int(spec.get("expirationSeconds") or 3600)
        now = int(time.time())
        binding = {"namespace": namespace,
                   "serviceaccount": {"name": sa["metadata"]["name"], "uid": sa["metadata"]["uid"]}}
        if pod is not None:
            binding["pod"] = {"name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]}
        if node is not None:
            binding["node"] = {"name": node["metadata"]["name"], "uid": node["metadata"]["uid"]}
        claims = {"aud": list(spec.get("audiences") or [self.issuer]), "exp": now + ttl, "iat": now,
                  "nbf": now, "iss": self.issuer, "jti": str(uuid.uuid4()),
                  "sub": f"system:serviceaccount:{namespace}:{sa['metadata']['name']}", "kubernetes.io": binding}
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid}), now + ttl

    def user_of(self, token: str) -> Optional[str]:
        """The user a service-account JWT authenticates as (any audience is accepted: the stand-in is a test
        server, not a security boundary for them), or None."""
        for key in self._published:
            try:
                claims = jwt.decode(token, key.public_key(), algorithms=["RS256"], issuer=self.issuer,
                                    options={"verify_aud": False})
            except jwt.PyJWTError:
                continue
            return claims.get("sub")
        return None
