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


class ServiceAccountSigner:
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        der = self._key.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
        # The API server's key id: unpadded base64url of the SHA-256 of the DER public key.
        self.kid = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()

    def jwks(self) -> dict:
        jwk = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update({"use": "sig", "alg": "RS256", "kid": self.kid})
        return {"keys": [jwk]}

    def openid_configuration(self) -> dict:
        return {"issuer": self.issuer, "jwks_uri": f"{self.issuer}/openid/v1/jwks",
                "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"]}

    def issue(self, namespace: str, sa: dict, spec: dict, pod: Optional[dict]) -> tuple[str, int]:
        """Return (token, exp) for a TokenRequest `spec` against service account `sa`."""
        ttl = int(spec.get("expirationSeconds") or 3600)
        if ttl < 600:
            raise ApiError(422, "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: "
                                "Invalid value: %d: may not specify a duration less than 10 minutes" % ttl,
                           "Invalid")
        now = int(time.time())
        binding = {"namespace": namespace,
                   "serviceaccount": {"name": sa["metadata"]["name"], "uid": sa["metadata"]["uid"]}}
        if pod is not None:
            binding["pod"] = {"name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]}
        claims = {"aud": list(spec.get("audiences") or [self.issuer]), "exp": now + ttl, "iat": now,
                  "nbf": now, "iss": self.issuer, "jti": str(uuid.uuid4()),
                  "sub": f"system:serviceaccount:{namespace}:{sa['metadata']['name']}", "kubernetes.io": binding}
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid}), now + ttl

    def user_of(self, token: str) -> Optional[str]:
        """The user a service-account JWT authenticates as (any audience is accepted: the stand-in is a test
        server, not a security boundary for them), or None."""
        try:
            claims = jwt.decode(token, self._key.public_key(), algorithms=["RS256"], issuer=self.issuer,
                                options={"verify_aud": False})
        except jwt.PyJWTError:
            return None
        return claims.get("sub")
