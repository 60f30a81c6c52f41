"""`make mutate`: mutation testing of the kernel, both methodologies, the lifecycle, the
disclosure rule and the gateway's rate limiting (issue 15). A figure, not a gate.

For each target of ``tests/mutation_targets.py`` the last commit (or, with ``--working-tree``,
the files as they are now) is copied to ``build/mutate/<target>/`` (git-ignored), a
``[tool.mutmut]`` section naming the target's modules and tests is added to the copy's
pyproject.toml, and mutmut runs there: niced, with at most two forked workers, on SQLite. The
shared working tree is never mutated, so the other engineers' runs are not disturbed. Then it
prints each module's score and its survivors (with their diffs under ``--diffs``), and writes
the same to ``build/mutate/report.txt``.

    .venv/bin/python -m tests.mutate                  # every target
    .venv/bin/python -m tests.mutate etag idempotency # some
    .venv/bin/python -m tests.mutate --report-only    # print the last run's results again
    .venv/bin/python -m tests.mutate --postgres "$TEST_DATABASE_URL" outbox db  # on PostgreSQL
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.mutation_targets import Target

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "mutate"
BIN = Path(sys.executable).parent
MUTATED_PACKAGES = ("services", "gateway")
# A mutant is killed when a test failed or the tests ran past the time limit (a mutant that
# loops forever is caught). "no tests": no selected test reaches the function: not killed.
KILLED = {"killed", "timeout", "caught by type check"}
COUNTED = KILLED | {"survived", "no tests", "suspicious", "segfault"}


@dataclass
class ModuleScore:
    module: str
    statuses: Counter[str] = field(default_factory=Counter)
    survivors: list[str] = field(default_factory=list)

    @property
    def counted(self) -> int:
        return sum(n for status, n in self.statuses.items() if status in COUNTED)

    @property
    def killed(self) -> int:
        return sum(n for status, n in self.statuses.items() if status in KILLED)

    def line(self, sampled: bool) -> str:
        score = f"{100 * self.killed / self.counted:.0f}%" if self.counted else "-"
        sample = " (sampled)" if sampled else ""
        others = ", ".join(
            f"{n} {s}" for s, n in sorted(self.statuses.items()) if s not in KILLED | {"survived"}
        )
        return f"{self.module}: {self.killed}/{self.counted} killed = {score}{sample}" + (
            f"; {others}" if others else ""
        )


def slug(target: Target) -> str:
    return re.sub(r"[^a-z0-9]+", "-", target.name.lower())


def copy_tree(workdir: Path, working_tree: bool) -> None:
    """The last commit (so a figure belongs to one), or with ``working_tree`` the files as they
    are now, new ones not ignored included; the ignored build output and venv never."""
    if not working_tree:
        archive = subprocess.run(
            ["git", "archive", "HEAD"], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(workdir)], input=archive, check=True)
        return
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        source = ROOT / raw.decode()
        if not source.is_file():
            continue  # deleted in the working tree
        destination = workdir / raw.decode()
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)


def toml_list(values: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(_toml_string(v) for v in values) + "]"


def _toml_string(value: str) -> str:
    return "'" + value + "'" if "'" not in value else '"' + value.replace("\\", "\\\\") + '"'


def write_config(workdir: Path, target: Target) -> None:
    also_copy = sorted(
        entry.name
        for entry in workdir.iterdir()
        if entry.name not in (*MUTATED_PACKAGES, "pyproject.toml", "mutants")
    )
    tests = [t for t in target.tests if (workdir / t).exists()]
    section = f"""

[tool.mutmut]
source_paths = {toml_list(MUTATED_PACKAGES)}
only_mutate = {toml_list(target.modules)}
also_copy = {toml_list(also_copy)}
pytest_add_cli_args = ['-p', 'no:cacheprovider', '-p', 'no:xdist', '-q']
pytest_add_cli_args_test_selection = {toml_list(tests)}
do_not_mutate_patterns = {toml_list([e.pattern for e in target.equivalents])}
use_git_change_detection = false
"""
    pyproject = workdir / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + section)


def workdir_of(target: Target, postgres: str | None) -> Path:
    return OUT / (slug(target) + ("-postgresql" if postgres else ""))


def environment(postgres: str | None = None) -> dict[str, str]:
    """SQLite unless a PostgreSQL URL is given: then the tests' PostgreSQL pass, whose own
    tests (concurrent writers, the advisory lock, search_path) reach what SQLite cannot."""
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "DATABASE_URL")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    if postgres:
        env["TEST_DATABASE_URL"] = postgres
    return env


def run_target(target: Target, workers: int, working_tree: bool, postgres: str | None) -> int:
    workdir = workdir_of(target, postgres)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    copy_tree(workdir, working_tree)
    write_config(workdir, target)
    command = [
        "nice",
        "-n",
        "10",
        str(BIN / "mutmut"),
        "run",
        "--max-children",
        str(workers),
        *target.sample,
    ]
    print(f"== {target.name}: {' '.join(target.modules)} (log: {workdir / 'run.log'})", flush=True)
    with (workdir / "run.log").open("w") as log:
        done = subprocess.run(
            command, cwd=workdir, env=environment(postgres), stdout=log, stderr=log
        )
    if done.returncode != 0:
        print(f"   mutmut exited {done.returncode}; see the log", flush=True)
    return done.returncode


def scores(target: Target, postgres: str | None) -> list[ModuleScore]:
    workdir = workdir_of(target, postgres)
    if not (workdir / "mutants").is_dir():
        return []
    listed = subprocess.run(
        [str(BIN / "mutmut"), "results", "--all", "true"],
        cwd=workdir,
        env=environment(),
        capture_output=True,
        text=True,
    ).stdout
    by_module: dict[str, ModuleScore] = {}
    for line in listed.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if "__mutmut_" not in name:
            continue
        module = re.split(r"\.x[_ǁ]", name, maxsplit=1)[0]
        score = by_module.setdefault(module, ModuleScore(module))
        score.statuses[status] += 1
        if status not in KILLED and status in COUNTED:
            score.survivors.append(name)
    return sorted(by_module.values(), key=lambda s: s.module)


def diff(target: Target, mutant: str, postgres: str | None) -> str:
    return subprocess.run(
        [str(BIN / "mutmut"), "show", mutant],
        cwd=workdir_of(target, postgres),
        env=environment(),
        capture_output=True,
        text=True,
    ).stdout


def report(targets: list[Target], diffs: bool, postgres: str | None) -> str:
    lines: list[str] = []
    for target in targets:
        for score in scores(target, postgres):
            lines.append(score.line(bool(target.sample)) + (" [PostgreSQL]" if postgres else ""))
            for survivor in score.survivors:
                lines.append(f"    survived: {survivor}")
                if diffs:
                    shown = diff(target, survivor, postgres)
                    lines.extend("        " + d for d in shown.splitlines())
        for equivalent in target.equivalents:
            lines.append(f"    equivalent /{equivalent.pattern}/: {equivalent.reason}")
    return "\n".join(lines)


def all_targets() -> tuple[Target, ...]:
    """The targets of ``tests/mutation_targets.py`` and of its siblings
    ``tests/mutation_targets_<area>.py``: an area adds its targets without editing one list."""
    modules = ["tests.mutation_targets"]
    modules += [f"tests.{p.stem}" for p in sorted(ROOT.glob("tests/mutation_targets_*.py"))]
    return tuple(t for name in modules for t in importlib.import_module(name).TARGETS)


def main() -> int:
    targets_known = all_targets()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("targets", nargs="*", help="target names (default: all)")
    parser.add_argument("--workers", type=int, default=2, help="forked test workers (max 2)")
    parser.add_argument("--report-only", action="store_true", help="print the last results")
    parser.add_argument("--diffs", action="store_true", help="show each survivor's diff")
    parser.add_argument(
        "--working-tree", action="store_true", help="mutate uncommitted files too (not HEAD)"
    )
    parser.add_argument(
        "--postgres", metavar="URL", help="run the tests on PostgreSQL (TEST_DATABASE_URL)"
    )
    args = parser.parse_args()
    known = {t.name: t for t in targets_known} | {slug(t): t for t in targets_known}
    unknown = [name for name in args.targets if name not in known]
    if unknown:
        parser.error(f"unknown targets {unknown}; known: {[slug(t) for t in targets_known]}")
    targets = [known[name] for name in args.targets] or list(targets_known)
    if not args.report_only:
        for target in targets:
            run_target(target, min(max(args.workers, 1), 2), args.working_tree, args.postgres)
    text = report(targets, args.diffs, args.postgres)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / ("report-postgresql.txt" if args.postgres else "report.txt")).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
