"""A real token server for the e2e tests: distribution's token authentication
(docs "Token Authentication Specification" and "Token Authentication Implementation").

The registry (Debian's docker-registry, `auth: token`) answers an unauthenticated request with
401 and `WWW-Authenticate: Bearer realm="<this server>/token",service="...",scope="..."`. The
client then GETs realm?service=...&scope=repository:<name>:<actions> with Basic credentials (or
none, anonymously); this server checks them, grants the intersection of what was asked and what
the account may do (an empty `access` list when nothing: the registry then answers 401
insufficient_scope, as Docker Hub does), and returns {"token", "access_token", "expires_in",
"issued_at"}. The token is a JWT signed ES256 with a key whose self-signed certificate is the
registry's `rootcertbundle`; its header's `kid` is the libtrust key ID of that key (what
distribution 2.8 looks trusted keys up by).

A wrong password is a 401 with distribution's error body ({"errors":[{"code":"UNAUTHORIZED",
...}]}), so the client can show the token server's own words.

`lifetime` is how long the registry honours a token. distribution accepts a token for 60 s past
its `exp` (its clock-skew leeway), so `exp` is written `lifetime - 60` seconds from now: a short
lifetime makes tokens expire during a test without a minute's wait.
"""

import base64
import datetime
import hashlib
import json
import os
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REGISTRY_LEEWAY = 60  # seconds: distribution's registry/auth/token Leeway


def libtrust_key_id(public_key):
    """SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32 in 12 groups of 4."""
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))


class TokenServer:
    """users: {name: password}; grants: {name: {repository: "pull" | "pull,push"}} (the
    repository "*" matches any). Anonymous requests are granted nothing."""

    def __init__(self, root, service, users, grants, lifetime=300):
        self.service = service
        self.issuer = "asb-test-token-issuer"
        self.users = dict(users)
        self.grants = grants
        self.lifetime = lifetime
        self.issued = []  # (account, [granted scope strings], exp) per token, in order
        self.refused = []  # (account, reason) per 401 this server sent
        self._mu = threading.Lock()
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "asb test token signer")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .sign(self.key, hashes.SHA256()))
        self.rootcertbundle = os.path.join(root, "token-signer.pem")
        with open(self.rootcertbundle, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        self.kid = libtrust_key_id(self.key.public_key())
        self.private_pem = self.key.private_bytes(serialization.Encoding.PEM,
                                                  serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption())
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = "http://127.0.0.1:%d/token" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def tokens_for(self, repository):
        with self._mu:
            return [t for t in self.issued if any(":%s:" % repository in s for s in t[1])]

    def _reply(self, h, status, body):
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        if status == 401:
            h.send_header("WWW-Authenticate", 'Basic realm="asb test token server"')
        h.end_headers()
        h.wfile.write(data)

    def _refuse(self, h, account, message):
        with self._mu:
            self.refused.append((account, message))
        self._reply(h, 401, {"errors": [{"code": "UNAUTHORIZED", "message": message}]})

    def _handle(self, h):
        url = urllib.parse.urlsplit(h.path)
        if url.path != "/token":
            return self._reply(h, 404, {"errors": [{"code": "NOT_FOUND", "message": url.path}]})
        query = urllib.parse.parse_qs(url.query)
        if query.get("service", [""])[0] != self.service:
            return self._reply(h, 400, {"errors": [{
                "code": "INVALID_REQUEST",
                "message": "unknown service %r" % query.get("service", [""])[0]}]})
        account = ""
        auth = h.headers.get("Authorization", "")
        if auth:
            if not auth.lower().startswith("basic "):
                return self._refuse(h, "", "only Basic credentials are accepted")
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return self._refuse(h, "", "malformed Basic credentials")
            if self.users.get(user) != password:
                return self._refuse(h, user, "invalid username or password for %r" % user)
            account = user
        access, granted = [], []
        for scope in query.get("scope", []):
            parts = scope.split(":")
            if len(parts) < 3 or parts[0] != "repository":
                continue
            name, wanted = ":".join(parts[1:-1]), parts[-1].split(",")
            mine = self.grants.get(account, {})
            allowed = (mine.get(name) or mine.get("*") or "").split(",")
            actions = [a for a in wanted if a and a in allowed]
            if actions:
                access.append({"type": "repository", "name": name, "actions": actions})
                granted.append("repository:%s:%s" % (name, ",".join(actions)))
        now = int(time.time())
        exp = now + self.lifetime - REGISTRY_LEEWAY
        claims = {"iss": self.issuer, "sub": account, "aud": self.service, "exp": exp,
                  "nbf": now - 1, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        token = jwt.encode(claims, self.private_pem, algorithm="ES256",
                           headers={"kid": self.kid, "typ": "JWT"})
        with self._mu:
            self.issued.append((account, granted, exp))
        self._reply(h, 200, {
            "token": token, "access_token": token, "expires_in": self.lifetime,
            "issued_at": datetime.datetime.fromtimestamp(
                now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")})

    def registry_auth_config(self):
        """The `auth:` section of the registry's config.yml."""
        return ("auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n"
                "    rootcertbundle: %s\n" % (self.realm, self.service, self.issuer,
                                               self.rootcertbundle))
