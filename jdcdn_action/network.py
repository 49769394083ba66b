"""How requests leave the run: the proxy for each URL and the extra certificate authorities.

Read from the environment the run was given (``Settings.env``: ``os.environ`` for the
command, the container's environment in a job) and the ``ca-bundle`` setting, once, when
the settings load, and checked then: a proxy URL that is not ``http(s)://host[:port]``, or
a CA file that cannot be read or holds no certificate, is exit 2 naming the variable or
setting, before anything is sent. ``api.http`` builds every session from a ``Network``, so
API calls, polls and every later request (the quota read, ``verify``) go the same way.

No ``requests`` here: settings load for every run, dry runs included, and stay quick.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from jdcdn_action.console import clean_text
from jdcdn_action.exceptions import InputError
from jdcdn_action.redaction import hide_userinfo

# Lower case first: where both spellings are set, the lower-case one wins (as in curl,
# requests and urllib). ALL_PROXY is not read: the contract names these three.
PROXY_VARIABLES = {"https": ("https_proxy", "HTTPS_PROXY"),
                   "http": ("http_proxy", "HTTP_PROXY")}
NO_PROXY_VARIABLES = ("no_proxy", "NO_PROXY")
CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
MAX_CA_FILE = 10 * 1024 * 1024  # bytes; the public bundle is about 300 kB
PEM_MARKERS = ("-----BEGIN CERTIFICATE-----", "-----BEGIN TRUSTED CERTIFICATE-----")


@dataclass(frozen=True)
class Proxy:
    """One proxy: ``url`` as given, credentials included (sent, never printed: not even
    in a ``repr``)."""

    url: str = field(repr=False)
    variable: str  # the variable that set it, for messages
    host: str
    port: int

    @property
    def shown(self) -> str:
        """The URL as it may be printed: user name and password as ``***``."""
        return shown_url(self.url)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class CaFile:
    path: str
    source: str  # ``ca-bundle`` or the variable that named it


@dataclass(frozen=True)
class Network:
    """The proxy for each URL scheme, the hosts that bypass them, and the extra CA files.
    The default (nothing set) connects directly and trusts the default CAs only."""

    https: Proxy | None = None
    http: Proxy | None = None
    no_proxy: tuple[str, ...] = ()
    ca_files: tuple[CaFile, ...] = ()

    def proxy_for(self, url: str) -> Proxy | None:
        """The proxy a request to ``url`` goes through, or None (direct)."""
        parts = urlsplit(url)
        proxy = {"https": self.https, "http": self.http}.get(parts.scheme.lower())
        if proxy is None or not parts.hostname:
            return None
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        return None if bypasses(parts.hostname, port, self.no_proxy) else proxy

    def describe(self, url: str) -> list[str]:
        """For the log: the proxy that requests to ``url`` go through, and the extra CAs
        (never a proxy's credentials)."""
        proxy = self.proxy_for(url)
        lines = [f"Calls go through the proxy {proxy.shown} ({proxy.variable})."] if proxy \
            else []
        return lines + [f"Trusting the certificate authorities in {f.path} ({f.source}) "
                        "besides the default ones." for f in self.ca_files]


def load_network(ca_bundle: str, env: Mapping[str, str]) -> Network:
    """The run's ``Network``; raises InputError naming the variable or setting at fault."""
    get = env.get
    proxies: dict[str, Proxy | None] = {}
    for scheme, names in PROXY_VARIABLES.items():
        name = next((n for n in names if (get(n) or "").strip()), None)
        proxies[scheme] = parse_proxy(name, env[name].strip()) if name else None
    no_proxy_value = next((get(n) for n in NO_PROXY_VARIABLES if (get(n) or "").strip()), "")
    sources = [("ca-bundle", ca_bundle.strip())]
    sources += [(name, (get(name) or "").strip()) for name in CA_VARIABLES]
    ca_files: list[CaFile] = []
    for source, path in sources:
        if path and path not in {f.path for f in ca_files}:
            check_ca_file(source, path)
            ca_files.append(CaFile(path, source))
    return Network(proxies["https"], proxies["http"], split_no_proxy(no_proxy_value),
                   tuple(ca_files))


# -- proxies ---------------------------------------------------------------------------------
def parse_proxy(variable: str, value: str) -> Proxy:
    """``http://[user:password@]host[:port]``; a value without a scheme is taken as
    ``http://`` (as curl and requests do)."""
    url = value if "://" in value else f"http://{value}"
    shown = clean_text(shown_url(url), 120)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InputError(f"{variable}: {shown!r} is not a proxy URL (bad host or port); use "
                         "http://host:port.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InputError(f"{variable}: {shown!r} is not an http:// or https:// proxy (SOCKS "
                         "proxies are not supported); use http://host:port.")
    if not parts.hostname:
        raise InputError(f"{variable}: {shown!r} names no host; use http://host:port.")
    default_port = 443 if parts.scheme.lower() == "https" else 80
    return Proxy(url, variable, parts.hostname, port or default_port)


def shown_url(url: str) -> str:
    """``url`` with its user information (``user:password@``) replaced by ``***``; a
    proxy variable may leave out the scheme (``user:pw@proxy:3128``)."""
    return hide_userinfo(url) if "//" in url else hide_userinfo("//" + url)[2:]


def proxy_secrets(env: Mapping[str, str]) -> list[str]:
    """The passwords of every proxy variable, in each form a request or a message could
    carry them (as written, decoded, and the ``Proxy-Authorization`` value): masked before
    anything is printed, whatever else is wrong with the settings."""
    found = []
    for names in PROXY_VARIABLES.values():
        for name in names:
            value = (env.get(name) or "").strip()
            authority = value.partition("://")[2] if "://" in value else value
            authority = authority.partition("/")[0]
            if "@" not in authority:
                continue
            user, _, password = authority.rpartition("@")[0].partition(":")
            if not password:
                continue
            basic = f"{unquote(user)}:{unquote(password)}".encode()
            found += [password, unquote(password), base64.b64encode(basic).decode()]
    return found


def split_no_proxy(value: str) -> tuple[str, ...]:
    return tuple(entry.lower() for entry in value.replace(",", " ").split())


def bypasses(host: str, port: int, no_proxy: tuple[str, ...]) -> bool:
    """Whether ``NO_PROXY`` sends ``host`` direct: ``*`` (every host), a domain
    (``example.com`` or ``.example.com``: it and its subdomains), an address or network
    (``10.0.0.0/8``), each optionally with ``:port``."""
    host = host.lower().strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in no_proxy:
        if entry == "*":
            return True
        name, wanted = _entry_port(entry)
        if wanted is not None and wanted != port:
            continue
        if address is not None:
            try:
                if address in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name = name.removeprefix("*").lstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def _entry_port(entry: str) -> tuple[str, int | None]:
    """``host:port``, ``[v6]:port``; a bare IPv6 address has no port."""
    if entry.startswith("["):
        name, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":")
        return name, int(port) if port.isdigit() else None
    if entry.count(":") == 1:
        name, _, port = entry.partition(":")
        return name, int(port) if port.isdigit() else None
    return entry, None


# -- certificate authorities -----------------------------------------------------------------
def check_ca_file(source: str, path: str) -> None:
    """A readable PEM file holding at least one certificate that OpenSSL can load."""
    fix = ("give a PEM file of CA certificates (-----BEGIN CERTIFICATE-----); in the "
           "container, a path inside the workspace")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CA_FILE + 1)
    except IsADirectoryError:
        raise InputError(f"{source}: {path!r} is a folder; {fix}.") from None
    except FileNotFoundError:
        raise InputError(f"{source}: {path!r} does not exist; {fix}.") from None
    except OSError as error:
        raise InputError(f"{source}: {path!r} cannot be read ({error.strerror}); "
                         f"{fix}.") from None
    if len(data) > MAX_CA_FILE:
        raise InputError(f"{source}: {path!r} is larger than {MAX_CA_FILE // 2**20} MB; "
                         f"{fix}.")
    if not any(marker.encode() in data for marker in PEM_MARKERS):
        raise InputError(f"{source}: {path!r} holds no certificate; {fix}.")
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=path)
    except (ssl.SSLError, ValueError) as error:
        said = str(error.args[-1]) if error.args else type(error).__name__
        said = said.split(" (_ssl.c:")[0]  # OpenSSL's words, without the source line
        raise InputError(f"{source}: {path!r} holds a certificate that cannot be read "
                         f"(OpenSSL: {clean_text(said, 80)}); {fix}.") from None
    if not context.cert_store_stats().get("x509"):
        raise InputError(f"{source}: {path!r} holds no certificate; {fix}.")
