# SPDX-License-Identifier: Apache-2.0
"""The emulated tenant's token signer: every access token the emulators hand out (IMDS, Entra ID) is an RS256
JWT signed here, and every emulator that accepts bearer tokens (ARM, Key Vault) verifies it here.

Claims follow Entra ID v1 access tokens (reference/azure-wire-formats.md §1.2, §4): aud, iss, tid, oid, appid,
iat, nbf, exp, and `xms_mirid` for managed identities when given.
"""
from __future__ import annotations

import base64
import hashlib
import time
import uuid
from typing import Iterable, Optional, Union

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


class InvalidToken(Exception):
    """A bearer token failed verification. `reason` is a short machine-readable cause."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def _b64url_uint(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class TokenIssuer:
    """One tenant's signing key. Thread-safe: it holds no mutable state after construction."""

    def __init__(self, tenant_id: Optional[str] = None, issuer_base: str = "https://sts.windows.net") -> None:
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.issuer = f"{issuer_base.rstrip('/')}/{self.tenant_id}/"
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pub = self._key.public_key().public_numbers()
        self.kid = hashlib.sha256(_b64url_uint(pub.n).encode()).hexdigest()[:16]
        self._jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                     "n": _b64url_uint(pub.n), "e": _b64url_uint(pub.e)}

    def issue(self, *, audience: str, oid: str, appid: str, ttl_s: int = 3600,
              extra: Optional[dict] = None, now: Optional[int] = None) -> tuple[str, int]:
        """Return (jwt, expires_on epoch seconds)."""
        now = int(time.time()) if now is None else now
        exp = now + ttl_s
        claims = {"aud": audience, "iss": self.issuer, "tid": self.tenant_id, "oid": oid, "sub": oid,
                  "appid": appid, "iat": now, "nbf": now - 300, "exp": exp, "ver": "1.0",
                  "uti": uuid.uuid4().hex}
        claims.update(extra or {})
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})
        return token, exp

    def verify(self, token: str, *, audience: Union[str, Iterable[str]]) -> dict:
        """Verify signature, issuer, audience and lifetime; return the claims or raise InvalidToken."""
        auds = [audience] if isinstance(audience, str) else list(audience)
        # Azure accepts the resource with or without a trailing slash as audience.
        accepted = set(auds) | {a.rstrip("/") for a in auds} | {a.rstrip("/") + "/" for a in auds}
        try:
            return jwt.decode(token, self._key.public_key(), algorithms=["RS256"], audience=list(accepted),
                              issuer=self.issuer, leeway=0)
        except jwt.ExpiredSignatureError as e:
            raise InvalidToken("expired", str(e)) from e
        except jwt.InvalidAudienceError as e:
            raise InvalidToken("audience", str(e)) from e
        except jwt.InvalidIssuerError as e:
            raise InvalidToken("issuer", str(e)) from e
        except jwt.PyJWTError as e:
            raise InvalidToken("signature", str(e)) from e

    def jwks(self) -> dict:
        return {"keys": [dict(self._jwk)]}
