"""Installing the real clients into throwaway folders, cached by exact version; running their processes, bounded.

Nothing is installed globally: each Python SDK gets its own virtualenv, each npm package its own folder, under
`<cache>/<client>-<version>/`, marked complete only after the install and a version check succeed, so a re-run
with the same versions installs nothing. The newest version is asked of the registry once per client and run
(`pip index versions`, `npm view`); when the registry does not answer, the newest complete cached install is used.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON_PROBE = HERE / "python_sdk_probe.py"
TS_PROBE = HERE / "ts_sdk_probe.mjs"
INSTALL_TIMEOUT = 300.0
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "anthropic-conformance-clients"
CLAUDE_CODE_QUIET = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
}
COMPLETE = ".complete"


class ProcessTimeout(Exception):
    """A subprocess outlived its timeout; it and its process group were killed."""


class InstallError(Exception):
    """A client could not be installed or does not run; the message says why in one line."""


@dataclass
class Completed:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def run_process(args: list, *, timeout: float, env: dict[str, str], cwd: Path | None = None) -> Completed:
    """Run `args` in its own process group; on timeout kill that group (the child's children too) and raise."""
    started = time.monotonic()
    process = subprocess.Popen(
        [str(arg) for arg in args], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace", start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.communicate()
        raise ProcessTimeout(f"{Path(str(args[0])).name} did not finish within {timeout:.0f} s") from None
    finally:
        try:  # grandchildren left behind by a client that exited (a spawned shell, a language server)
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return Completed([str(arg) for arg in args], process.returncode, stdout, stderr, time.monotonic() - started)


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def failure_summary(text: str, limit: int = 4) -> str:
    """The lines of an install's output that say what went wrong (pip's ERROR lines, npm's code and message)."""
    lines = [re.sub(r"^npm (error|ERR!)\s*", "", line).strip() for line in text.splitlines()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    noise = ("at ", "{", "}", "A complete log", "If you are behind a proxy", "WARNING:")
    useful = errors or [line for line in lines if line and not line.startswith(noise) and not line.endswith(",")]
    return " | ".join(useful[:limit]) or "(no output)"


def install_env() -> dict[str, str]:
    """The caller's environment (registry settings live there and in HOME) without Anthropic credentials."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANTHROPIC_", "CLAUDE"))}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", npm_config_update_notifier="false",
               npm_config_fund="false", npm_config_audit="false")
    return env


def client_env(home: Path, **extra: str) -> dict[str, str]:
    """A minimal environment for running a client: PATH, locale, a throwaway HOME, and `extra`."""
    home.mkdir(parents=True, exist_ok=True)
    env = {key: os.environ[key] for key in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR") if key in os.environ}
    env.setdefault("LANG", "C.UTF-8")
    env["HOME"] = str(home)
    env.update(extra)
    return env


def step(what: str, args: list, cwd: Path | None = None, timeout: float = INSTALL_TIMEOUT) -> Completed:
    """Run an install step; any failure (missing tool, no network, refusal, timeout) raises InstallError."""
    try:
        done = run_process(args, timeout=timeout, env=install_env(), cwd=cwd)
    except ProcessTimeout as error:
        raise InstallError(f"{what}: {error}") from None
    except OSError as error:
        raise InstallError(f"{what}: {Path(str(args[0])).name}: {error.strerror or error}") from None
    if done.returncode != 0:
        raise InstallError(f"{what} (exit {done.returncode}): {failure_summary(done.stderr + chr(10) + done.stdout)}")
    return done


# ---------------------------------------------------------------------------------------------------------------
# Versions


def _version_key(version: str) -> tuple:
    return tuple(int(part) if part.isdigit() else -1 for part in re.split(r"[.+-]", version))


def newest(versions: list[str], major: int | None = None) -> str | None:
    """The highest plain release (no rc/beta) of `versions`, within `major` when given."""
    plain = [v for v in versions if re.fullmatch(r"\d+\.\d+\.\d+", v) and (major is None or v.split(".")[0] == str(major))]
    return max(plain, key=_version_key) if plain else None


def pypi_versions(package: str) -> list[str]:
    done = step(f"pip index versions {package}", [sys.executable, "-m", "pip", "index", "versions", package], timeout=90)
    match = re.search(r"Available versions:\s*(.+)", done.stdout)
    return [v.strip() for v in match.group(1).split(",")] if match else []


def npm_versions(package: str) -> list[str]:
    npm = shutil.which("npm")
    if npm is None:
        raise InstallError(f"{package}: npm is not on PATH")
    done = step(f"npm view {package} versions", [npm, "view", package, "versions", "--json"], timeout=90)
    value = json.loads(done.stdout or "[]")
    return value if isinstance(value, list) else [value]


def _cached(cache: Path, prefix: str) -> str | None:
    found = [p.name[len(prefix):] for p in cache.glob(prefix + "*") if (p / COMPLETE).exists()]
    return newest(found)


def resolve(cache: Path, prefix: str, lookup, major: int | None) -> str:
    """The version to install: the registry's newest (within `major`), else the newest cached."""
    try:
        version = newest(lookup(), major)
    except (InstallError, ValueError):
        version = None
    version = version or _cached(cache, prefix)
    if not version:
        raise InstallError(f"no {prefix.rstrip('-')} version{f' {major}.x' if major else ''} found in the registry "
                           "or the cache")
    return version


# ---------------------------------------------------------------------------------------------------------------
# Installed clients


@dataclass(frozen=True)
class Client:
    """One installed client: how to run it (`command` + arguments) and its exact version."""

    name: str
    label: str
    version: str
    command: tuple[str, ...]
    extra: dict = field(default_factory=dict, compare=False)


def install_python_sdk(cache: Path, major: int, version: str | None = None) -> Client:
    version = version or resolve(cache, "python-anthropic-", lambda: pypi_versions("anthropic"), major)
    folder = cache / f"python-anthropic-{version}"
    python = folder / "venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not (folder / COMPLETE).exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        step(f"a virtualenv for anthropic {version}", [sys.executable, "-m", "venv", folder / "venv"])
        step(f"the Python SDK anthropic {version}", [python, "-m", "pip", "install", "--quiet", f"anthropic=={version}"])
    done = step(f"the Python SDK anthropic {version}", [python, "-c", "import anthropic; print(anthropic.__version__)"])
    found = done.stdout.strip()
    (folder / COMPLETE).write_text(found + "\n")
    return Client(f"python-sdk-{major}", f"Python SDK {major}.x (anthropic)", found, (str(python), str(PYTHON_PROBE)))


def npm_install(folder: Path, spec: str) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise InstallError(f"{spec}: npm is not on PATH")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "package.json").write_text(json.dumps({"name": folder.name.lower(), "private": True}) + "\n")
    step(spec, [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", spec], cwd=folder)


def installed_version(folder: Path, package: str) -> str:
    try:
        return str(json.loads((folder / "node_modules" / package / "package.json").read_text("utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        raise InstallError(f"npm reported success but {package} is not in node_modules") from None


def install_typescript_sdk(cache: Path, version: str | None = None) -> Client:
    node = shutil.which("node")
    if node is None:
        raise InstallError("the TypeScript SDK cannot run: node is not on PATH")
    package = "@anthropic-ai/sdk"
    lookup = lambda: npm_versions(package)  # noqa: E731
    try:  # a 1.x release when the registry has one, else the newest
        version = version or resolve(cache, "npm-anthropic-sdk-", lookup, 1)
    except InstallError:
        version = resolve(cache, "npm-anthropic-sdk-", lookup, None)
    folder = cache / f"npm-anthropic-sdk-{version}"
    if not (folder / COMPLETE).exists():
        npm_install(folder, f"{package}@{version}")
    shutil.copyfile(TS_PROBE, folder / TS_PROBE.name)  # so that its import resolves to this node_modules
    found = installed_version(folder, package)
    (folder / COMPLETE).write_text(found + "\n")
    return Client("typescript-sdk", "TypeScript SDK (@anthropic-ai/sdk)", found, (node, str(folder / TS_PROBE.name)))


def install_claude_code(cache: Path, version: str | None = None) -> Client:
    package = "@anthropic-ai/claude-code"
    version = version or resolve(cache, "npm-claude-code-", lambda: npm_versions(package), None)
    folder = cache / f"npm-claude-code-{version}"
    if not (folder / COMPLETE).exists():
        npm_install(folder, f"{package}@{version}")
    root = folder / "node_modules" / "@anthropic-ai" / "claude-code"
    candidates = [(str(folder / "node_modules" / ".bin" / "claude"),)]
    if (root / "cli-wrapper.cjs").exists() and shutil.which("node"):  # the package's fallback launcher
        candidates.append((shutil.which("node"), str(root / "cli-wrapper.cjs")))
    problems = []
    for command in candidates:
        try:
            done = run_process([*command, "--version"], timeout=120,
                               env=client_env(folder / "home", **CLAUDE_CODE_QUIET))
        except (ProcessTimeout, OSError) as error:
            problems.append(str(error))
            continue
        if done.returncode == 0 and done.stdout.strip():
            found = done.stdout.strip().split()[0]
            (folder / COMPLETE).write_text(found + "\n")
            return Client("claude-code", "Claude Code (@anthropic-ai/claude-code)", found, command)
        problems.append(f"exit {done.returncode}: {tail(done.stderr or done.stdout, 3)}")
    raise InstallError(f"Claude Code {installed_version(folder, package)} was installed but does not run: "
                       f"{'; '.join(problems)}")


INSTALLERS = {
    "python-sdk-2": lambda cache: install_python_sdk(cache, 2),
    "python-sdk-1": lambda cache: install_python_sdk(cache, 1),
    "typescript-sdk": install_typescript_sdk,
    "claude-code": install_claude_code,
}
