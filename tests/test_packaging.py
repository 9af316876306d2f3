"""What the sdist and wheel contain, and what their metadata promises.

The artifacts are built here from the source tree (``python -m build --no-isolation``: sdist,
then the wheel from the sdist), or taken from ``$HEADLESS_DISCOVERY_DIST`` when ``nox -s
package`` has built them, which then also checks them with twine and installs the wheel in a
fresh virtual environment.
"""

from __future__ import annotations

import email.parser
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "headless_discovery"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = os.environ.get("HEADLESS_DISCOVERY_DIST")
    if built:
        return Path(built)
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def only(dist: Path, pattern: str) -> Path:
    (found,) = dist.glob(pattern)
    return found


def wheel_names(dist: Path) -> list[str]:
    with zipfile.ZipFile(only(dist, "*.whl")) as wheel:
        return wheel.namelist()


def metadata(dist: Path) -> Message:
    with zipfile.ZipFile(only(dist, "*.whl")) as wheel:
        (name,) = (n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(wheel.read(name).decode())


def supported_pythons() -> list[str]:
    """The versions noxfile.py runs ``tests_all`` on."""
    match = re.search(r"^SUPPORTED = \(([^)]*)\)", (ROOT / "noxfile.py").read_text(), re.M)
    assert match is not None
    return re.findall(r'"(3\.\d+)"', match.group(1))


def test_the_wheel_holds_the_typed_package_with_its_data_and_no_tests(dist: Path) -> None:
    names = wheel_names(dist)
    tops = {name.split("/", 1)[0] for name in names}
    (dist_info,) = (top for top in tops if top.endswith(".dist-info"))
    assert tops == {"headless_discovery", dist_info}
    assert "headless_discovery/py.typed" in names
    assert "headless_discovery/data/demo-cluster.zone" in names
    sources = {
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert sources <= set(names)
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert f"{dist_info}/licenses/LICENSE" in names


def test_the_wheel_installs_the_command(dist: Path) -> None:
    with zipfile.ZipFile(only(dist, "*.whl")) as wheel:
        (name,) = (n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
        entry_points = wheel.read(name).decode()
    assert "[console_scripts]" in entry_points
    assert "headless-discovery = headless_discovery.__main__:main" in entry_points


def test_the_metadata_is_truthful(dist: Path) -> None:
    meta = metadata(dist)
    assert meta["Name"] == "headless-discovery"
    assert meta["License-Expression"] == "MIT"
    assert meta["Description-Content-Type"] == "text/markdown"
    assert "python3 -m pip install nox" in (meta.get_payload() or "")  # the README
    requires = meta.get_all("Requires-Dist") or []
    assert any(r.startswith("dnspython") for r in requires)
    # 4.10: the first pymongo with AsyncMongoClient, which async_mongo_client() returns.
    assert [r for r in requires if r.startswith("pymongo")] == ["pymongo>=4.10; extra == 'mongo'"]
    assert meta.get_all("Provides-Extra") == [
        "aiohttp",
        "grpc",
        "httpx",
        "mongo",
        "opentelemetry",
        "requests",
    ]
    # The clients' integrations (headless_discovery.integrations), each its own extra.
    assert sorted(r for r in requires if "extra ==" in r and "mongo" not in r) == [
        "aiohttp>=3.10; extra == 'aiohttp'",
        "grpcio>=1.63; extra == 'grpc'",
        "httpx>=0.27; extra == 'httpx'",
        # 1.30: the histogram bucket advice dns.lookup.duration is created with.
        "opentelemetry-api>=1.30; extra == 'opentelemetry'",
        "requests>=2.32; extra == 'requests'",
    ]

    # The classifiers name exactly the Pythons the tests run on (nox -s tests_all), and
    # requires-python starts at the oldest of them.
    classifiers = meta.get_all("Classifier") or []
    versions = [c.rsplit(" :: ", 1)[1] for c in classifiers if re.fullmatch(r".*:: 3\.\d+", c)]
    supported = supported_pythons()
    assert versions == supported
    assert meta["Requires-Python"] == f">={supported[0]}"
    assert "Typing :: Typed" in classifiers
    assert "Programming Language :: Python :: 3 :: Only" in classifiers


def test_the_sdist_holds_what_the_tests_and_docs_need(dist: Path) -> None:
    sdist = only(dist, "*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in (
        "pyproject.toml",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "noxfile.py",
        "mkdocs.yml",
        "headless_discovery/py.typed",
        "headless_discovery/data/demo-cluster.zone",
        "tests/conftest.py",
        "docs/index.md",
        "examples/sync_app.py",
        "examples/kubernetes/mongodb.yaml",
    ):
        assert needed in names, needed
    assert not [n for n in names if n.startswith(("site/", ".nox/", "dist/")) or ".pyc" in n]
