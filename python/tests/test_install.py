"""`pip install ./python` must work offline (no index, no setuptools/wheel download) in a fresh
venv of both interpreters on the machine: Debian's /usr/bin/python3 and the pyenv python3."""

import os
import shutil
import subprocess
import sys

import pytest

PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def interpreters():
    found = []
    for cand in ("/usr/bin/python3", shutil.which("python3"),
                 os.path.expanduser("~/.pyenv/shims/python3")):
        if not cand or not os.path.exists(cand):
            continue
        real = subprocess.run([cand, "-c", "import sys; print(sys.executable)"],
                              capture_output=True, text=True).stdout.strip()
        if real and real not in [r for _, r in found]:
            found.append((cand, real))
    return [c for c, _ in found]


def offline_env():
    env = dict(os.environ)
    env.pop("PIP_FIND_LINKS", None)
    env["PIP_NO_INDEX"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # Unroutable proxy: any attempt to reach the network fails fast instead of hanging.
    env["HTTP_PROXY"] = env["HTTPS_PROXY"] = "http://127.0.0.1:9"
    return env


def make_venv(python, path):
    r = subprocess.run([python, "-m", "venv", str(path)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("%s -m venv is unavailable here (install python3-venv): %s"
                    % (python, r.stderr.strip()[-300:]))
    return str(path / "bin" / "python")


@pytest.mark.parametrize("python", interpreters())
@pytest.mark.parametrize("editable", [False, True], ids=["wheel", "editable"])
def test_pip_install_offline(python, editable, tmp_path):
    vpy = make_venv(python, tmp_path / "venv")
    cmd = [vpy, "-m", "pip", "install", "--no-index", "-q"]
    # Build in a copy when not editable so the source tree gets no build droppings.
    src = PKG
    if not editable:
        src = str(tmp_path / "src-copy")
        shutil.copytree(PKG, src, ignore=shutil.ignore_patterns("__pycache__", "tests",
                                                               ".pytest_cache"))
    cmd += (["-e", src] if editable else [src])
    r = subprocess.run(cmd, capture_output=True, text=True, env=offline_env(), timeout=300,
                       cwd=str(tmp_path))
    assert r.returncode == 0, "pip install failed:\n%s\n%s" % (r.stdout, r.stderr)
    probe = ("import agentic_sandbox, sys; from agentic_sandbox import SandboxClient; "
             "print(agentic_sandbox.__version__, agentic_sandbox.__file__)")
    r = subprocess.run([vpy, "-c", probe], capture_output=True, text=True, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    version, location = r.stdout.split()
    assert version == "0.1.0"
    if editable:
        assert location.startswith(os.path.join(PKG, "src"))
    else:
        assert "site-packages" in location
    # Uninstall works too (RECORD is valid).
    r = subprocess.run([vpy, "-m", "pip", "uninstall", "-y", "-q", "agentic-sandbox"],
                       capture_output=True, text=True, env=offline_env())
    assert r.returncode == 0, r.stderr


def test_sdist_builds_with_stdlib(tmp_path):
    sys.path.insert(0, os.path.join(PKG, "_build"))
    try:
        import backend
    finally:
        sys.path.pop(0)
    name = backend.build_sdist(str(tmp_path))
    assert name == "agentic_sandbox-0.1.0.tar.gz"
    import tarfile
    with tarfile.open(tmp_path / name) as t:
        names = t.getnames()
    assert "agentic_sandbox-0.1.0/src/agentic_sandbox/client.py" in names
    assert "agentic_sandbox-0.1.0/PKG-INFO" in names
