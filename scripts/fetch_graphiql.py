"""Fetch GraphiQL's scripts and styles from the npm registry, at install time.

Reads the pinned packages of `socialtrading/graphql/static/graphiql.toml`, downloads each
tarball over HTTPS, refuses it unless its SHA-512 equals the pinned `integrity`, and extracts
only the listed files into `socialtrading/graphql/static/graphiql/`, which the app serves at
`/graphiql/`. Standard library only, no Node needed; run by the Makefile's install step.
Idempotent: when the folder already holds what the manifest names, nothing is downloaded.

The registry is `https://registry.npmjs.org` unless `npm_config_registry` names a mirror
(as for npm itself); the integrity check applies whatever the source.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import sys
import tarfile
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "socialtrading" / "graphql" / "static"
MANIFEST = STATIC / "graphiql.toml"
TARGET = STATIC / "graphiql"
STAMP = ".manifest-sha256"  # the manifest's hash when the folder was filled
REGISTRY = "https://registry.npmjs.org"
MAX_TARBALL = 64 * 1024 * 1024
ATTEMPTS = 3
RETRY_PAUSE = 1.0  # seconds, times the attempt number


class FetchError(RuntimeError):
    """A package could not be fetched, or did not match its pin."""


@dataclass(frozen=True)
class Package:
    """One pinned npm package and the files taken from it (path in package -> served name)."""

    name: str
    version: str
    integrity: str
    files: dict[str, str]

    @property
    def tarball(self) -> str:
        """The tarball's path on the registry, as npm names it."""
        return f"{self.name}/-/{self.name.rsplit('/', 1)[-1]}-{self.version}.tgz"


def read_manifest(path: Path = MANIFEST) -> list[Package]:
    """Parse the manifest; refuse served names that are not plain file names."""
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    packages = [
        Package(entry["name"], entry["version"], entry["integrity"], dict(entry["files"]))
        for entry in document["package"]
    ]
    for package in packages:
        if not package.integrity.startswith("sha512-"):
            raise FetchError(f"{package.name}: integrity must be a sha512 (npm's dist.integrity)")
        for served in package.files.values():
            if not served or "/" in served or "\\" in served or served.startswith("."):
                raise FetchError(f"{package.name}: {served!r} is not a plain file name")
    return packages


def _digest(manifest: Path) -> str:
    return hashlib.sha256(manifest.read_bytes()).hexdigest()


def up_to_date(packages: list[Package], manifest: Path = MANIFEST, target: Path = TARGET) -> bool:
    """Whether `target` holds every file of this very manifest."""
    stamp = target / STAMP
    if not stamp.is_file() or stamp.read_text().strip() != _digest(manifest):
        return False
    return all((target / served).is_file() for p in packages for served in p.files.values())


def verify(package: Package, data: bytes) -> None:
    """Raise unless `data` is the tarball the pin names (npm's Subresource Integrity form)."""
    actual = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != package.integrity:
        raise FetchError(
            f"{package.name}@{package.version}: integrity mismatch "
            f"(expected {package.integrity}, got {actual}); nothing was extracted"
        )


def download(package: Package, registry: str) -> bytes:
    """The package's tarball, retried a few times on network errors."""
    url = f"{registry.rstrip('/')}/{package.tarball}"
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                data: bytes = response.read(MAX_TARBALL + 1)
        except OSError as error:  # URLError and timeouts are OSErrors
            final = isinstance(error, urllib.error.HTTPError) and error.code < 500
            if final or attempt == ATTEMPTS:
                raise FetchError(f"{package.name}@{package.version}: {url}: {error}") from error
            time.sleep(RETRY_PAUSE * attempt)
            continue
        if len(data) > MAX_TARBALL:
            raise FetchError(f"{package.name}@{package.version}: tarball larger than expected")
        return data
    raise AssertionError("unreachable")


def extract(package: Package, data: bytes, target: Path) -> None:
    """Write the package's listed files into `target` (each replaced atomically)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for inner, served in package.files.items():
            try:
                member = archive.getmember(f"package/{inner}")
            except KeyError as error:
                raise FetchError(f"{package.name}@{package.version} has no {inner}") from error
            source = archive.extractfile(member) if member.isfile() else None
            if source is None:
                raise FetchError(f"{package.name}@{package.version}: {inner} is not a file")
            partial = target / f".{served}.partial"
            partial.write_bytes(source.read())
            os.replace(partial, target / served)


def _npm_registry() -> str | None:
    # npm reads `npm_config_*` variables in any case
    found = {name.lower(): value for name, value in os.environ.items()}
    return found.get("npm_config_registry")


def fetch(
    manifest: Path = MANIFEST,
    target: Path = TARGET,
    registry: str | None = None,
    force: bool = False,
) -> bool:
    """Fill `target` from the registry unless it is up to date; whether anything was fetched."""
    packages = read_manifest(manifest)
    if not force and up_to_date(packages, manifest, target):
        return False
    registry = registry or _npm_registry() or REGISTRY
    target.mkdir(parents=True, exist_ok=True)
    (target / STAMP).unlink(missing_ok=True)
    for package in packages:
        data = download(package, registry)
        verify(package, data)
        extract(package, data, target)
    (target / STAMP).write_text(_digest(manifest) + "\n")
    return True


def main(argv: list[str] | None = None) -> int:
    """Run from the command line; exit 1 with the reason on failure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="download even if up to date")
    arguments = parser.parse_args(argv)
    try:
        fetched = fetch(force=arguments.force)
    except (FetchError, OSError) as error:
        print(f"GraphiQL assets: {error}", file=sys.stderr)
        return 1
    print("GraphiQL assets: " + ("fetched and verified" if fetched else "up to date"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
