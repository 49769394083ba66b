"""URLs: entries become percent-encoded absolute URLs under each base URL.

Pure functions: the same entries always give the same sorted, de-duplicated URLs.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit, urlunsplit

from jdcdn_action.entries import Entry, show
from jdcdn_action.exceptions import InputError
from jdcdn_action.redaction import hide_userinfo

# RFC 3986 pchar minus unreserved (which quote() always keeps): a raw file name keeps
# these as browsers send them, so the URL matches the CDN's cache key.
PATH_SAFE = "/!$&'()*+,;=:@~"
# Everything that may appear in a URL as written (reserved, unreserved and '%').
URL_SAFE = ":/?#[]@!$&'()*+,;=~%"
BARE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class UrlPlan:
    """The URLs to refresh: file URLs and directory URLs (each ending in ``/``).

    ``sources`` says where each file URL made from a site path came from: the path (raw,
    relative to the base URL, so to ``source-dir``; a folder URL made by index-files maps
    to its folder, ending in ``/``), for ``verify`` to find its local copy. A URL written
    as an absolute URL has none. ``deleted``: URLs made only from files git saw deleted.
    """

    files: tuple[str, ...]
    dirs: tuple[str, ...]
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    deleted: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    @property
    def empty(self) -> bool:
        return not self.files and not self.dirs


def encode_site_path(path: str) -> str:
    """Percent-encode a raw name as UTF-8; ``/`` separates segments, ``%`` becomes ``%25``."""
    return quote(path, safe=PATH_SAFE)


def encode_absolute_url(url: str) -> str:
    """Encode only what may not stand in a URL (spaces, controls, non-ASCII, a bare ``%``);
    the scheme and host lower-cased, an international host in its IDNA (``xn--``) form,
    so that one URL written two ways is one URL."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise InputError(f"the URL {show(hide_userinfo(url))} has an invalid host "
                         "name.") from None
    netloc = f"[{ascii_host}]" if ":" in ascii_host else ascii_host
    if parts.port is not None:
        netloc += f":{parts.port}"
    url = urlunsplit((parts.scheme.lower(), netloc.lower(), parts.path, parts.query,
                      parts.fragment))
    return quote(BARE_PERCENT.sub("%25", url), safe=URL_SAFE)


def refuse_user_info(text: str, origin: str) -> None:
    """An entry with ``user:pw@`` is refused, and shown with that part as ``***``."""
    shown = hide_userinfo(text)
    if shown != text:
        raise InputError(f"{origin}: the URL {show(shown)} contains a user name or password "
                         "(user@ or user:pw@); remove it: the CDN never sees one.")


def url_key(url: str) -> str:
    """One spelling for the URLs a server may write another way than they were sent
    (JD lists ``.../文档/a.html`` for ``.../%E6%96%87%E6%A1%A3/a.html``): non-ASCII and
    other characters that may not stand in a URL percent-encoded as UTF-8, escapes in
    upper case, escapes of unreserved characters decoded, scheme and host lower-cased.
    Reserved characters keep their spelling (``%2F`` is not ``/``). Only for comparing:
    never sent."""
    url = url.strip()
    with contextlib.suppress(InputError, ValueError):  # odd text is compared as written
        url = encode_absolute_url(url)
    return ESCAPE.sub(_normal_escape, url)


def _normal_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group()[1:], 16))
    return char if char in UNRESERVED else match.group().upper()


def check_absolute_url(text: str, origin: str) -> None:
    """Refuse what the CDN cannot mean: user info, a bad port, no host, a fragment."""
    refuse_user_info(text, origin)
    parts = urlsplit(text)
    if parts.scheme.lower() not in {"http", "https"}:
        raise InputError(f"{origin}: {show(text)} is not an http:// or https:// URL.")
    if not parts.hostname:
        raise InputError(f"{origin}: the URL {show(text)} has no host name.")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0 and parts.netloc.rsplit("]", 1)[-1].count(":"):
        raise InputError(f"{origin}: the URL {show(text)} has a port outside 1-65535.")
    if parts.fragment:
        raise InputError(f"{origin}: the URL {show(text)} has a #fragment, which is never "
                         "sent to the CDN; remove it.")


def normalise_site_path(text: str, origin: str) -> str:
    """Drop a leading ``/``, ``.`` and empty segments; resolve ``..`` inside the base.

    Returns "" for the base itself. A trailing ``/`` is kept (it marks a folder URL).
    """
    if "/." not in text and "//" not in text and not text.startswith((".", "/")):
        return text  # the common case, kept fast for large diffs
    segments: list[str] = []
    for segment in text.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not segments:
                raise InputError(
                    f"{origin}: the entry {show(text)} climbs above the base URL with '..'; "
                    "remove the '..'."
                )
            segments.pop()
            continue
        segments.append(segment)
    path = "/".join(segments)
    return path + "/" if path and text.endswith(("/", "/.", "/..")) else path


def _absolute_url(entry: Entry) -> str:
    check_absolute_url(entry.text, entry.origin)
    url = encode_absolute_url(entry.text)
    if not urlsplit(url).path:
        url += "/"  # https://host is its home page, a file URL
    return url


def map_entries(
    entries: Iterable[Entry],
    base_urls: Sequence[str],
    type_: str = "auto",
    index_files: Sequence[str] = ("index.html",),
) -> UrlPlan:
    """Turn entries into sorted, de-duplicated file and directory URLs.

    ``base_urls`` are validated and end in ``/`` (settings_values.parse_base_url). Site paths
    are joined under every base URL, keeping the base's own path prefix.
    """
    files: set[str] = set()
    dirs: set[str] = set()
    sources: dict[str, str] = {}  # file URL -> site path, for verify
    gone: dict[str, str] = {}  # the same, from files git saw deleted
    index_names = frozenset(index_files)
    for entry in entries:
        kind = entry.kind or (type_ if type_ in ("file", "dir") else None)
        written_dir = entry.text.endswith("/")  # only a trailing / as written makes a dir
        if not entry.repository_path and ABSOLUTE.match(entry.text):
            url = _absolute_url(entry)
            kind = kind or ("dir" if written_dir else "file")
            if kind == "dir":
                if "?" in url:
                    raise InputError(
                        f"{entry.origin}: {show(entry.text)} has a query string, so it cannot "
                        "be refreshed as a directory; list it as a file or drop the query."
                    )
                dirs.add(url if url.endswith("/") else url + "/")
            else:
                files.add(url)
                if "?" not in url:
                    folder = _index_folder(url, index_names)
                    if folder is not None:
                        files.add(folder)
            continue
        if entry.text.startswith("//") and not entry.repository_path:
            refuse_user_info(entry.text, entry.origin)
            raise InputError(
                f"{entry.origin}: {show(entry.text)} is a protocol-relative URL; write it "
                "with https:// (or drop the leading // for a site path)."
            )
        if not base_urls:
            raise InputError(
                f"base-url is required for the site path {show(entry.text)} "
                f"(from {entry.origin}): set base-url, or give absolute URLs."
            )
        path = normalise_site_path(entry.text, entry.origin)
        kind = kind or ("dir" if written_dir else "file")
        encoded = encode_site_path(path)
        if kind == "dir":
            if encoded and not encoded.endswith("/"):
                encoded += "/"
            dirs.update(base + encoded for base in base_urls)
            continue
        record = gone if entry.deleted else sources
        for base in base_urls:
            url = base + encoded
            files.add(url)
            record[url] = path
        folder_path = _index_folder(encoded, index_names)
        if folder_path is not None:
            folder = path[: path.rfind("/") + 1]
            for base in base_urls:
                url = base + folder_path
                files.add(url)
                record[url] = folder
    # A URL that a file still present also made is not deleted.
    deleted = frozenset(url for url in gone if url not in sources)
    return UrlPlan(files=tuple(sorted(files)), dirs=tuple(sorted(dirs)),
                   sources=gone | sources if gone else sources, deleted=deleted)


def _index_folder(encoded: str, index_names: frozenset[str]) -> str | None:
    """``docs/index.html`` -> ``docs/``; ``index.html`` -> ``""``; else None."""
    if not index_names:
        return None
    slash = encoded.rfind("/")
    name = encoded[slash + 1 :]
    if name and _decoded(name) in index_names:
        return encoded[: slash + 1]
    return None


def _decoded(name: str) -> str:
    if "%" not in name:
        return name
    from urllib.parse import unquote

    return unquote(name)
