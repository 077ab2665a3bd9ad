"""
Brian2's own example scripts, for benchmarks that run them unchanged.

The source distribution of Brian2 on PyPI carries the ``examples/`` folder
of its repository. `examples_folder` fetches the sdist of the *installed*
Brian2 version through PyPI's simple index (checking the sha256 the index
gives), and unpacks its examples into ``build/brian2-examples-<version>/``
(``build/`` is not tracked); later calls find them there.

    python benchmarks/brian2_sources.py      # fetch, print the folder
"""

import hashlib
import io
import json
import os
import shutil
import tarfile
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
INDEX = "https://pypi.org/simple/brian2/"


class SourcesUnavailable(RuntimeError):
    """Brian2's sdist could not be fetched (offline, or PyPI does not have it)."""


def installed_version():
    """The version of the Brian2 that this Python imports, e.g. ``'2.9.0'``."""
    import brian2

    return brian2.__version__


def sdist_link(version, index=INDEX):
    """
    The URL and sha256 of ``brian2-<version>.tar.gz`` in PyPI's simple
    index (its JSON form, PEP 691).
    """
    request = urllib.request.Request(index, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            files = json.load(answer)["files"]
    except (urllib.error.URLError, OSError) as error:
        raise SourcesUnavailable(
            f"Could not reach {index} to find Brian2 {version}'s source distribution ({error}). "
            "The benchmark runs Brian2's own example scripts from it: run it online once "
            f"(they are kept in build/brian2-examples-{version}/ afterwards).") from error
    wanted = f"brian2-{version}.tar.gz"
    for entry in files:
        if entry["filename"] == wanted:
            return entry["url"], entry.get("hashes", {}).get("sha256")
    raise SourcesUnavailable(f"{index} lists no {wanted}: this Brian2 version has no sdist on PyPI.")


def examples_folder(version=None, build=os.path.join(ROOT, "build")):
    """
    The folder holding Brian2's ``examples/`` for ``version`` (default: the
    installed one), fetched and unpacked on first use.

    >>> os.path.exists(os.path.join(examples_folder(), "COBAHH.py"))  # doctest: +SKIP
    True
    """
    version = version or installed_version()
    folder = os.path.join(build, f"brian2-examples-{version}")
    if os.path.exists(os.path.join(folder, "COBAHH.py")):
        return folder
    url, sha256 = sdist_link(version)
    try:
        with urllib.request.urlopen(url, timeout=300) as answer:
            data = answer.read()
    except (urllib.error.URLError, OSError) as error:
        raise SourcesUnavailable(f"Could not download {url} ({error}).") from error
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        raise SourcesUnavailable(f"{url} does not have the sha256 that PyPI's index gives ({sha256}).")
    _unpack_examples(data, f"brian2-{version}/examples/", folder)
    return folder


def _unpack_examples(data, prefix, folder):
    # unpacked beside, then renamed: an interrupted run leaves no half folder behind
    partial = folder + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            if member.isfile() and member.name.startswith(prefix):
                target = os.path.join(partial, member.name[len(prefix):])
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with archive.extractfile(member) as source, open(target, "wb") as copy:
                    shutil.copyfileobj(source, copy)
    if not os.path.exists(os.path.join(partial, "COBAHH.py")):
        shutil.rmtree(partial, ignore_errors=True)
        raise SourcesUnavailable(f"The sdist has no {prefix}COBAHH.py.")
    os.replace(partial, folder)


if __name__ == "__main__":
    print(examples_folder())
