# SPDX-License-Identifier: Apache-2.0
"""`podid doctor` on federated identities: each credential mistake set up for real in the Entra emulator (the
model ARM's federatedIdentityCredentials list is read from, as Entra ID checks a token exchange against it):
a credential with the wrong subject, one with the wrong issuer, none at all; a right one is nothing wrong. The
issuer is the API stand-in's own (its /.well-known/openid-configuration), and the ARM calls stay in the bound:
one identity GET and one credentials list per federated identity, no permissions call for them."""
from __future__ import annotations

from podid_harness.controller_cluster import NODE_RG

READER = "Reader"


def federated(cluster, name: str, *credentials: tuple[str, str]):
    """A federated identity bound to pod shop/<name> (service account default), with these (issuer, subject)
    credentials; the controller's principal may read it."""
    ident = cluster.add_identity("shop", name, grant_operator=False, federated=True)
    cluster.grant(READER, ident.resource_id)
    app = cluster.entra.register_app(client_id=ident.client_id, object_id=ident.azure.principal_id,
                                     display_name=name)
    for n, (issuer, subject) in enumerate(credentials):
        cluster.entra.add_federated_credential(app, issuer, subject, name=f"{name}-{n}")
    cluster.bind("shop", ident, selector=name)
    cluster.add_pod("shop", name, cluster.pool.nodes[0], selector=name)
    return ident


def test_federated_credentials_wrong_subject_wrong_issuer_none_and_right(cluster, doctor):
    cluster.pool = cluster.add_scale_set(NODE_RG, "aks-pool-vmss")
    doctor.agents_everywhere()
    issuer, subject = cluster.api.issuer, "system:serviceaccount:shop:default"
    federated(cluster, "right", (issuer, subject))
    federated(cluster, "typo", (issuer, "system:serviceaccount:shop:defualt"))
    federated(cluster, "slash", (issuer.rstrip("/") + "/", subject) if not issuer.endswith("/")
              else (issuer.rstrip("/"), subject))
    federated(cluster, "none")

    r = doctor.run("doctor")
    assert r.status == 1, r.stdout + r.stderr
    by_object = {f["object"]: f for f in r.json()["findings"] if f["code"].startswith("FederatedCredential")}
    assert set(by_object) == {"AzureIdentity shop/typo", "AzureIdentity shop/slash", "AzureIdentity shop/none"}, \
        r.stdout
    assert by_object["AzureIdentity shop/typo"]["code"] == "FederatedCredentialWrongSubject"
    assert "system:serviceaccount:shop:defualt" in by_object["AzureIdentity shop/typo"]["cause"]
    wrong_issuer = by_object["AzureIdentity shop/slash"]
    assert wrong_issuer["code"] == "FederatedCredentialWrongIssuer" and "trailing slash" in wrong_issuer["cause"]
    assert wrong_issuer["fix"].startswith("az identity federated-credential update --name slash-0 ")
    missing = by_object["AzureIdentity shop/none"]
    assert missing["code"] == "FederatedCredentialMissing" and "the identity has none" in missing["cause"]
    assert f"--issuer {issuer} --subject {subject} --audiences api://AzureADTokenExchange" in missing["fix"]
    # No role is asked of a federated identity, so no MissingAssignPermission although none was granted.
    assert "MissingAssignPermission" not in r.codes(), r.stdout
    # The bound: 4 identity GETs, 4 credential lists, no permissions call for them (no scale set needs one).
    assert r.json()["arm"]["calls"] == {"GET identity": 4, "GET federated credentials": 4}, r.json()["arm"]
    assert cluster.arm.counters["GET federated credentials"] == 4

    # Fixed the way the finding says (the emulator's model, as `az` would), the identity is clean.
    app = cluster.entra.app(cluster.identities[("shop", "none")].client_id)
    cluster.entra.add_federated_credential(app, issuer, subject, name="shop-default")
    again = doctor.run("doctor")
    assert "AzureIdentity shop/none" not in {f["object"] for f in again.json()["findings"]}, again.stdout


def test_an_issuer_given_by_flag_is_the_one_compared(cluster, doctor):
    cluster.pool = cluster.add_scale_set(NODE_RG, "aks-pool-vmss")
    doctor.agents_everywhere()
    federated(cluster, "orders", (cluster.api.issuer, "system:serviceaccount:shop:default"))
    assert not [c for c in doctor.run("doctor").codes() if c.startswith("Federated")]
    r = doctor.run("doctor", "--oidc-issuer", "https://oidc.prod.example/cluster/")
    assert r.codes().count("FederatedCredentialWrongIssuer") == 1, r.stdout
