# SPDX-License-Identifier: Apache-2.0
"""A minimal OIDC issuer of Kubernetes-style service-account tokens, for tests of federated credentials.

Publishes `/.well-known/openid-configuration` and `/openid/v1/jwks` (the paths the Kubernetes API server uses)
and mints tokens with `sub = system:serviceaccount:<ns>:<sa>`. Suites that do not run the Kubernetes API
stand-in use it to feed the Entra emulator's federated flow; `rotate()` swaps the signing key.
"""
from __future__ import annotations

import json
import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ..httpbase import EmulatorServer, Request, Response


class FakeOidcIssuer:
    """One issuer, one signing key (RS256 by default, ES256 as some clusters use). `url` is its issuer URL."""

    def __init__(self, algorithm: str = "RS256") -> None:
        self.algorithm = algorithm
        self.url = ""           # set once served
        self.rotate()

    def serve(self, tls=None, host: str = "127.0.0.1", port: int = 0, netns=None) -> EmulatorServer:
        """Start serving and set `url` to where it listens (the issuer URL is wherever it is reachable)."""
        server = EmulatorServer(self, host=host, port=port, tls=tls, netns=netns).start()
        self.url = server.url
        return server

    def rotate(self) -> None:
        if self.algorithm == "ES256":
            self._key = ec.generate_private_key(ec.SECP256R1())
        else:
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex[:12]

    def jwks(self) -> dict:
        jwk = json.loads(jwt.algorithms.get_default_algorithms()[self.algorithm].to_jwk(self._key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": self.algorithm})
        return {"keys": [jwk]}

    def handle(self, req: Request) -> Response:
        if req.path == "/.well-known/openid-configuration":
            return Response.json(200, {"issuer": self.url, "jwks_uri": f"{self.url}/openid/v1/jwks",
                                       "response_types_supported": ["id_token"],
                                       "subject_types_supported": ["public"],
                                       "id_token_signing_alg_values_supported": [self.algorithm]})
        if req.path == "/openid/v1/jwks":
            return Response.json(200, self.jwks())
        return Response.json(404, {"kind": "Status", "code": 404})

    def token(self, namespace: str = "default", service_account: str = "workload", *,
              audience: str = "api://AzureADTokenExchange", ttl_s: int = 3600, key=None, **overrides) -> str:
        """A projected service-account token; `overrides` replace claims, `key` signs with another key."""
        now = int(time.time())
        claims = {"aud": [audience], "exp": now + ttl_s, "iat": now, "nbf": now, "iss": self.url,
                  "sub": f"system:serviceaccount:{namespace}:{service_account}",
                  "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": service_account,
                                                                               "uid": str(uuid.uuid4())}}}
        claims.update(overrides)
        return jwt.encode(claims, key or self._key, algorithm=self.algorithm, headers={"kid": self.kid})
