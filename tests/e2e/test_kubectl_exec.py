"""E2E: kubectl exec / attach / cp / logs against sandbox pods of a real asbd, on both runtimes.

exec reaches asb-agent's /v1/remotecommand inside the sandbox through the API server (WebSocket
v5.channel.k8s.io), so these tests drive the whole path: kubectl -> TLS -> API server -> node
DialPod -> agent -> a process (with a real PTY for -t) in the sandbox.
"""

import json
import os
import select
import shutil
import subprocess
import time

import pytest
from waiting import wait_for

RUNTIMES = ["native", "gvisor"]

POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: default
spec:
  runtimeClassName: {runtime}
  containers:
  - name: main
    image: registry.k8s.io/agent-sandbox/python-runtime-sandbox:v0.1.0
    readinessProbe:
      httpGet: {{path: "/", port: 8888}}
      periodSeconds: 1
"""


def wait_line(proc, needle, timeout=15.0):
    """Reads proc's stdout (unbuffered, so select tells the truth) until a line contains
    `needle`; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    buf = getattr(proc, "_line_buf", b"")
    seen = []
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            seen.append(line.decode(errors="replace"))
            if needle in seen[-1]:
                proc._line_buf = buf
                return seen[-1]
        left = deadline - time.monotonic()
        ready = select.select([fd], [], [], max(left, 0))[0] if left > 0 else []
        chunk = os.read(fd, 65536) if ready else b""
        if not chunk:
            raise AssertionError("no line with %r within %ss; got: %r" % (needle, timeout,
                                                                         seen[-5:]))
        buf += chunk


def make_pod(kubectl, runtime, name="box"):
    kubectl("apply", "-f", "-", input=POD.format(name=name, runtime=runtime))
    kubectl("wait", "--for=condition=Ready", "pod/" + name, "--timeout=60s")
    return name


def base_cmd(asbd, kubectl):
    return [kubectl.path, "--kubeconfig", asbd.kubeconfig, "--cache-dir", str(kubectl.cache)]


def sandbox_processes(kubectl, pod, needle):
    """Command lines inside the sandbox that contain `needle` (read from the sandbox's /proc, which
    works the same under gVisor, whose processes the host cannot see)."""
    script = ("for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done")
    r = kubectl("exec", pod, "--", "sh", "-c", script)
    return [line for line in r.stdout.splitlines() if needle in line and "/proc/" not in line]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_exec_streams_stdin_stdout_stderr_and_exit_code(asbd, kubectl, runtime):
    pod = make_pod(kubectl, runtime)
    r = kubectl("exec", pod, "--", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert r.returncode == 3, r
    assert r.stdout == "out\n"
    assert "err\n" in r.stderr
    assert "command terminated with exit code 3" in r.stderr

    data = "".join("line %d\n" % i for i in range(20000))  # ~200 KiB through stdin and back
    r = kubectl("exec", "-i", pod, "--", "sh", "-c", "cat; echo done", input=data)
    assert r.stdout == data + "done\n"

    r = kubectl("exec", pod, "--", "pwd")
    assert r.stdout == "/app\n"

    r = kubectl("exec", pod, "--", "no-such-program", check=False)
    assert r.returncode == 127
    assert 'exec "no-such-program"' in r.stderr


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_exec_errors_are_clear_statuses(asbd, kubectl, runtime):
    pod = make_pod(kubectl, runtime)
    r = kubectl("exec", pod, "-c", "nope", "--", "true", check=False)
    assert r.returncode != 0
    assert "container nope is not valid for pod box" in r.stderr, r.stderr
    r = kubectl("exec", "missing", "--", "true", check=False)
    assert 'pods "missing" not found' in r.stderr, r.stderr

    # A pod that can never start: its image does not exist, so it stays Pending.
    bad = POD.format(name="stuck", runtime=runtime).replace(
        "registry.k8s.io/agent-sandbox/python-runtime-sandbox:v0.1.0", "no-such-image:1")
    kubectl("apply", "-f", "-", input=bad)
    r = kubectl("exec", "stuck", "--", "true", check=False)
    assert r.returncode != 0
    assert "not running" in r.stderr, r.stderr
    r = kubectl("logs", "stuck", check=False)
    assert "waiting to start" in r.stderr, r.stderr


def asbd_threads(asbd):
    return len(os.listdir("/proc/%d/task" % asbd.proc.pid))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_dropped_exec_client_leaves_no_process_or_thread(asbd, kubectl, runtime):
    pod = make_pod(kubectl, runtime)
    kubectl("exec", pod, "--", "true")
    cmd = base_cmd(asbd, kubectl) + ["exec", "-i", pod, "--", "sleep", "4242"]

    def drop_three_sessions():
        clients = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE) for _ in range(3)]
        try:
            wait_for(lambda: len(sandbox_processes(kubectl, pod, "sleep 4242")) == 3,
                     what="three sleeps running in the sandbox")
        finally:
            for c in clients:
                c.kill()  # SIGKILL: no close frame, the TCP connection just goes away
                c.wait()
        wait_for(lambda: not sandbox_processes(kubectl, pod, "sleep 4242"),
                 what="the dropped sessions' commands killed")

    # The first round may grow asbd's worker pool (its idle workers stay); a second round of
    # dropped sessions must not leave any thread beyond that.
    drop_three_sessions()
    threads_before = asbd_threads(asbd)
    drop_three_sessions()
    wait_for(lambda: asbd_threads(asbd) <= threads_before,
             what="asbd threads back to %d" % threads_before)


TMUX_SOCKET = "asb-e2e-exec"


def tmux(*args, check=True):
    r = subprocess.run(["tmux", "-L", TMUX_SOCKET] + list(args), capture_output=True, text=True,
                       timeout=20)
    if check:
        assert r.returncode == 0, r
    return r


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_exec_it_shell_in_a_real_terminal(asbd, kubectl, runtime, tmp_path):
    if not shutil.which("tmux"):
        pytest.fail("tmux is not installed (scripts/install-deps.sh installs it)")
    pod = make_pod(kubectl, runtime)
    rc_file = tmp_path / "rc"
    shell = " ".join(base_cmd(asbd, kubectl) + ["exec", "-it", pod, "--", "sh"])
    tmux("new-session", "-d", "-s", "exec", "-x", "91", "-y", "27",
         "%s; echo $? > %s; sleep 30" % (shell, rc_file))
    try:
        def screen():
            return tmux("capture-pane", "-p", "-t", "exec").stdout

        wait_for(lambda: "#" in screen(), what="the sandbox shell's prompt")
        tmux("send-keys", "-t", "exec", "tty; stty size; echo TERM=$TERM", "Enter")
        wait_for(lambda: "27 91" in screen() and "/dev/pts/" in screen()
                 and "TERM=xterm" in screen(), what="a pty sized like the tmux window")
        tmux("resize-window", "-t", "exec", "-x", "77", "-y", "21")
        tmux("send-keys", "-t", "exec", "clear; stty size", "Enter")
        wait_for(lambda: "21 77" in screen(), what="the resize to reach the sandbox's pty")
        if runtime == "native":
            # ^C reaches the foreground job through the pty's line discipline and the shell
            # survives. Not on gVisor: the sentry's pty (runsc 2022-12) has isig set but
            # delivers no SIGINT for ^C, so an interrupted job runs on there.
            tmux("send-keys", "-t", "exec", "sleep 100", "Enter")
            wait_for(lambda: screen().rstrip().endswith("sleep 100"), what="sleep to start")
            tmux("send-keys", "-t", "exec", "C-c", "")
            tmux("send-keys", "-t", "exec", "echo after-interrupt", "Enter")
            wait_for(lambda: "after-interrupt" in screen().split("echo after-interrupt")[-1],
                     what="the shell to survive ^C")
        tmux("send-keys", "-t", "exec", "exit 7", "Enter")
        wait_for(lambda: rc_file.exists() and rc_file.read_text().strip(), what="kubectl to exit")
        assert rc_file.read_text().strip() == "7"
    finally:
        tmux("kill-server", check=False)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_cp_both_ways(asbd, kubectl, runtime, tmp_path):
    pod = make_pod(kubectl, runtime)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("hello from the host\n")
    blob = os.urandom(3 << 20)
    (src / "sub" / "blob.bin").write_bytes(blob)
    kubectl("cp", str(src), "%s:/app/copied" % pod)
    r = kubectl("exec", pod, "--", "cat", "/app/copied/a.txt")
    assert r.stdout == "hello from the host\n"
    r = kubectl("exec", pod, "--", "sh", "-c", "wc -c < /app/copied/sub/blob.bin")
    assert r.stdout.strip() == str(len(blob))

    kubectl("exec", pod, "--", "sh", "-c", "mkdir -p /tmp/out && echo made inside > /tmp/out/x")
    back = tmp_path / "back"
    kubectl("cp", "%s:/tmp/out" % pod, str(back))
    assert (back / "x").read_text() == "made inside\n"
    kubectl("cp", "%s:/app/copied/sub/blob.bin" % pod, str(tmp_path / "blob"))
    assert (tmp_path / "blob").read_bytes() == blob


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_logs_tail_follow_and_errors(asbd, kubectl, runtime):
    pod = make_pod(kubectl, runtime)
    # asb-agent logs one line per request to its stderr: the container's output.
    kubectl("exec", pod, "--", "true")
    r = kubectl("logs", pod)
    assert "asb-agent listening" in r.stdout
    r = kubectl("logs", pod, "--tail=1")
    assert len(r.stdout.splitlines()) == 1, r.stdout
    # The runtime keeps output in the CRI format: timestamps and --since come from it.
    r = kubectl("logs", pod, "--tail=1", "--timestamps")
    stamp = r.stdout.split(" ", 1)[0]
    assert stamp[:2] == "20" and "T" in stamp and stamp.endswith("Z"), r.stdout
    assert " stdout F " not in r.stdout and " stderr F " not in r.stdout
    assert "asb-agent listening" in kubectl("logs", pod, "--since=1h").stdout
    assert kubectl("logs", pod, "--since-time=2200-01-01T00:00:00Z").stdout == ""
    r = kubectl("logs", pod, "-c", "main", "--limit-bytes=10")
    assert len(r.stdout) == 10
    r = kubectl("logs", pod, "-c", "nope", check=False)
    assert "container nope is not valid for pod box" in r.stderr
    r = kubectl("logs", pod, "--previous", check=False)
    assert 'previous terminated container "main" in pod "box" not found' in r.stderr

    follow = subprocess.Popen(base_cmd(asbd, kubectl) + ["logs", "-f", "--tail=0", pod],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # The readiness probe (every second) logs a line: seeing one proves -f is following.
        wait_line(follow, "path=/ status=200")
        kubectl("exec", pod, "--", "echo", "marker")
        wait_line(follow, "path=/v1/remotecommand")
    finally:
        follow.kill()
        follow.wait()


@pytest.mark.parametrize("runtime", ["native"])
def test_attach_shows_new_output(asbd, kubectl, runtime):
    pod = make_pod(kubectl, runtime)
    attach = subprocess.Popen(base_cmd(asbd, kubectl) + ["attach", pod],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_line(attach, "path=/ status=200")  # a probe's line: attach is streaming
        kubectl("exec", pod, "--", "true")
        wait_line(attach, "path=/v1/remotecommand")
    finally:
        attach.kill()
        attach.wait()


@pytest.mark.parametrize("runtime", ["native"])
def test_describe_pod_shows_kubelet_events(asbd, kubectl, runtime):
    pod = make_pod(kubectl, runtime)
    make_pod(kubectl, runtime, name="other")
    r = kubectl("describe", "pod", pod)
    events = r.stdout.split("Events:", 1)[1]
    for reason, text in [("Scheduled", "Successfully assigned default/box to"),
                         ("Pulled", "already present on machine"),
                         ("Created", "Created container main"),
                         ("Started", "Started container main")]:
        assert reason in events and text in events, r.stdout
    # The field selector keeps the other pod's events out.
    assert "default/other" not in events, events
    r = kubectl("get", "events", "--field-selector", "involvedObject.name=other,reason=Started",
                "-o", "name")
    assert len(r.stdout.split()) == 1, r.stdout
    r = kubectl("get", "events", "--field-selector", "involvedObject.bogus=x", check=False)
    assert "field label not supported: involvedObject.bogus" in r.stderr, r.stderr


def test_create_namespace_and_service_send_protobuf_and_work(asbd, kubectl):
    # kubectl's typed clients POST these as application/vnd.kubernetes.protobuf.
    r = kubectl("create", "namespace", "team-a")
    assert "namespace/team-a created" in r.stdout
    r = kubectl("create", "service", "clusterip", "web", "-n", "team-a", "--tcp=80:8080")
    assert "service/web created" in r.stdout
    r = kubectl("create", "service", "nodeport", "api", "-n", "team-a", "--tcp=81:http")
    assert "service/api created" in r.stdout
    svc = json.loads(kubectl("get", "svc", "web", "-n", "team-a", "-o", "json").stdout)
    assert svc["spec"]["ports"] == [{"name": "80-8080", "port": 80, "protocol": "TCP",
                                     "targetPort": 8080}]
    assert svc["spec"]["selector"] == {"app": "web"}
    r = kubectl("get", "svc", "api", "-n", "team-a", "-o", "jsonpath={.spec.ports[0].targetPort}")
    assert r.stdout == "http"
    r = kubectl("create", "namespace", "team-a", check=False)
    assert "AlreadyExists" in r.stderr, r.stderr


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_logs_previous_after_a_restart(asbd, kubectl, runtime):
    pod = make_pod(kubectl, runtime)
    # asb-agent logs every request's path to its output; a 404 for a marker path will do.
    kubectl("exec", pod, "--", "python3", "-c",
            "import urllib.request as u\ntry: u.urlopen('http://127.0.0.1:8888/marker-before-restart')"
            "\nexcept Exception: pass")
    wait_for(lambda: "marker-before-restart" in kubectl("logs", pod).stdout,
             what="the marker in the container's output")
    # SIGTERM to pid 1 (asb-agent's init): the container exits and restartPolicy Always
    # restarts it after the first back-off (10 s).
    kubectl("exec", pod, "--", "kill", "1", check=False)

    def restarted():
        r = kubectl("get", "pod", pod, "-o",
                    "jsonpath={.status.containerStatuses[0].restartCount}"
                    "/{.status.containerStatuses[0].ready}")
        return r.stdout == "1/true"

    wait_for(restarted, timeout=40, what="the container restarted and Ready")
    r = kubectl("logs", pod, "--previous")
    assert "marker-before-restart" in r.stdout, r.stdout
    assert "marker-before-restart" not in kubectl("logs", pod).stdout
    r = kubectl("describe", "pod", pod)
    assert "BackOff" in r.stdout and "Back-off restarting failed container main" in r.stdout
