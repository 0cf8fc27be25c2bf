"""No module outside tests over 350 lines (issue 14's bar).

A module that keeps growing past this size has usually picked up a second job; the test makes
that visible when it happens instead of at the next review. Only tracked files count (``git
ls-files``), so a scratch script or a build artefact in a checkout cannot fail it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 350
#: path parts whose files are not the project's own modules
SKIPPED_PARTS = frozenset({"tests", ".venv", ".tools", "build", "dist"})


def tracked_python_files(root: Path) -> list[Path]:
    """The ``.py`` files git tracks under ``root``, minus tests, venvs and build output."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "*.py"], cwd=root, check=True, capture_output=True, text=True
    ).stdout
    paths = [Path(name) for name in listed.split("\0") if name]
    return [
        path
        for path in paths
        if not SKIPPED_PARTS.intersection(path.parts)
        and not any(part.endswith(".egg-info") for part in path.parts)
    ]


def oversized(root: Path, limit: int = MAX_LINES) -> list[str]:
    """``path: lines`` for every tracked module longer than ``limit``, longest first."""
    sizes = {
        path: len((root / path).read_text(encoding="utf-8").splitlines())
        for path in tracked_python_files(root)
        if (root / path).is_file()
    }
    return [f"{path}: {n}" for path, n in sorted(sizes.items(), key=lambda kv: -kv[1]) if n > limit]


def test_no_module_outside_tests_exceeds_the_limit() -> None:
    offenders = oversized(ROOT)
    assert offenders == [], f"modules over {MAX_LINES} lines (split them by concern): {offenders}"


def test_the_rule_sees_a_long_module_and_skips_tests(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "pkg" / "long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (tmp_path / "pkg" / "short.py").write_text("x = 1\n" * MAX_LINES)
    (tmp_path / "tests" / "test_long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (tmp_path / "untracked.py").write_text("x = 1\n" * (MAX_LINES + 1))
    subprocess.run(["git", "add", "pkg", "tests"], cwd=tmp_path, check=True)
    assert oversized(tmp_path) == [f"pkg/long.py: {MAX_LINES + 1}"]
