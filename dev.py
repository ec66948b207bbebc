#!/usr/bin/env python3
"""Two-command entry point for a fresh checkout: ``python3 dev.py demo`` and ``python3 dev.py test``.

On first use (and whenever ``pyproject.toml`` changes) it creates ``.venv`` in the checkout with the
standard library's ``venv`` and installs openprepaid with its development tools there; then it runs
the requested job inside that environment. Nothing but Python >= 3.11 needs to be installed.

    python3 dev.py demo [ARGS...]    the main job: ``openprepaid demo`` (arguments passed through)
    python3 dev.py test [ARGS...]    ruff, mypy, import-linter, then the whole pytest suite
    python3 dev.py lint              only the static checks
    python3 dev.py run CMD [ARGS...] any ``openprepaid`` command inside the environment
    python3 dev.py bench NAME [ARGS] a benchmark under bench/
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".openprepaid-installed"
MIN_PYTHON = (3, 11)


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _requirements_digest() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_environment() -> Path:
    """Create or refresh the checkout's virtual environment; return its interpreter."""
    if sys.version_info < MIN_PYTHON:
        sys.exit(f"openprepaid needs Python >= 3.11; this is {sys.version.split()[0]}")
    python = _venv_python()
    if not python.exists():
        print(f"[dev] creating virtual environment in {VENV}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    digest = _requirements_digest()
    if not STAMP.exists() or STAMP.read_text().strip() != digest:
        print("[dev] installing openprepaid and its tools (first run only)", file=sys.stderr)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "-e", f"{ROOT}[dev]"],
            check=True,
        )
        STAMP.write_text(digest + "\n")
    return python


def _run(python: Path, *args: str) -> int:
    return subprocess.call([str(python), *args], cwd=ROOT)


def lint(python: Path) -> int:
    steps = [
        ("ruff", ["-m", "ruff", "check", "src", "tests", "bench", "fuzz", "dev.py"]),
        ("mypy", ["-m", "mypy"]),
        ("import-linter", ["-c", "from importlinter.cli import lint_imports_command as c; c()"]),
    ]
    for name, args in steps:
        print(f"[dev] {name}", file=sys.stderr, flush=True)
        code = _run(python, *args)
        if code != 0:
            print(f"[dev] {name} failed", file=sys.stderr)
            return code
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0
    job, rest = argv[0], argv[1:]
    python = ensure_environment()
    if job == "demo":
        return _run(python, "-m", "openprepaid", "demo", *rest)
    if job == "test":
        code = lint(python)
        if code != 0:
            return code
        return _run(python, "-m", "pytest", *rest)
    if job == "lint":
        return lint(python)
    if job == "run":
        return _run(python, "-m", "openprepaid", *rest)
    if job == "bench":
        if not rest:
            sys.exit("usage: python3 dev.py bench NAME [ARGS...]")
        return _run(python, str(ROOT / "bench" / f"{rest[0].removesuffix('.py')}.py"), *rest[1:])
    sys.exit(f"unknown job {job!r}; try: python3 dev.py --help")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
