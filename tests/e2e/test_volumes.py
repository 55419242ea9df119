"""E2E: volumeClaimTemplates -> PersistentVolumeClaims bound by asbd's node-local provisioner and
mounted in the sandbox, on both runtimes, driven with kubectl.

A Sandbox whose template asks for a 64Mi volume gets a PVC `data-<sandbox>` (Bound, class
asb-local, a PV backed by an ext4 image under <state>/volumes/), mounted at /data: a file written
there through the agent (kubectl exec) survives the container's restart (kill 1), the volume's
size is enforced (ENOSPC), and deleting the Sandbox deletes the PVC, the PV and the image. The
fixture's teardown then checks that no mount or loop device of the state dir is left.
"""

import json
import os

import pytest
from waiting import wait_for

RUNTIMES = ["native", "gvisor"]

SANDBOX = """apiVersion: agents.x-k8s.io/v1beta1
kind: Sandbox
metadata:
  name: {name}
  namespace: default
spec:
  podTemplate:
    spec:
      runtimeClassName: {runtime}
      restartPolicy: Always
      containers:
      - name: main
        image: registry.k8s.io/agent-sandbox/python-runtime-sandbox:v0.1.0
        readinessProbe:
          httpGet: {{path: "/", port: 8888}}
          periodSeconds: 1
        volumeMounts:
        - name: data
          mountPath: /data
        - name: data
          mountPath: /ro
          readOnly: true
  volumeClaimTemplates:
  - metadata:
      name: data
      labels: {{team: a}}
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 64Mi
"""


def get_json(kubectl, *args):
    return json.loads(kubectl("get", "-o", "json", *args).stdout)


def make_sandbox(kubectl, runtime, name):
    kubectl("apply", "-f", "-", input=SANDBOX.format(name=name, runtime=runtime))
    kubectl("wait", "--for=condition=Ready", "sandbox/" + name, "--timeout=90s")


def restart_count(kubectl, pod):
    cs = get_json(kubectl, "pod", pod)["status"]["containerStatuses"][0]
    return cs.get("restartCount", 0), cs.get("ready") is True


def mounts_of(state_dir):
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if state_dir in line and "/volumes/" in line]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_volume_claim_template_is_bound_mounted_kept_across_restart_and_deleted(
        asbd, kubectl, runtime):
    name = "vol-" + runtime
    make_sandbox(kubectl, runtime, name)
    pvc_name = "data-" + name

    # The claim: made from the template, owned by the Sandbox, bound to a local PV.
    pvc = get_json(kubectl, "pvc", pvc_name)
    assert pvc["status"]["phase"] == "Bound", pvc["status"]
    assert pvc["spec"]["storageClassName"] == "asb-local", pvc["spec"]
    assert pvc["status"]["capacity"]["storage"] == "64Mi", pvc["status"]
    assert pvc["metadata"]["labels"]["team"] == "a"
    owner = pvc["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner.get("controller")) == ("Sandbox", name, True)
    pv_name = pvc["spec"]["volumeName"]
    pv = get_json(kubectl, "pv", pv_name)
    assert pv["status"]["phase"] == "Bound"
    assert pv["spec"]["claimRef"]["name"] == pvc_name
    image = os.path.join(asbd.state_dir, "volumes", pv_name, "image")
    assert os.path.isfile(image)

    # kubectl's columns, as for any cluster.
    out = kubectl("get", "pvc", pvc_name).stdout.splitlines()
    header = out[0].split()
    assert header[:7] == ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS", "MODES",
                          "STORAGECLASS"], out
    assert out[1].split()[:6] == [pvc_name, "Bound", pv_name, "64Mi", "RWO", "asb-local"], out
    assert "asb-local (default)" in kubectl("get", "storageclass").stdout

    # Written through the agent; read-only where the mount says so.
    pod = name
    kubectl("exec", pod, "--", "sh", "-c", "echo kept > /data/note && sync")
    r = kubectl("exec", pod, "--", "sh", "-c", "echo x > /ro/other", check=False)
    assert r.returncode != 0 and "Read-only file system" in r.stderr + r.stdout, r
    assert kubectl("exec", pod, "--", "cat", "/ro/note").stdout == "kept\n"

    # The size is enforced by the file system.
    r = kubectl("exec", pod, "--", "sh", "-c",
                "dd if=/dev/zero of=/data/fill bs=1M count=100 conv=fsync 2>&1; echo rc=$?",
                check=False, timeout=120)
    assert "No space left on device" in r.stdout, r.stdout
    kubectl("exec", pod, "--", "rm", "-f", "/data/fill")

    # The container restarts (kill 1: SIGTERM to the runtime server) and finds its data.
    before, _ = restart_count(kubectl, pod)
    kubectl("exec", pod, "--", "kill", "1", check=False)
    wait_for(lambda: (lambda c: (c[0] > before and c[1], c))(restart_count(kubectl, pod)),
             "the container to restart and be ready", timeout=60)
    assert kubectl("exec", pod, "--", "cat", "/data/note").stdout == "kept\n"
    # Still writable after the restart (native: the volume's ids follow the sandbox's).
    kubectl("exec", pod, "--", "sh", "-c", "echo again >> /data/note")

    # Deleting the Sandbox takes the claim, the volume and its image with it.
    kubectl("delete", "sandbox", name, "--wait=true", "--timeout=60s")

    def gone():
        claims = [i["metadata"]["name"] for i in get_json(kubectl, "pvc")["items"]]
        pvs = [i["metadata"]["name"] for i in get_json(kubectl, "pv")["items"]]
        left = claims + pvs + ([image] if os.path.exists(image) else [])
        left += mounts_of(asbd.state_dir)
        return not left, left

    wait_for(gone, "the claim, volume, image and mount to be deleted", timeout=60)


def test_claim_of_unknown_class_stays_pending_and_says_why(asbd, kubectl):
    kubectl("apply", "-f", "-", input="""apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: orphan, namespace: default}
spec:
  storageClassName: fast-ssd
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
""")

    def warned():
        events = get_json(kubectl, "events", "--field-selector",
                          "involvedObject.name=orphan")["items"]
        return bool(events), events

    events = wait_for(warned, "a ProvisioningFailed event", timeout=15)
    assert events[0]["reason"] == "ProvisioningFailed", events
    assert '"fast-ssd" not found' in events[0]["message"], events
    assert get_json(kubectl, "pvc", "orphan")["status"]["phase"] == "Pending"
    kubectl("delete", "pvc", "orphan")


def test_bad_claims_are_refused_with_the_field_and_oversized_ones_say_the_limit(asbd, kubectl):
    r = kubectl("apply", "-f", "-", check=False, input="""apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: zero, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: "0"}}
""")
    assert r.returncode != 0
    assert "spec.resources.requests.storage" in r.stderr and "greater than zero" in r.stderr, r
    r = kubectl("apply", "-f", "-", check=False, input="""apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: nomodes, namespace: default}
spec:
  resources: {requests: {storage: 1Gi}}
""")
    assert r.returncode != 0 and "spec.accessModes" in r.stderr, r

    kubectl("apply", "-f", "-", input="""apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: huge, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 100Ti}}
""")

    def warned():
        events = get_json(kubectl, "events", "--field-selector",
                          "involvedObject.name=huge")["items"]
        return bool(events), events

    events = wait_for(warned, "a ProvisioningFailed event", timeout=15)
    assert "maximum volume size" in events[0]["message"], events
    pvc = get_json(kubectl, "pvc", "huge")
    assert pvc["status"]["phase"] == "Pending"
    assert pvc["spec"]["storageClassName"] == "asb-local"  # the default class was assigned
    kubectl("delete", "pvc", "huge")
    volumes = os.path.join(asbd.state_dir, "volumes")
    assert not os.path.isdir(volumes) or not os.listdir(volumes)


TEMPLATE_AND_POOL = """apiVersion: extensions.agents.x-k8s.io/v1beta1
kind: SandboxTemplate
metadata: {name: vol-tmpl, namespace: default}
spec:
  podTemplate:
    spec:
      runtimeClassName: native
      restartPolicy: Always
      containers:
      - name: main
        image: registry.k8s.io/agent-sandbox/python-runtime-sandbox:v0.1.0
        readinessProbe:
          httpGet: {path: "/", port: 8888}
          periodSeconds: 1
        volumeMounts:
        - {name: workspace, mountPath: /workspace}
  volumeClaimTemplates:
  - metadata: {name: workspace}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 32Mi}}
---
apiVersion: extensions.agents.x-k8s.io/v1beta1
kind: SandboxWarmPool
metadata: {name: vol-pool, namespace: default}
spec:
  replicas: 1
  sandboxTemplateRef: {name: vol-tmpl}
"""


def test_warm_claim_keeps_its_members_volume_across_an_asbd_crash(asbd, kubectl):
    kubectl("apply", "-f", "-", input=TEMPLATE_AND_POOL)

    def member_ready():
        pool = get_json(kubectl, "sandboxwarmpool", "vol-pool")
        return (pool.get("status") or {}).get("readyReplicas", 0) >= 1, pool

    wait_for(member_ready, "the warm member Ready", timeout=90)
    member = [s["metadata"]["name"] for s in get_json(kubectl, "sandboxes")["items"]][0]
    member_pvc = "workspace-" + member
    assert get_json(kubectl, "pvc", member_pvc)["status"]["phase"] == "Bound"

    kubectl("apply", "-f", "-", input="""apiVersion: extensions.agents.x-k8s.io/v1beta1
kind: SandboxClaim
metadata: {name: mine, namespace: default}
spec:
  warmPoolRef: {name: vol-pool}
""")
    kubectl("wait", "--for=condition=Ready", "sandboxclaim/mine", "--timeout=60s")
    # The claim's Sandbox took over the member's pod, and the member's claim with it.
    sb = get_json(kubectl, "sandbox", "mine")
    pod = sb["metadata"]["annotations"]["agents.x-k8s.io/pod-name"]
    assert pod == member, sb["metadata"]

    def moved():
        pvc = get_json(kubectl, "pvc", member_pvc)
        return pvc["metadata"]["ownerReferences"][0]["name"] == "mine", pvc["metadata"]

    wait_for(moved, "the member's claim to belong to the claim's Sandbox", timeout=15)
    kubectl("exec", pod, "--", "sh", "-c", "echo warm > /workspace/note && sync")

    # asbd dies and comes back: the sandbox and its mounted volume are adopted, not re-made.
    asbd.kill9()
    asbd.start()
    assert kubectl("exec", pod, "--", "cat", "/workspace/note").stdout == "warm\n"
    pv_name = get_json(kubectl, "pvc", member_pvc)["spec"]["volumeName"]
    assert len([m for m in mounts_of(asbd.state_dir) if pv_name in m]) == 1

    # Deleting the claim deletes its Sandbox, the claim's volume and the image; the pool's new
    # member gets a volume of its own.
    kubectl("delete", "sandboxclaim", "mine", "--wait=true", "--timeout=60s")

    def gone():
        left = [p["metadata"]["name"] for p in get_json(kubectl, "pvc")["items"]
                if p["metadata"]["name"] == member_pvc]
        left += [m for m in mounts_of(asbd.state_dir) if pv_name in m]
        if os.path.exists(os.path.join(asbd.state_dir, "volumes", pv_name)):
            left.append(pv_name)
        return not left, left

    wait_for(gone, "the claimed volume to be deleted", timeout=60)
    wait_for(member_ready, "a new warm member Ready", timeout=90)
