"""TLS for the fake servers: a company CA made with the ``openssl`` command, and a server
certificate it signs.

The server certificate names ``jd-api.test`` (a name that only the test proxy resolves),
``localhost`` and ``127.0.0.1``, and the server sends it with the CA, as a TLS-inspecting
gateway does: a client that does not trust the CA sees "self-signed certificate in
certificate chain". The files are made once per test session (``company_ca`` fixture).
"""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

SERVER_NAME = "jd-api.test"  # resolves nowhere: only the test proxy maps it to the fake

SERVER_EXTENSIONS = f"""\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:{SERVER_NAME}, DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
"""


@dataclass(frozen=True)
class CompanyCa:
    """``ca``: the CA certificate (PEM) a user would give as ``ca-bundle``;
    ``chain``/``key``: the server's certificate followed by the CA's, and its key."""

    ca: Path
    chain: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.chain, self.key)
        return context


def _openssl(folder: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True,
                   timeout=60, stdin=subprocess.DEVNULL)


def make_company_ca(folder: Path) -> CompanyCa:
    """A CA and a server certificate it signs, valid for two days, with the extensions
    strict verifiers ask for (key usages, key identifiers)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "server.ext").write_text(SERVER_EXTENSIONS)
    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(folder, "req", "-x509", *curve, "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "2", "-subj", "/O=Example Corp/CN=Example Corp TLS Inspection CA",
             "-config", "/dev/null", "-addext",
             "basicConstraints=critical,CA:TRUE", "-addext",
             "keyUsage=critical,keyCertSign,cRLSign", "-addext",
             "subjectKeyIdentifier=hash")
    _openssl(folder, "req", "-new", *curve, "-keyout", "server.key", "-out", "server.csr",
             "-subj", f"/CN={SERVER_NAME}", "-config", "/dev/null")
    _openssl(folder, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey",
             "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2",
             "-extfile", "server.ext")
    chain = folder / "chain.pem"
    chain.write_text((folder / "server.pem").read_text() + (folder / "ca.pem").read_text())
    return CompanyCa(folder / "ca.pem", chain, folder / "server.key")
