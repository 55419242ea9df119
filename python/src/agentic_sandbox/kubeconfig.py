"""Finds and reads the kubeconfig asbd writes.

asbd writes JSON (which is also valid YAML, so kubectl reads the same file):
  clusters[].cluster.server                       API server URL
  clusters[].cluster.extensions[name=asb.dev/router].extension.server   router URL
  users[].user.token                              bearer token
Only the standard library is used, so YAML-only kubeconfigs are not supported: point the client
at asbd's file.
"""

from __future__ import annotations

import base64
import json
import os

from .exceptions import SandboxConnectionError
from .models import AsbConfig

TYPE_CHECKING = False  # typing is ~2 ms of an import, for annotations alone
if TYPE_CHECKING:
    from typing import Optional

ROUTER_EXTENSION = "asb.dev/router"


def default_kubeconfig_path(explicit: Optional[str] = None) -> str:
    """The kubeconfig location: argument, $ASB_KUBECONFIG, $KUBECONFIG, $ASB_STATE_DIR/kubeconfig,
    /var/lib/asb/kubeconfig when running as root, else ~/.local/state/asb/kubeconfig."""
    if explicit:
        return os.path.expanduser(explicit)
    env = os.environ.get("ASB_KUBECONFIG")
    if env:
        return os.path.expanduser(env)
    # kubectl's variable: a colon-separated list whose first existing file wins (this client
    # does not merge several files, as kubectl does).
    kube = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    for candidate in kube:
        if os.path.exists(os.path.expanduser(candidate)):
            return os.path.expanduser(candidate)
    if kube:
        return os.path.expanduser(kube[0])  # missing: load_config names it in its error
    state = os.environ.get("ASB_STATE_DIR")
    if state:
        return os.path.join(os.path.expanduser(state), "kubeconfig")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return "/var/lib/asb/kubeconfig"
    return os.path.expanduser("~/.local/state/asb/kubeconfig")


def _named(items, name, key):
    for item in items or []:
        if isinstance(item, dict) and item.get("name") == name:
            value = item.get(key)
            if isinstance(value, dict):
                return value
    return None


def load_config(path: Optional[str] = None) -> AsbConfig:
    """Reads the kubeconfig. Raises SandboxConnectionError naming the file when it is missing,
    unreadable or lacks a server."""
    path = default_kubeconfig_path(path)
    try:
        with open(path, "r", encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise SandboxConnectionError(
            "asb kubeconfig not found at %s: is asbd running? (start it with `asbd serve`, or "
            "set ASB_KUBECONFIG / pass kubeconfig=...)" % path
        ) from None
    except OSError as e:
        raise SandboxConnectionError("cannot read asb kubeconfig %s: %s" % (path, e)) from None
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise SandboxConnectionError(
            "asb kubeconfig %s is not JSON (%s); this client reads the JSON kubeconfig that asbd "
            "writes" % (path, e)
        ) from None
    if not isinstance(doc, dict):
        raise SandboxConnectionError("asb kubeconfig %s: expected a JSON object" % path)

    current = doc.get("current-context")
    context = _named(doc.get("contexts"), current, "context") if current else None
    if context is None and doc.get("contexts"):
        first = doc["contexts"][0]
        context = first.get("context") if isinstance(first, dict) else None
    context = context or {}
    cluster = _named(doc.get("clusters"), context.get("cluster"), "cluster")
    if cluster is None and doc.get("clusters"):
        cluster = (doc["clusters"][0] or {}).get("cluster")
    user = _named(doc.get("users"), context.get("user"), "user")
    if user is None and doc.get("users"):
        user = (doc["users"][0] or {}).get("user")
    cluster = cluster or {}
    user = user or {}

    server = cluster.get("server")
    if not server:
        raise SandboxConnectionError("asb kubeconfig %s has no clusters[].cluster.server" % path)
    token = user.get("token")
    token_file = user.get("tokenFile")
    if not token and token_file:
        try:
            with open(os.path.expanduser(token_file), "r", encoding="utf-8") as f:
                token = f.read().strip()
        except OSError as e:
            raise SandboxConnectionError(
                "asb kubeconfig %s: cannot read tokenFile %s: %s" % (path, token_file, e)
            ) from None
    router = _named(cluster.get("extensions"), ROUTER_EXTENSION, "extension") or {}
    ca_data = None
    if cluster.get("certificate-authority-data"):
        try:
            ca_data = base64.b64decode(cluster["certificate-authority-data"])
        except ValueError:
            raise SandboxConnectionError(
                "asb kubeconfig %s: certificate-authority-data is not base64" % path
            ) from None
    elif cluster.get("certificate-authority"):
        try:
            with open(cluster["certificate-authority"], "rb") as f:
                ca_data = f.read()
        except OSError as e:
            raise SandboxConnectionError(
                "asb kubeconfig %s: cannot read certificate-authority: %s" % (path, e)
            ) from None
    return AsbConfig(
        path=path,
        server=server.rstrip("/"),
        token=token or None,
        router_url=(router.get("server") or "").rstrip("/") or None,
        namespace=context.get("namespace") or "default",
        ca_data=ca_data,
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify")),
    )
