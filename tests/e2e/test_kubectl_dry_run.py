"""E2E: `kubectl ... --dry-run=server` with real kubectl never changes anything (kubectl sends a
delete's dryRun in the DeleteOptions body, other verbs' in the query)."""

import json

POOL_PATH = "/apis/extensions.agents.x-k8s.io/v1alpha1/namespaces/default/sandboxtemplates"


def template(name):
    return {"apiVersion": "extensions.agents.x-k8s.io/v1alpha1", "kind": "SandboxTemplate",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"podTemplate": {"spec": {"containers": [
                {"name": "c", "image": "python-runtime-sandbox:latest"}]}}}}


def names(kubectl):
    out = kubectl("get", "sandboxtemplates", "-o", "json").stdout
    return sorted(i["metadata"]["name"] for i in json.loads(out)["items"])


def test_dry_run_server_changes_nothing(asbd, kubectl):
    wanted = ["t-%02d" % i for i in range(30)]
    for n in wanted:
        status, body = asbd.request("POST", POOL_PATH, template(n))
        assert status == 201, body
    assert names(kubectl) == wanted

    r = kubectl("delete", "sandboxtemplates", "t-00", "--dry-run=server")
    assert "deleted (server dry run)" in r.stdout, r.stdout
    r = kubectl("delete", "sandboxtemplates", "--all", "--dry-run=server")
    assert r.stdout.count("(server dry run)") == 30, r.stdout
    assert names(kubectl) == wanted

    manifest = json.dumps(template("t-new"))
    r = kubectl("apply", "--dry-run=server", "-f", "-", input=manifest)
    assert "(server dry run)" in r.stdout, r.stdout
    r = kubectl("create", "--dry-run=server", "-f", "-", input=manifest)
    assert "(server dry run)" in r.stdout, r.stdout
    assert names(kubectl) == wanted

    # The same delete without --dry-run deletes: the test above could not pass by accident.
    kubectl("delete", "sandboxtemplates", "t-00")
    assert names(kubectl) == wanted[1:]
