# SPDX-License-Identifier: Apache-2.0
"""podid's demo, on one machine: the scenario every aad-pod-identity tutorial walks through.

A simulated node runs podid-agent next to stand-ins of the Kubernetes API, Azure IMDS, Entra ID and Key Vault.
Three pods on its kubenet bridge:
  app       labelled aadpodidbinding=reader: reads a Key Vault secret with the real @azure/identity and
            @azure/keyvault-secrets SDKs, which call 169.254.169.254 as they do on Azure;
  intruder  bound to another identity: gets its own token, and Key Vault's access policy refuses it;
  spoofer   holds CAP_NET_RAW and sends with the app's IP address (what broke the predecessor on kubenet):
            the kernel says which cgroup made the connection, so it gets nothing of the app's identity.
Everything lives in network namespaces with no route off this machine and is removed at the end.
Run through scripts/demo (root)."""
from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "harness"))

from podid_harness.token_cluster import VAULT, TokenCluster, decode_jwt  # noqa: E402

NODE_DIR = ROOT / "tests" / "harness" / "node"
SECRET = "db-password"


def sdk(cluster: TokenCluster, pod, cfg: dict) -> dict:
    """@azure/keyvault-secrets with ManagedIdentityCredential, run inside the pod, no endpoint override."""
    out = pod.run(["node", str(NODE_DIR / "keyvault_get_secret.mjs"), json.dumps(cfg)], env=cluster.pod_env(),
                  timeout=90)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"SDK run failed: {out.stdout[-1000:]} {out.stderr[-1000:]}")
    return json.loads(lines[-1])


class Phase:
    """`with Phase("what"):` prints "demo: what (1.2 s)" once done: one line per phase, with its duration."""

    def __init__(self, what: str):
        self.what = what

    def __enter__(self) -> "Phase":
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            print(f"demo: {self.what} ({time.monotonic() - self.start:.1f} s)", flush=True)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="podid-demo-") as tmp, contextlib.ExitStack() as stack:
        # Registered first, so it runs last: after the cluster has closed, failed run or not.
        stack.callback(lambda: print("demo: cleaned up: namespaces, cgroups, BPF pins and processes removed",
                                     flush=True))
        with Phase("cluster: a simulated node, the Kubernetes API stand-in, IMDS, Entra ID and Key Vault "
                   "emulators, podid-agent ready"):
            c = stack.enter_context(TokenCluster(Path(tmp), mode="standard"))
        return scenario(c)


def scenario(c: TokenCluster) -> int:
    print(f"      node {c.node.name}: programs attached to {c.node.kubepods_dir}")
    with Phase("identities: reader (may read the vault's secret) and other, each bound to a pod"):
        reader = c.add_identity("shop", "reader")
        other = c.add_identity("shop", "other")
        c.bind("shop", "reader", reader, "reader")
        c.bind("shop", "other", other, "other")
        c.keyvault.set_secret(SECRET, "s3cr3t-for-the-app")
        c.keyvault.allow(reader.principal_id, ["get"])
    with Phase("pods: app, intruder and spoofer on the node's kubenet bridge"):
        app = c.add_pod("app", "shop", binding="reader", settle=False)
        intruder = c.add_pod("intruder", "shop", binding="other", settle=False)
        spoofer = c.add_pod("spoofer", "shop", settle=False)
        c.assign(app, reader)
        c.assign(intruder, other)
        c.settle()
    print(f"      app {app.ip} (identity reader), intruder {intruder.ip} (identity other), "
          f"spoofer {spoofer.ip} (no identity, CAP_NET_RAW)")

    cfg = {"kind": "managed", "vaultUrl": c.keyvault_server.url, "name": SECRET}
    with Phase("app: @azure/identity + @azure/keyvault-secrets, unchanged, inside the pod"):
        got = sdk(c, app, cfg)
    if got.get("ok"):
        print(f"      app read secret '{SECRET}' = {got['value']!r} through 169.254.169.254")
    else:
        print(f"      app FAILED: {got}")

    with Phase("intruder: the same SDK code in a pod bound to another identity"):
        denied = sdk(c, intruder, cfg)
    print("      intruder got a token for its own identity; Key Vault said "
          f"{denied.get('statusCode')} {denied.get('code')}" if not denied.get("ok") else
          f"      intruder UNEXPECTEDLY read the secret: {denied}")

    with Phase("spoofer: asks for a token with the app's IP address as its source"):
        r = c.http(spoofer, f"/metadata/identity/oauth2/token?api-version=2018-02-01&resource={VAULT}",
                   bind=app.ip, freebind=True, transparent=True, cap_net_raw=True, client_timeout=2)
    leaked = r.status == 200 and decode_jwt(r.json()["access_token"]).get("oid") == reader.principal_id
    what = f"HTTP {r.status}" if r.status else f"no answer ({r.error})"
    print(f"      spoofer sent from the app's IP {app.ip}: {what}; "
          f"{'LEAKED the app identity' if leaked else 'nothing of the app identity'}")

    print("demo: audit log (podid-agent's stderr, one line per token decision):")
    for line in c.audit_lines()[-6:]:
        print(f"      {line.get('namespace')}/{line.get('pod') or '?':9} {line.get('decision'):>14}  "
              f"status {line.get('status')}  reason {line.get('reason')}  client_id {line.get('client_id') or '-'}")
    ok = got.get("ok") and not denied.get("ok") and not leaked
    print("demo: all as expected" if ok else "demo: SOMETHING WENT WRONG (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
