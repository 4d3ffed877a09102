# SPDX-License-Identifier: Apache-2.0
"""The Helm chart and the plain manifests define the same objects, field for field (the drift guard), for the
default values and for each value that switches a manifest variant or optional file in; and every flag either
passes to a binary is a flag that binary has."""
import copy
import re

import pytest
import yaml

from conftest import CHART, CRDS, MANIFESTS, NAMESPACE, REPO, key, load_docs
from helm_subset import Renderer, TemplateError, render_chart

HOOK_ANNOTATIONS = {"helm.sh/hook": "pre-delete", "helm.sh/hook-delete-policy": "before-hook-creation"}


def by_key(objs: list[dict]) -> dict:
    out = {}
    for o in objs:
        assert key(o) not in out, f"defined twice: {key(o)}"
        out[key(o)] = o
    return out


def assert_same(rendered: list[dict], manifests: list[dict]) -> None:
    got, want = by_key(rendered), by_key(manifests)
    assert sorted(got) == sorted(want)
    for k in want:
        assert got[k] == want[k], k


def base_manifests() -> list[dict]:
    # The chart does not create its namespace (helm install --create-namespace).
    return [d for d in load_docs(MANIFESTS) if d["kind"] != "Namespace"]


def manifests_without(*files: str) -> list[dict]:
    """base_manifests() less the objects of the named top-level files."""
    left_out = {key(d) for f in files for d in load_docs(MANIFESTS / f)}
    assert left_out, files
    return [d for d in base_manifests() if key(d) not in left_out]


CONTROLLER_FILES = ("20-controller-rbac.yaml", "21-controller-deployment.yaml", "22-controller-service.yaml",
                    "23-controller-exception.yaml")
AKS_EXCEPTION = ("AzurePodIdentityException", "kube-system", "podid-aks-managed-pods")


def uninstall_daemonset(namespace: str) -> dict:
    ds = next(d for d in load_docs(MANIFESTS / "uninstall") if d["kind"] == "DaemonSet")
    ds = copy.deepcopy(ds)
    ds["metadata"]["namespace"] = namespace
    ds["metadata"]["annotations"] = dict(HOOK_ANNOTATIONS)
    return ds


def test_default_values_render_the_plain_manifests():
    rendered = render_chart(CHART, NAMESPACE)
    assert_same(rendered, base_manifests() + [uninstall_daemonset(NAMESPACE)])


def test_secret_cloud_config_renders_the_non_root_variant():
    rendered = render_chart(CHART, NAMESPACE, {"controller": {"cloudConfig": {"source": "secret"}}})
    variant = load_docs(MANIFESTS / "variants" / "21-controller-deployment-secret-config.yaml")
    replaced = {key(d) for d in variant}
    want = [d for d in base_manifests() if key(d) not in replaced] + variant + [uninstall_daemonset(NAMESPACE)]
    assert_same(rendered, want)


@pytest.mark.parametrize("values, optional_file", [
    ({"rbac": {"allowAccessToSecrets": True}}, "agent-secrets-rbac.yaml"),
    ({"serviceMonitor": {"enabled": True}}, "servicemonitors.yaml"),
])
def test_switches_add_exactly_the_optional_files(values, optional_file):
    rendered = render_chart(CHART, NAMESPACE, values)
    want = base_manifests() + load_docs(MANIFESTS / "optional" / optional_file) + [uninstall_daemonset(NAMESPACE)]
    assert_same(rendered, want)


def test_startup_taint_adds_its_rbac_and_the_flag():
    rendered = render_chart(CHART, NAMESPACE, {"agent": {"startupTaint": "podid.io/agent-not-ready"}})
    want = base_manifests() + load_docs(MANIFESTS / "optional" / "agent-startup-taint-rbac.yaml")
    want = by_key(copy.deepcopy(want + [uninstall_daemonset(NAMESPACE)]))
    args = want[("DaemonSet", NAMESPACE, "podid-agent")]["spec"]["template"]["spec"]["containers"][0]["args"]
    args.insert(args.index("--log-level=info"), "--startup-taint=podid.io/agent-not-ready")
    assert_same(rendered, list(want.values()))


def test_controller_disabled_leaves_out_exactly_the_controller_files():
    # Standard mode without podid-controller (aad-pod-identity's MIC assigns while migrating): the agent is the
    # manifests' agent, still reading AzureAssignedIdentities.
    rendered = render_chart(CHART, NAMESPACE, {"controller": {"enabled": False}})
    assert_same(rendered, manifests_without(*CONTROLLER_FILES) + [uninstall_daemonset(NAMESPACE)])
    # With the ServiceMonitors switched on, only the agent's.
    rendered = by_key(render_chart(CHART, NAMESPACE, {"controller": {"enabled": False},
                                                      "serviceMonitor": {"enabled": True}}))
    assert [k for k in rendered if k[0] == "ServiceMonitor"] == [("ServiceMonitor", NAMESPACE, "podid-agent")]


def test_aks_exception_is_on_by_default_and_its_value_leaves_out_exactly_its_file():
    rendered = by_key(render_chart(CHART, NAMESPACE))
    assert rendered[AKS_EXCEPTION]["spec"] == {"podLabels": {"kubernetes.azure.com/managedby": "aks"}}
    # In kube-system whatever the release namespace: AKS's pods are there.
    assert AKS_EXCEPTION in by_key(render_chart(CHART, "other"))
    rendered = render_chart(CHART, NAMESPACE, {"aksManagedPodsException": False})
    assert_same(rendered, manifests_without("13-aks-managed-pods-exception.yaml") + [uninstall_daemonset(NAMESPACE)])


def lease_names(rbac: list[dict]) -> list[str]:
    """The Lease names the controller's Role lets it read and renew."""
    role = next(d for d in rbac if d["kind"] == "Role" and d["metadata"]["name"] == "podid-controller")
    rules = [r for r in role["rules"] if "leases" in r["resources"] and "update" in r["verbs"]]
    return [n for r in rules for n in r.get("resourceNames", ["<any>"])]


def leader_election_name(deployment: dict) -> str:
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    (name,) = [a.split("=", 1)[1] for a in args if a.startswith("--leader-election-name=")]
    return name


@pytest.mark.parametrize("deployment_file", ["21-controller-deployment.yaml",
                                             "variants/21-controller-deployment-secret-config.yaml"])
def test_manifests_lease_name_is_the_one_the_role_allows(deployment_file):
    (deployment,) = [d for d in load_docs(MANIFESTS / deployment_file) if d["kind"] == "Deployment"]
    assert lease_names(load_docs(MANIFESTS / "20-controller-rbac.yaml")) == [leader_election_name(deployment)]


@pytest.mark.parametrize("source", ["hostPath", "secret"])
def test_one_value_names_the_lease_in_the_flag_and_the_role(source):
    rendered = render_chart(CHART, NAMESPACE, {"controller": {"leaderElectionName": "podid-controller-blue",
                                                              "cloudConfig": {"source": source}}})
    (deployment,) = [d for d in rendered if d["kind"] == "Deployment"]
    assert leader_election_name(deployment) == "podid-controller-blue"
    assert lease_names(rendered) == ["podid-controller-blue"]


def test_managed_mode_has_no_controller_and_no_assigned_identity_access():
    rendered = by_key(render_chart(CHART, "kube-system", {"mode": "managed", "agent": {"uninstallHook": False}}))
    assert not [k for k in rendered if "controller" in k[2]]
    assert ("AzurePodIdentityException", "kube-system", "podid-controller") not in rendered
    agent = rendered[("DaemonSet", "kube-system", "podid-agent")]["spec"]["template"]["spec"]["containers"][0]
    assert "--mode=managed" in agent["args"] and "--mode=standard" not in agent["args"]
    rules = rendered[("ClusterRole", "", "podid-agent")]["rules"]
    assert not [r for r in rules if "azureassignedidentities" in r["resources"]]
    assert [r for r in rules if "azureidentitybindings" in r["resources"]]
    binding = rendered[("ClusterRoleBinding", "", "podid-agent")]
    assert binding["subjects"][0]["namespace"] == "kube-system"
    # The AKS exception stays: in managed mode the agents intercept AKS's pods just the same.
    assert sorted(k[0] for k in rendered) == ["AzurePodIdentityException", "ClusterRole", "ClusterRole",
                                              "ClusterRoleBinding", "ClusterRoleBinding", "DaemonSet", "Service",
                                              "ServiceAccount"]
    assert AKS_EXCEPTION in rendered
    # controller.enabled does not bring the controller back in managed mode.
    assert by_key(render_chart(CHART, "kube-system", {"mode": "managed", "agent": {"uninstallHook": False},
                                                      "controller": {"enabled": True}})) == rendered


def test_federated_mode_has_no_controller_and_keeps_the_kubelet_credential():
    rendered = by_key(render_chart(CHART, NAMESPACE, {"mode": "federated"}))
    assert not [k for k in rendered if "controller" in k[2]]
    agent = rendered[("DaemonSet", NAMESPACE, "podid-agent")]["spec"]["template"]["spec"]
    args = agent["containers"][0]["args"]
    assert "--mode=federated" in args and "--federated=true" in args and "--token-request-credential=kubelet" in args
    mounts = {m["name"]: m for m in agent["containers"][0]["volumeMounts"]}
    assert mounts["kubelet-pki"] == {"name": "kubelet-pki", "mountPath": "/var/lib/kubelet/pki", "readOnly": True}
    rules = rendered[("ClusterRole", "", "podid-agent")]["rules"]
    assert not [r for r in rules if "azureassignedidentities" in r["resources"]]
    assert [r for r in rules if r["resources"] == ["serviceaccounts"]]
    assert ("ClusterRoleBinding", "", "podid-kubelet-token-audience") in rendered


def test_federated_off_leaves_out_the_kubelet_credential_and_the_account_watch():
    rendered = by_key(render_chart(CHART, NAMESPACE, {"federated": {"enabled": False}}))
    agent = rendered[("DaemonSet", NAMESPACE, "podid-agent")]["spec"]["template"]["spec"]
    args = agent["containers"][0]["args"]
    assert "--federated=false" in args and not [a for a in args if a.startswith("--token-")]
    assert not [v for v in agent["volumes"] if v["name"].startswith("kubelet-")]
    assert not [r for r in rendered[("ClusterRole", "", "podid-agent")]["rules"] if "serviceaccounts" in r["resources"]]
    assert ("ClusterRole", "", "podid-kubelet-token-audience") not in rendered


def test_service_account_credential_adds_exactly_its_optional_file():
    rendered = render_chart(CHART, NAMESPACE, {"federated": {"tokenRequestCredential": "serviceAccount"}})
    want = by_key(copy.deepcopy(base_manifests() + load_docs(MANIFESTS / "optional" / "agent-token-request-rbac.yaml")
                                + [uninstall_daemonset(NAMESPACE)]))
    for k in [k for k in want if k[2] == "podid-kubelet-token-audience"]:
        del want[k]
    spec = want[("DaemonSet", NAMESPACE, "podid-agent")]["spec"]["template"]["spec"]
    args = spec["containers"][0]["args"]
    args[args.index("--token-request-credential=kubelet")] = "--token-request-credential=service-account"
    args.remove("--kubelet-kubeconfig=/var/lib/kubelet/kubeconfig")
    spec["containers"][0]["volumeMounts"] = [m for m in spec["containers"][0]["volumeMounts"]
                                             if not m["name"].startswith("kubelet-")]
    spec["volumes"] = [v for v in spec["volumes"] if not v["name"].startswith("kubelet-")]
    assert_same(rendered, list(want.values()))


def test_lists_become_repeated_flags_and_values_reach_the_objects():
    ids = ["11111111-2222-3333-4444-555555555555", "66666666-7777-8888-9999-000000000000"]
    rendered = by_key(render_chart(CHART, NAMESPACE, {
        "forceNamespaced": True,
        "controller": {"immutableUserMSIs": ids, "replicas": 3},
        "agent": {"address": "169.254.99.9", "port": 3000, "notReadyStatus": "503", "assignmentWaitMs": 2500,
                  "passthrough": {"prefixes": ["/metadata/instance/compute"], "blockInstanceMetadata": True},
                  "extraCapabilities": ["SYS_RESOURCE"]},
        "image": {"tag": "9.9.9"}}))
    ds = rendered[("DaemonSet", NAMESPACE, "podid-agent")]["spec"]["template"]["spec"]
    agent = ds["containers"][0]
    for flag in ("--force-namespaced=true", "--listen=169.254.99.9:3000", "--not-ready-status=503",
                 "--assignment-wait-ms=2500",
                 "--passthrough-prefix=/metadata/instance/compute", "--block-instance-metadata=true"):
        assert flag in agent["args"], flag
    assert agent["securityContext"]["capabilities"]["add"] == ["BPF", "NET_ADMIN", "NET_BROADCAST", "SYS_ADMIN", "SYS_RESOURCE"]
    assert "ip address replace 169.254.99.9/32 dev podid0" in ds["initContainers"][0]["args"][0]
    assert agent["image"] == "ghcr.io/podid/podid:9.9.9"
    deployment = rendered[("Deployment", NAMESPACE, "podid-controller")]["spec"]
    args = deployment["template"]["spec"]["containers"][0]["args"]
    assert [a for a in args if a.startswith("--immutable-user-msis")] == [f"--immutable-user-msis={i}" for i in ids]
    assert "--force-namespaced=true" in args and deployment["replicas"] == 3


def test_chart_crds_are_deploy_crds():
    assert (CHART / "crds").resolve() == CRDS.resolve()
    assert sorted(p.name for p in (CHART / "crds").glob("*.yaml")) == sorted(p.name for p in CRDS.glob("*.yaml"))


def test_chart_version_image_tag_and_project_version_agree():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = re.search(r"project\(podid VERSION (\S+)", (REPO / "CMakeLists.txt").read_text()).group(1)
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert chart["appVersion"] == values["image"]["tag"] == project
    for doc in load_docs(MANIFESTS, MANIFESTS / "variants", MANIFESTS / "uninstall"):
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            assert c["image"] == f"ghcr.io/podid/podid:{project}", doc["metadata"]["name"]


def flags_of(config_cpp: str) -> set[str]:
    """The flag names a binary's flag table (agent/config.cpp, controller/config.cpp) declares."""
    return set(re.findall(r'\{"([a-z0-9-]+)", (?:true|false),', (REPO / config_cpp).read_text()))


@pytest.mark.parametrize("container, config_cpp, commands", [
    ("agent", "agent/config.cpp", {"run"}),
    ("controller", "controller/config.cpp", {"run"}),
])
def test_every_flag_passed_is_a_flag_of_the_binary(container, config_cpp, commands):
    known = flags_of(config_cpp)
    assert len(known) > 10, "the flag table was not found: update flags_of()"
    rendered = render_chart(CHART, NAMESPACE, {"agent": {"startupTaint": "t", "passthrough": {"prefixes": ["/metadata/x"]}},
                                               "controller": {"immutableUserMSIs": ["x"]},
                                               "federated": {"authority": "https://login.microsoftonline.us/",
                                                             "tenantId": "t"}})
    rendered += render_chart(CHART, NAMESPACE, {"controller": {"cloudConfig": {"source": "secret"}}})
    seen = 0
    for obj in rendered:
        for c in obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            if c["name"] != container:
                continue
            assert c["args"][0] in commands
            for arg in c["args"][1:]:
                assert arg.startswith("--") and arg[2:].split("=", 1)[0] in known, arg
                seen += 1
    assert seen > 5


# ---- the renderer keeps to its subset -----------------------------------------------------------------------
@pytest.mark.parametrize("template, error", [
    ("{{ if .Values.a }}x{{ else }}y{{ end }}", "'else' is outside the subset"),
    ("{{ .Values.missing }}", ".Values.missing: no value"),
    ("{{ .Values.m }}", "use toYaml"),
    ("{{ include \"x\" . }}", "outside the subset"),
    ("{{ if .Values.a }}x", "without {{ end }}"),
    ("{{ end }}", "unexpected {{ end }}"),
    ("{{ .Values.a | upper }}", "not a function of the subset"),
    ("{{ range .Values.l }}{{ .Values.a }}{{ end }}", "no value"),
    ("{{/* note */}}", "comments are outside the subset"),
    ("{{ eq .Values.a 1 }}", "incompatible types"),
])
def test_renderer_refuses_what_it_does_not_know(template, error):
    with pytest.raises(TemplateError) as e:
        Renderer({"a": "x", "m": {"k": 1}, "l": [1]}, "ns").render(template)
    assert error in str(e.value)


def test_renderer_trims_prints_and_branches_as_go_templates():
    r = Renderer({"on": True, "off": False, "zero": 0, "empty": [], "n": 2, "s": "v", "l": ["a", "b"],
                  "m": {"b": 1, "a": [1]}}, "ns")
    assert r.render("a\n  {{- if .Values.on }} yes{{ end }}\n") == "a yes\n"
    assert r.render("{{ if .Values.off }}x{{ end }}{{ if .Values.zero }}x{{ end }}{{ if .Values.empty }}x{{ end }}") == ""
    assert r.render("{{ .Values.on }} {{ .Values.n }} {{ .Values.s | quote }} {{ .Release.Namespace }}") == \
        'true 2 "v" ns'
    assert r.render("{{- range .Values.l }}\n- {{ . }}{{- end }}") == "\n- a\n- b"
    assert r.render("m: {{- toYaml .Values.m | nindent 2 }}") == "m:\n  a:\n  - 1\n  b: 1"
    assert r.render("{{ if eq .Values.s \"v\" }}eq{{ end }}{{ if not .Values.off }}!{{ end }}") == "eq!"
