"""E2E: every step of the seed's guide, as a new user runs it against embedded asbd.

1. `kubectl apply -f manifest.yaml -f extensions.yaml`: upstream's v0.1.0 release (Namespace,
   CRDs, ServiceAccount, ClusterRole/Binding, Service, the controller StatefulSet). The files are
   generated here the way upstream's dev/tools/release builds them (manifest.yaml: every
   k8s/**/*.yaml without "extensions" in its name, sorted, image placeholder replaced;
   extensions.yaml: the others), from this test's own copy of their object shapes.
2. `kubectl get pods -n agent-sandbox-system` shows `agent-sandbox-controller-0 1/1 Running`.
3. `kubectl apply -f sandbox-router.yaml` (the seed's file, unchanged): Service + Deployment,
   whose pods are the embedded router's mirror pods; `rollout status` completes.
Plus what embedded asbd says about things it does not run: a Warning for any other workload,
and a clear refusal for a CRD of a kind it doesn't serve.
"""

import json
import os
import re

from conftest import REPO

SEED_DIR = os.path.join(REPO, "examples", "seed")
TAG = "v0.1.0"
CONTROLLER_IMAGE = "registry.k8s.io/agent-sandbox/agent-sandbox-controller:" + TAG
KO_PLACEHOLDER = "ko://sigs.k8s.io/agent-sandbox/cmd/agent-sandbox-controller"
NS = "agent-sandbox-system"
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def crd(group, kind, plural):
    """A CustomResourceDefinition shaped like controller-gen's (schema abridged)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"annotations": {"controller-gen.kubebuilder.io/version": "v0.19.0"},
                     "name": "%s.%s" % (plural, group)},
        "spec": {
            "group": group,
            "names": {"kind": kind, "listKind": kind + "List", "plural": plural,
                      "shortNames": [kind.lower()], "singular": kind.lower()},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1alpha1", "served": True, "storage": True,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"apiVersion": {"type": "string"},
                                   "kind": {"type": "string"},
                                   "metadata": {"type": "object"},
                                   "spec": {"type": "object",
                                            "x-kubernetes-preserve-unknown-fields": True},
                                   "status": {"type": "object",
                                              "x-kubernetes-preserve-unknown-fields": True}}}},
            }],
        },
    }


def controller_sts(extensions):
    container = {"name": "agent-sandbox-controller", "image": KO_PLACEHOLDER}
    if extensions:
        container["args"] = ["--extensions"]
    labels = {"app": "agent-sandbox-controller"}
    return {"kind": "StatefulSet", "apiVersion": "apps/v1",
            "metadata": {"name": "agent-sandbox-controller", "namespace": NS, "labels": labels},
            "spec": {"serviceName": "agent-sandbox-controller", "replicas": 1,
                     "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"serviceAccountName": "agent-sandbox-controller",
                                           "containers": [container]}}}}


def binding(name, role):
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "subjects": [{"kind": "ServiceAccount", "name": "agent-sandbox-controller",
                          "namespace": NS}],
            "roleRef": {"kind": "ClusterRole", "name": role,
                        "apiGroup": "rbac.authorization.k8s.io"}}


def role(name, rules):
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": [{"apiGroups": [g], "resources": r, "verbs": v} for g, r, v in rules]}


# Upstream's k8s/ tree at v0.1.0, file by file (path -> objects).
K8S_TREE = {
    "k8s/controller.yaml": [
        {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": NS}},
        {"kind": "ServiceAccount", "apiVersion": "v1",
         "metadata": {"name": "agent-sandbox-controller", "namespace": NS,
                      "labels": {"app": "agent-sandbox-controller"}}},
        binding("agent-sandbox-controller", "agent-sandbox-controller"),
        {"kind": "Service", "apiVersion": "v1",
         "metadata": {"name": "agent-sandbox-controller", "namespace": NS,
                      "labels": {"app": "agent-sandbox-controller"}},
         "spec": {"selector": {"app": "agent-sandbox-controller"},
                  "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}},
        controller_sts(False),
    ],
    "k8s/crds/agents.x-k8s.io_sandboxes.yaml": [crd("agents.x-k8s.io", "Sandbox", "sandboxes")],
    "k8s/crds/extensions.agents.x-k8s.io_sandboxclaims.yaml": [
        crd("extensions.agents.x-k8s.io", "SandboxClaim", "sandboxclaims")],
    "k8s/crds/extensions.agents.x-k8s.io_sandboxtemplates.yaml": [
        crd("extensions.agents.x-k8s.io", "SandboxTemplate", "sandboxtemplates")],
    "k8s/crds/extensions.agents.x-k8s.io_sandboxwarmpools.yaml": [
        crd("extensions.agents.x-k8s.io", "SandboxWarmPool", "sandboxwarmpools")],
    "k8s/rbac.generated.yaml": [role("agent-sandbox-controller", [
        ("", ["persistentvolumeclaims", "pods", "services"], VERBS),
        ("agents.x-k8s.io", ["sandboxes"], VERBS),
        ("agents.x-k8s.io", ["sandboxes/status"], ["get", "patch", "update"])])],
    "k8s/extensions-rbac.generated.yaml": [role("agent-sandbox-controller-extensions", [
        ("", ["pods"], VERBS),
        ("agents.x-k8s.io", ["sandboxes"], VERBS),
        ("extensions.agents.x-k8s.io", ["sandboxclaims", "sandboxwarmpools"], VERBS),
        ("extensions.agents.x-k8s.io", ["sandboxclaims/status", "sandboxwarmpools/status"],
         ["get", "patch", "update"]),
        ("extensions.agents.x-k8s.io", ["sandboxtemplates"], ["get", "list", "watch"])])],
    "k8s/extensions.controller.yaml": [controller_sts(True)],
    "k8s/extensions.yaml": [binding("agent-sandbox-controller-extensions",
                                    "agent-sandbox-controller-extensions")],
}


def release_assets(out_dir):
    """What upstream's dev/tools/release --tag v0.1.0 writes: two multi-document files."""
    def render(paths):
        text = ""
        for path in sorted(paths):
            for obj in K8S_TREE[path]:
                text += "---\n" + json.dumps(obj, indent=2) + "\n"  # JSON is YAML
            text += "---\n"
        # Upstream's `ko://...controller.*` on YAML lines; [^"]* is the same in JSON strings.
        return re.sub(re.escape(KO_PLACEHOLDER) + r'[^"]*', CONTROLLER_IMAGE, text)
    files = {}
    for name, keep in (("manifest.yaml", lambda p: "extensions" not in os.path.basename(p)),
                       ("extensions.yaml", lambda p: "extensions" in os.path.basename(p))):
        path = os.path.join(out_dir, name)
        with open(path, "w") as f:
            f.write(render([p for p in K8S_TREE if keep(p)]))
        files[name] = path
    return files


def test_seed_guide_steps_on_embedded_asbd(asbd, kubectl, tmp_path):
    # Step 0 (fresh daemon): the embedded controller and router already show as mirror pods.
    r = kubectl("get", "pods", "-n", NS)
    assert re.search(r"^agent-sandbox-controller-0\s+1/1\s+Running\s", r.stdout, re.M), r.stdout

    # Step 1: upstream's release manifests.
    files = release_assets(str(tmp_path))
    r = kubectl("apply", "-f", files["manifest.yaml"], "-f", files["extensions.yaml"])
    out = r.stdout + r.stderr
    assert "no matches for kind" not in out and "ensure CRDs" not in out, out
    expected = [
        "namespace/agent-sandbox-system",
        "serviceaccount/agent-sandbox-controller",
        "clusterrolebinding.rbac.authorization.k8s.io/agent-sandbox-controller",
        "service/agent-sandbox-controller",
        "statefulset.apps/agent-sandbox-controller",
        "customresourcedefinition.apiextensions.k8s.io/sandboxes.agents.x-k8s.io",
        "clusterrole.rbac.authorization.k8s.io/agent-sandbox-controller",
        "customresourcedefinition.apiextensions.k8s.io/sandboxclaims.extensions.agents.x-k8s.io",
        "clusterrole.rbac.authorization.k8s.io/agent-sandbox-controller-extensions",
        "clusterrolebinding.rbac.authorization.k8s.io/agent-sandbox-controller-extensions",
    ]
    for name in expected:
        assert re.search(re.escape(name) + r" (created|configured|unchanged)", r.stdout), (
            name, r.stdout)
    # The controller image is served by the embedded controller: no "does not run" warning.
    assert "does not run" not in r.stderr, r.stderr
    # Everything is stored and listed.
    crds = kubectl("get", "crd", "-o", "name").stdout.split()
    assert sorted(crds) == sorted(
        "customresourcedefinition.apiextensions.k8s.io/" + n for n in [
            "sandboxes.agents.x-k8s.io", "sandboxclaims.extensions.agents.x-k8s.io",
            "sandboxtemplates.extensions.agents.x-k8s.io",
            "sandboxwarmpools.extensions.agents.x-k8s.io"]), crds
    kubectl("wait", "--for=condition=Established", "crd/sandboxes.agents.x-k8s.io",
            "--timeout=10s")
    names = kubectl("get", "clusterroles,clusterrolebindings", "-o", "name").stdout.split()
    assert len(names) == 4, names
    assert "serviceaccount/agent-sandbox-controller" in kubectl(
        "get", "sa", "-n", NS, "-o", "name").stdout

    # Step 2: the controller pod, Running 1/1, owned by the StatefulSet now.
    r = kubectl("get", "pods", "-n", NS)
    assert re.search(r"^agent-sandbox-controller-0\s+1/1\s+Running\s", r.stdout, re.M), r.stdout
    pod = json.loads(kubectl("get", "pod", "-n", NS, "agent-sandbox-controller-0",
                             "-o", "json").stdout)
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
    assert pod["spec"]["containers"][0]["args"] == ["--extensions"]  # extensions.yaml applied last
    kubectl("rollout", "status", "statefulset/agent-sandbox-controller", "-n", NS,
            "--timeout=30s")
    r = kubectl("get", "sts", "-n", NS)
    assert re.search(r"^agent-sandbox-controller\s+1/1\s", r.stdout, re.M), r.stdout

    # Step 3: the seed's router manifest, unchanged.
    r = kubectl("apply", "-f", os.path.join(SEED_DIR, "sandbox-router.yaml"))
    assert "service/sandbox-router-svc created" in r.stdout, r.stdout + r.stderr
    assert "deployment.apps/sandbox-router-deployment created" in r.stdout, r.stdout + r.stderr
    assert "does not run" not in r.stderr, r.stderr
    kubectl("rollout", "status", "deployment/sandbox-router-deployment", "--timeout=30s")
    r = kubectl("get", "deploy", "sandbox-router-deployment")
    assert re.search(r"^sandbox-router-deployment\s+2/2\s+2\s+2\s", r.stdout, re.M), r.stdout
    pods = json.loads(kubectl("get", "pods", "-l", "app=sandbox-router", "-o", "json").stdout)
    assert len(pods["items"]) == 2
    assert all(p["status"]["phase"] == "Running" for p in pods["items"])

    # Removing the workload removes its mirror pods; the static controller pod comes back.
    kubectl("delete", "-f", os.path.join(SEED_DIR, "sandbox-router.yaml"), "--wait=true")
    kubectl("delete", "statefulset", "agent-sandbox-controller", "-n", NS)
    r = kubectl("get", "pods", "-l", "app=sandbox-router", "-o", "name")
    assert r.stdout.strip() == "", r.stdout

    def static_back():
        r = kubectl("get", "pod", "-n", NS, "agent-sandbox-controller-0", "-o", "json",
                    check=False)
        if r.returncode != 0:
            return False
        return "ownerReferences" not in json.loads(r.stdout)["metadata"]
    from test_kubectl import wait_for
    wait_for(static_back, timeout=15, what="the static controller mirror pod")


def test_workloads_asbd_does_not_run_are_stored_with_a_warning(asbd, kubectl, tmp_path):
    web = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "default"},
           "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}
    path = tmp_path / "web.json"
    path.write_text(json.dumps(web))
    r = kubectl("apply", "-f", str(path))
    assert "deployment.apps/web created" in r.stdout
    assert re.search(r"Warning: Deployment default/web is stored, but embedded asbd does not "
                     r"run it", r.stderr), r.stderr
    r = kubectl("get", "deploy", "web")
    assert re.search(r"^web\s+0/3\s", r.stdout, re.M), r.stdout
    assert kubectl("get", "pods", "-l", "app=web", "-o", "name").stdout.strip() == ""

    # A CRD for a kind asbd doesn't serve is refused, naming what it does serve.
    other = crd("example.com", "Widget", "widgets")
    path = tmp_path / "crd.json"
    path.write_text(json.dumps(other))
    r = kubectl("apply", "-f", str(path), check=False)
    assert r.returncode != 0
    assert "widgets.example.com" in r.stderr and "is invalid" in r.stderr, r.stderr
    assert "spec.names.kind" in r.stderr and "Sandbox.agents.x-k8s.io" in r.stderr, r.stderr
