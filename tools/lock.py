"""requirements.txt, the deploy's lock: compiled from setup.cfg (`make lock`), checked against it (`make test`).

The lock pins every package a production install needs (setup.cfg's install_requires plus the extras
in LOCK_EXTRAS) to one version with its hashes, for every platform and Python from PYTHON up (uv's
universal resolution), so a Heroku-style buildpack installs exactly what was tested. Compiling needs
the package index; checking does not: the lock carries a digest of the requirements it was compiled
from, and every pin must still satisfy setup.cfg's ranges.

    python tools/lock.py compile   # rewrite requirements.txt (make lock)
    python tools/lock.py check     # exit 1 if requirements.txt does not match setup.cfg
"""
import argparse
import configparser
import hashlib
import re
import shutil
# uv runs with a fixed argument list.
import subprocess  # nosec B404
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK_EXTRAS = ("s3",)  # production keeps media on S3: a dyno's disk does not outlive a restart
PYTHON = "3.11"
STAMP = "# compiled from setup.cfg requirements with sha256 "
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


class LockError(Exception):
    """requirements.txt does not match setup.cfg; the message says why and what to run."""


def requirements(root=ROOT):
    """The requirements a production install has: install_requires and the LOCK_EXTRAS, parsed."""
    config = configparser.ConfigParser()
    config.read(root / "setup.cfg")
    lines = config["options"]["install_requires"].splitlines()
    for extra in LOCK_EXTRAS:
        lines += config["options.extras_require"][extra].splitlines()
    return [Requirement(line) for line in (line.strip() for line in lines) if line and not line.startswith("#")]


def digest(reqs):
    """A digest of the requirements that ignores their order and spelling, and of the lock's Python."""
    normal = sorted(f"{canonicalize_name(r.name)}{sorted(r.extras)}{r.specifier}{r.marker or ''}" for r in reqs)
    return hashlib.sha256("\n".join([PYTHON, *LOCK_EXTRAS, *normal]).encode()).hexdigest()


def pins(text):
    """{name: [versions]} of the lock, and the names pinned without a hash."""
    found, unhashed = {}, []
    entries = re.sub(r"\\\n\s*", " ", text).splitlines()
    for entry in entries:
        match = _PIN.match(entry.strip())
        if not match:
            continue
        name = canonicalize_name(match.group(1))
        found.setdefault(name, []).append(match.group(2))
        if "--hash=sha256:" not in entry:
            unhashed.append(name)
    return found, unhashed


def check(root=ROOT):
    """Raise LockError unless requirements.txt was compiled from setup.cfg's current requirements."""
    lock = root / "requirements.txt"
    if not lock.exists():
        raise LockError("requirements.txt is missing: run `make lock`.")
    text = lock.read_text()
    reqs = requirements(root)
    if f"{STAMP}{digest(reqs)}" not in text:
        raise LockError("requirements.txt was not compiled from setup.cfg's current requirements: "
                        "run `make lock` and commit requirements.txt.")
    found, unhashed = pins(text)
    if unhashed:
        raise LockError(f"requirements.txt pins {', '.join(sorted(unhashed))} without hashes: run `make lock`.")
    for req in reqs:
        versions = found.get(canonicalize_name(req.name))
        if not versions:
            raise LockError(f"requirements.txt does not pin {req.name}: run `make lock`.")
        wrong = [v for v in versions if not req.specifier.contains(v, prereleases=True)]
        if wrong:
            raise LockError(f"requirements.txt pins {req.name}=={wrong[0]}, outside setup.cfg's "
                            f"`{req.specifier}`: run `make lock`.")


def compile_lock(root=ROOT):
    """Resolve setup.cfg with uv (from the dev extra) and write requirements.txt with its stamp."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        raise LockError("uv is not installed: `make install` installs it (dev extra).")
    command = [uv, "pip", "compile", "setup.cfg", "--quiet", "--universal", "--python-version", PYTHON,
               "--generate-hashes", "--no-strip-markers", "--custom-compile-command", "make lock",
               *[arg for extra in LOCK_EXTRAS for arg in ("--extra", extra)]]
    locked = subprocess.run(command, cwd=root, check=True, capture_output=True, text=True).stdout  # nosec B603
    header = (f"# The deploy's pinned requirements (setup.cfg install_requires + {', '.join(LOCK_EXTRAS)}),\n"
              f"# for Python {PYTHON}+. Do not edit: `make lock` rewrites it, `make test` checks it.\n"
              f"{STAMP}{digest(requirements(root))}\n")
    (root / "requirements.txt").write_text(header + locked)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("compile", "check"))
    parser.add_argument("--root", type=Path, default=ROOT, help="the folder holding setup.cfg")
    args = parser.parse_args(argv)
    try:
        if args.action == "compile":
            compile_lock(args.root)
        check(args.root)
    except LockError as error:
        print(f"lock: {error}", file=sys.stderr)
        return 1
    print("lock: requirements.txt matches setup.cfg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
