"""The install-time fetch of GraphiQL's files: pinned, verified, only the listed files."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scripts import fetch_graphiql
from scripts.fetch_graphiql import STAMP, FetchError, Package, fetch, read_manifest, verify


def _tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


class Registry:
    """A registry in a folder (file:// URLs), laid out as npm's."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = root.as_uri()

    def publish(self, name: str, version: str, files: dict[str, bytes]) -> bytes:
        data = _tarball(files)
        path = self.root / name / "-" / f"{name.rsplit('/', 1)[-1]}-{version}.tgz"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return data


def _manifest(path: Path, entries: list[tuple[str, str, str, dict[str, str]]]) -> Path:
    lines = []
    for name, version, integrity, files in entries:
        table = ", ".join(f'"{inner}" = "{served}"' for inner, served in files.items())
        lines += [
            "[[package]]",
            f'name = "{name}"',
            f'version = "{version}"',
            f'integrity = "{integrity}"',
            f"files = {{ {table} }}",
            "",
        ]
    path.write_text("\n".join(lines))
    return path


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "registry")


def test_fetch_extracts_only_the_listed_files_under_their_served_names(
    registry: Registry, tmp_path: Path
) -> None:
    lib = registry.publish("lib", "1.0.0", {"dist/lib.min.js": b"lib()", "src/big.js": b"x"})
    plug = registry.publish("@scope/plug", "2.0.0", {"index.umd.js": b"plug()"})
    manifest = _manifest(
        tmp_path / "m.toml",
        [
            ("lib", "1.0.0", _integrity(lib), {"dist/lib.min.js": "lib.js"}),
            ("@scope/plug", "2.0.0", _integrity(plug), {"index.umd.js": "plug.js"}),
        ],
    )
    target = tmp_path / "assets"

    assert fetch(manifest, target, registry.url) is True

    assert sorted(p.name for p in target.iterdir()) == [STAMP, "lib.js", "plug.js"]
    assert (target / "lib.js").read_bytes() == b"lib()"
    assert (target / "plug.js").read_bytes() == b"plug()"
    # Up to date: nothing is downloaded again (the registry is gone).
    assert fetch(manifest, target, (tmp_path / "nowhere").as_uri()) is False


def test_a_changed_pin_or_a_missing_file_fetches_again(registry: Registry, tmp_path: Path) -> None:
    one = registry.publish("lib", "1.0.0", {"lib.js": b"one"})
    two = registry.publish("lib", "2.0.0", {"lib.js": b"two"})
    target = tmp_path / "assets"
    manifest = _manifest(
        tmp_path / "m.toml", [("lib", "1.0.0", _integrity(one), {"lib.js": "l.js"})]
    )
    assert fetch(manifest, target, registry.url)

    (target / "l.js").unlink()
    assert fetch(manifest, target, registry.url) is True
    assert (target / "l.js").read_bytes() == b"one"

    _manifest(manifest, [("lib", "2.0.0", _integrity(two), {"lib.js": "l.js"})])
    assert fetch(manifest, target, registry.url) is True
    assert (target / "l.js").read_bytes() == b"two"


def test_a_tarball_that_does_not_match_its_pin_is_refused_and_nothing_extracted(
    registry: Registry, tmp_path: Path
) -> None:
    pinned = _tarball({"lib.js": b"genuine"})
    registry.publish("lib", "1.0.0", {"lib.js": b"tampered"})
    manifest = _manifest(
        tmp_path / "m.toml", [("lib", "1.0.0", _integrity(pinned), {"lib.js": "lib.js"})]
    )
    target = tmp_path / "assets"

    with pytest.raises(FetchError, match="integrity mismatch"):
        fetch(manifest, target, registry.url)

    assert not (target / "lib.js").exists()
    assert not (target / STAMP).exists()


def test_an_unreachable_registry_or_a_missing_file_is_a_clear_error(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch_graphiql, "RETRY_PAUSE", 0.0)
    data = registry.publish("lib", "1.0.0", {"lib.js": b"x"})
    manifest = _manifest(
        tmp_path / "m.toml", [("lib", "1.0.0", _integrity(data), {"nope.js": "nope.js"})]
    )
    with pytest.raises(FetchError, match=r"lib@1\.0\.0 has no nope\.js"):
        fetch(manifest, tmp_path / "assets", registry.url)
    with pytest.raises(FetchError, match=r"lib@1\.0\.0: .*lib-1\.0\.0\.tgz"):
        fetch(manifest, tmp_path / "assets", (tmp_path / "nowhere").as_uri())


@given(data=st.binary(min_size=1, max_size=256), flip=st.data())
def test_verify_accepts_the_pinned_bytes_and_refuses_any_changed_byte(
    data: bytes, flip: st.DataObject
) -> None:
    package = Package("lib", "1.0.0", _integrity(data), {})
    verify(package, data)
    index = flip.draw(st.integers(0, len(data) - 1))
    mask = flip.draw(st.integers(1, 255))
    changed = data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]
    with pytest.raises(FetchError, match="integrity mismatch"):
        verify(package, changed)
    with pytest.raises(FetchError, match="integrity mismatch"):
        verify(package, data + b"\0")


@pytest.mark.parametrize("served", ["../escape.js", "sub/dir.js", ".hidden"])
def test_served_names_must_be_plain_file_names(tmp_path: Path, served: str) -> None:
    manifest = _manifest(tmp_path / "m.toml", [("lib", "1.0.0", "sha512-x", {"a.js": served})])
    with pytest.raises(FetchError, match="not a plain file name"):
        read_manifest(manifest)


def test_the_real_manifest_pins_every_package_with_a_sha512() -> None:
    packages = read_manifest()
    assert {p.name for p in packages} >= {"react", "react-dom", "graphiql"}
    assert all(p.integrity.startswith("sha512-") and len(p.integrity) == 95 for p in packages)
    served = [name for p in packages for name in p.files.values()]
    assert len(served) == len(set(served))
