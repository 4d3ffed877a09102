# SPDX-License-Identifier: Apache-2.0
"""deploy/ applied for real: kubectl against the API server stand-in, which validates custom resources against
the CRDs' structural schemas (and their CEL rules) as a real server does."""
import re

import pytest

from conftest import CRDS, MANIFESTS, NAMESPACE, load_docs

pytestmark = pytest.mark.real_client

GROUP = "aadpodidentity.k8s.io"
RID = ("/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg/providers/"
       "Microsoft.ManagedIdentity/userAssignedIdentities/web")
CLIENT = "11111111-2222-3333-4444-555555555555"


def plural(api, kind: str) -> str:
    return api.resource(kind).plural


def stored(api, doc: dict) -> dict:
    md = doc["metadata"]
    return api.get(plural(api, doc["kind"]), md["name"], md.get("namespace", ""))


def test_crds_then_manifests_apply_cleanly_and_read_back(api, kubectl):
    out = kubectl("apply", "-f", str(CRDS)).stdout
    assert out.count("created") == 4, out
    out = kubectl("apply", "-f", str(MANIFESTS)).stdout
    docs = load_docs(MANIFESTS)
    assert out.count(" created") == len(docs), out
    for doc in docs:
        got = stored(api, doc)
        for field, value in doc.items():
            if field == "metadata":
                labels = got["metadata"].get("labels") or {}
                assert labels.items() >= (value.get("labels") or {}).items(), doc["metadata"]["name"]
            else:
                assert got[field] == value, (doc["kind"], doc["metadata"]["name"], field)
    # Applying again changes nothing. Recent kubectl always sends a PodDisruptionBudget's selector (its compiled-in
    # type says patchStrategy "replace") and so reports it "configured"; the server sees a no-op and writes nothing.
    versions = {d["metadata"]["name"] + d["kind"]: stored(api, d)["metadata"]["resourceVersion"] for d in docs}
    out = kubectl("apply", "-f", str(MANIFESTS)).stdout
    pdb_configured = "poddisruptionbudget.policy/podid-controller configured" in out
    assert out.count("unchanged") == len(docs) - pdb_configured, out
    assert versions == {d["metadata"]["name"] + d["kind"]: stored(api, d)["metadata"]["resourceVersion"]
                        for d in docs}


def test_optional_variant_and_uninstall_files_apply(api, kubectl):
    kubectl("apply", "-f", str(CRDS))
    kubectl("apply", "-f", str(MANIFESTS))
    # The Prometheus Operator's CRD, reduced to what the stand-in needs to serve ServiceMonitors.
    servicemonitor_crd = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: servicemonitors.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: ServiceMonitor, plural: servicemonitors, singular: servicemonitor}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"""
    kubectl("apply", "-f", "-", stdin=servicemonitor_crd)
    for sub in ("optional", "variants", "uninstall"):
        kubectl("apply", "-f", str(MANIFESTS / sub))
        for doc in load_docs(MANIFESTS / sub):
            got = stored(api, doc)
            for field in doc.keys() - {"metadata", "apiVersion", "kind"}:
                assert got[field] == doc[field], (doc["metadata"]["name"], field)
    deployment = api.get("deployments", "podid-controller", NAMESPACE)
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_exception_in_the_manifests_matches_the_controller_pods(api, kubectl):
    docs = load_docs(MANIFESTS)
    exception = next(d for d in docs if d["kind"] == "AzurePodIdentityException"
                     and d["metadata"]["name"] == "podid-controller")
    agent = next(d for d in docs if d["kind"] == "DaemonSet")["spec"]["template"]["metadata"]["labels"]
    controller = next(d for d in docs if d["kind"] == "Deployment")
    labels = controller["spec"]["template"]["metadata"]["labels"]
    assert exception["metadata"]["namespace"] == controller["metadata"]["namespace"]
    # Any one pair excepts a pod (the predecessor's rule): every pair must match the controller and none the agent.
    for k, v in exception["spec"]["podLabels"].items():
        assert labels.get(k) == v and agent.get(k) != v


def test_aks_exception_matches_aks_pods_of_kube_system_and_no_podid_pod(api, kubectl):
    # Applied with the rest (after the CRDs, as deploy/README.md says) and stored in kube-system, where AKS runs
    # the pods it labels kubernetes.azure.com/managedby=aks.
    kubectl("apply", "-f", str(CRDS))
    kubectl("apply", "-f", str(MANIFESTS))
    (aks,) = [d for d in load_docs(MANIFESTS) if d["kind"] == "AzurePodIdentityException"
              and d["metadata"]["namespace"] == "kube-system"]
    stored_exception = api.get("azurepodidentityexceptions", aks["metadata"]["name"], "kube-system")
    assert stored_exception["spec"]["podLabels"] == {"kubernetes.azure.com/managedby": "aks"}
    # It excepts nothing of podid's own (any one pair excepts a pod).
    for doc in load_docs(MANIFESTS):
        labels = doc.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
        assert not labels.items() & aks["spec"]["podLabels"].items(), doc["metadata"]["name"]


# ---- predecessor-shaped objects -----------------------------------------------------------------------------
def identity(name: str, **spec) -> dict:
    return {"apiVersion": f"{GROUP}/v1", "kind": "AzureIdentity", "metadata": {"name": name, "namespace": "default"},
            "spec": spec}


def binding(name: str, **spec) -> dict:
    return {"apiVersion": f"{GROUP}/v1", "kind": "AzureIdentityBinding",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}


ACCEPTED = [
    identity("camel", type=0, resourceID=RID, clientID=CLIENT),
    # Before v1.6 users wrote PascalCase; MIC stored the lower-case tags.
    identity("pascal", type=0, ResourceID=RID, ClientID=CLIENT),
    identity("lower", type=0, resourceid=RID, clientid=CLIENT),
    identity("no-type-is-type-0", resourceID=RID, clientID=CLIENT),
    identity("arm-casing", type=0, clientID=CLIENT.upper(),
             resourceID="/subscriptions/s/resourceGroups/RG/providers/microsoft.managedidentity/UserAssignedIdentities/x"),
    # The predecessor's chart renders resourceID "" for service principals.
    identity("sp-secret", type=1, resourceID="", clientID=CLIENT, tenantID="contoso.onmicrosoft.com",
             clientPassword={"name": "sp", "namespace": "default"}, auxiliaryTenantIDs=None,
             adEndpoint="https://login.microsoftonline.us/"),
    identity("sp-cert-pascal", Type=2, ClientID=CLIENT, TenantID="t", ClientPassword={"name": "cert"}),
    {**identity("vestigial", type=0, resourceID=RID, clientID=CLIENT, adResourceID="", replicas=None,
                ADEndpoint="", metadata={"creationTimestamp": None}),
     "status": {"availableReplicas": 1, "metadata": {},
                "conditions": [{"type": "Assigned", "status": "False", "reason": "MissingRole",
                                "message": "needs Managed Identity Operator", "lastTransitionTime":
                                    "2024-01-01T00:00:00Z", "observedGeneration": 1}]}},
    binding("camel", azureIdentity="camel", selector="web"),
    binding("pascal", AzureIdentity="pascal", Selector="web", weight=1),
    binding("lower", azureidentity="lower", selector="web"),
    {"apiVersion": f"{GROUP}/v1", "kind": "AzurePodIdentityException",
     "metadata": {"name": "camel", "namespace": "default"}, "spec": {"podLabels": {"app": "mic"}}},
    {"apiVersion": f"{GROUP}/v1", "kind": "AzurePodIdentityException",
     "metadata": {"name": "pascal", "namespace": "default"},
     "spec": {"PodLabels": {"component": "mic", "app": "x"}}, "status": {"status": ""}},
    # As MIC writes it: embedded copies (without apiVersion/kind, as typed Go objects serialise them).
    {"apiVersion": f"{GROUP}/v1", "kind": "AzureAssignedIdentity",
     "metadata": {"name": "web-default-camel", "namespace": "default", "labels": {"nodename": "node-1"},
                  "finalizers": ["azureassignedidentity.finalizers.aadpodidentity.k8s.io"]},
     "spec": {"azureIdentityRef": {"metadata": {"name": "camel", "namespace": "default", "resourceVersion": "7"},
                                   "spec": {"type": 0, "resourceID": RID, "clientID": CLIENT}},
              "azureBindingRef": {"metadata": {"name": "camel", "namespace": "default"},
                                  "spec": {"azureIdentity": "camel", "selector": "web"}},
              "pod": "web", "podNamespace": "default", "nodename": "node-1", "replicas": None},
     "status": {"status": "Assigned", "availableReplicas": 1}},
]


@pytest.mark.parametrize("obj", ACCEPTED, ids=lambda o: f"{o['kind']}-{o['metadata']['name']}")
def test_predecessor_objects_are_accepted_and_kept(api, obj):
    for crd in load_docs(CRDS):
        api.create(crd)
    created = api.create(obj, keep_status=True)
    for field in ("spec", "status"):
        if field in obj:
            want = dict(obj[field])    # nulls of nullable fields (replicas, auxiliaryTenantIDs) are kept
            if "metadata" in want:
                want["metadata"] = {}   # vestigial `metadata: {type: object}`: contents pruned, as on a real server
            assert created[field] == want


REFUSED = [
    (identity("bad-type", type=3, resourceID=RID, clientID=CLIENT),
     'spec.type: Unsupported value: 3: supported values: "0", "1", "2"'),
    (identity("type-as-text", type="0", resourceID=RID, clientID=CLIENT),
     'spec.type: Invalid value: "string": spec.type in body must be of type integer: "string"'),
    (identity("no-resource-id", type=0, clientID=CLIENT),
     "spec: Invalid value: \"object\": resourceID is required for type 0 (user-assigned managed identity): "
     "/subscriptions/<subscription-id>/resourcegroups/<resource-group>/providers/Microsoft.ManagedIdentity/"
     "userAssignedIdentities/<name> (az identity show -g <group> -n <name> --query id -o tsv)"),
    (identity("empty-resource-id", resourceID="", clientID=CLIENT), "resourceID is required for type 0"),
    (identity("client-id-as-resource-id", type=0, resourceID=CLIENT, clientID=CLIENT),
     f'spec.resourceID: Invalid value: "{CLIENT}": spec.resourceID in body should match \'(?i)^(/subscriptions/'),
    (identity("not-an-identity", type=0, clientID=CLIENT,
              ResourceID="/subscriptions/s/resourcegroups/rg/providers/Microsoft.Compute/virtualMachines/vm"),
     "spec.ResourceID: Invalid value: \"/subscriptions/s/resourcegroups/rg/providers/Microsoft.Compute/"
     "virtualMachines/vm\": spec.ResourceID in body should match"),
    (identity("trailing-slash", type=0, clientID=CLIENT, resourceID=RID + "/"), "spec.resourceID in body should match"),
    (identity("no-client-id", type=0, resourceID=RID),
     'spec: Invalid value: "object": clientID is required: the client id (a GUID) of the user-assigned identity '
     "or of the service principal (az identity show -g <group> -n <name> --query clientId -o tsv)"),
    (identity("client-id-typo", type=1, ClientId=CLIENT, tenantID="t"), "clientID is required"),
    (identity("client-id-not-guid", type=0, resourceID=RID, ClientID="web-identity"),
     'spec.ClientID: Invalid value: "web-identity": spec.ClientID in body should match '
     "'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'"),
    (binding("no-selector", azureIdentity="camel"),
     'spec: Invalid value: "object": selector is required: pods labelled `aadpodidbinding: <selector>` use the '
     "identity"),
    (binding("no-identity", Selector="web"),
     'spec: Invalid value: "object": azureIdentity is required, the name of an AzureIdentity in this binding\'s '
     "namespace"),
    (binding("empty-selector", azureIdentity="camel", selector=""),
     'spec.selector: Invalid value: "": spec.selector in body should be at least 1 chars long'),
    ({**identity("bad-condition", type=0, resourceID=RID, clientID=CLIENT),
      "status": {"conditions": [{"type": "Assigned", "status": "Yes"}]}},
     'status.conditions[0].status: Unsupported value: "Yes": supported values: "True", "False", "Unknown"'),
]


@pytest.mark.parametrize("obj, message", REFUSED, ids=lambda o: o["metadata"]["name"] if isinstance(o, dict) else "")
def test_common_mistakes_are_refused_with_a_readable_message(api, obj, message):
    from podid_harness.kube.errors import ApiError
    for crd in load_docs(CRDS):
        api.create(crd)
    with pytest.raises(ApiError) as e:
        api.create(obj)
    assert e.value.code == 422
    assert e.value.message.startswith(f'{obj["kind"]}.{GROUP} "{obj["metadata"]["name"]}" is invalid: ')
    assert message in e.value.message
    assert api.find(plural(api, obj["kind"]), obj["metadata"]["name"]) is None


def test_kubectl_shows_the_refusal_and_the_printer_columns(api, kubectl):
    import yaml
    kubectl("apply", "-f", str(CRDS))
    r = kubectl("apply", "-f", "-", check=False,
                stdin=yaml.safe_dump(identity("bad", type=5, resourceID=RID, clientID=CLIENT)))
    assert r.returncode != 0
    assert 'spec.type: Unsupported value: 5: supported values: "0", "1", "2"' in r.stderr
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(ACCEPTED))

    def table(resource):
        lines = kubectl("get", resource, "-n", "default").stdout.splitlines()
        return [re.split(r"\s{2,}", line.strip()) for line in lines]
    rows = table("azureidentities")
    assert rows[0] == ["NAME", "TYPE", "CLIENTID", "AGE"]
    assert ["camel", "0", CLIENT] in [r[:3] for r in rows]
    rows = table("azureidentitybindings")
    assert rows[0] == ["NAME", "AZUREIDENTITY", "SELECTOR", "AGE"]
    assert ["camel", "camel", "web"] in [r[:3] for r in rows]
    rows = table("azureassignedidentities")
    assert rows[0] == ["NAME", "IDENTITY", "POD", "NODE", "STATUS", "AGE"]
    assert rows[1][:5] == ["web-default-camel", "camel", "web", "node-1", "Assigned"]
    rows = table("azurepodidentityexceptions")
    assert rows[0] == ["NAME", "AGE"] and len(rows) == 3
