"""Bad input through the real command line: one sentence on stderr, a documented exit code, no traceback, and a
reader that leaves a pipe early harms nothing. Loopback only; nothing here starts a run it does not mean to."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from conformance.data import load_json
from conformance.inputs import SCHEMA_FILE, check_targets, targets_schema

README = Path(__file__).resolve().parent.parent / "README.md"
CLI = [sys.executable, "-m", "conformance"]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    return {**env, **extra}


def cli(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=environment(**env))


def assert_one_sentence(proc: subprocess.CompletedProcess, code: int, says: str) -> None:
    """The exit code, one non-empty line on stderr that starts `error:` and says `says`, nothing on stdout."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    assert proc.returncode == code, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert says in lines[0], lines[0]
    assert proc.stdout == ""


@pytest.fixture
def silent_target():
    """A loopback port that listens and never accepts: a connection to it would wait in the backlog, to be seen."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)

        def connections() -> int:
            count = 0
            while True:
                try:
                    server.accept()[0].close()
                except BlockingIOError:
                    return count
                count += 1

        yield f"http://127.0.0.1:{server.getsockname()[1]}", connections


def targets_file(folder: Path, body: str) -> Path:
    path = folder / "targets.toml"
    path.write_text("[targets.a]\n" + body, encoding="utf-8")
    return path


# -- the targets file (compare) ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "says"), [
    ('base_url = 5\napi_key_env = "K"\n', "targets.toml: [targets.a] base_url must be a string, not 5"),
    ('base_url = "http://127.0.0.1:9"\napi_key_env = "K"\ntimeout = "abc"\n',
     'targets.toml: [targets.a] timeout must be a number, not "abc"'),
    ('timeout = 0\n', "[targets.a] timeout must be > 0, not 0"),
    ('max_failures = 1.5\n', "[targets.a] max_failures must be a whole number, not 1.5"),
    ('base_url = "localhost:8080"\napi_key_env = "K"\n',
     "[targets.a] base_url localhost:8080 has no scheme: write http://localhost:8080 or https://localhost:8080"),
    ('base_url = "http://[::1"\napi_key_env = "K"\n', "[targets.a] base_url is not a valid URL: invalid IPv6 URL"),
    ('headers = { x-team = 5 }\n', "[targets.a] headers.x-team must be a string, not 5"),
], ids=["base-url-a-number", "timeout-a-string", "timeout-0", "max-failures-not-whole", "url-without-scheme",
        "url-unparseable", "header-not-a-string"])
def test_a_wrong_targets_file_is_one_sentence_naming_the_file_the_key_and_why(tmp_path, body, says):
    path = targets_file(tmp_path, body)
    proc = cli("compare", str(path), K="k")
    assert_one_sentence(proc, 2, says)
    assert proc.stderr.startswith(f"error: {path}: [targets.a] ")


def test_the_published_targets_schema_is_the_one_built_from_the_limits_and_features_tables():
    published = load_json("schemas", SCHEMA_FILE)
    Draft202012Validator.check_schema(published)
    assert published == targets_schema(), "regenerate it: python -m conformance.inputs > schemas/targets.schema.json"


def test_the_readme_targets_file_is_valid_under_the_schema():
    import tomllib

    block = re.search(r"```toml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert block is not None
    check_targets(tomllib.loads(block.group(1)))


# -- run's options ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "says"), [
    (["--base-url", "http://[::1"], "error: --base-url is not a valid URL: invalid IPv6 URL"),
    (["--base-url", "localhost:8080"], "--base-url localhost:8080 has no scheme: write http://localhost:8080"),
    (["--base-url", "ftp://127.0.0.1"], "the scheme ftp:// is not http:// or https://"),
    (["--base-url", "http://127.0.0.1:99999"], "--base-url is not a valid URL: port out of range 0-65535"),
    (["--base-url", "http://127.0.0.1:9", "--timeout", "0"], "error: --timeout must be a number > 0"),
    (["--max-concurrency", "0"], "error: --max-concurrency must be a whole number >= 1"),
    (["--timeout", "abc"], "argument --timeout: invalid float value: 'abc'; see `anthropic-conformance run --help`."),
    (["-k", "((("], "error: -k '(((' is not a selection pytest can read"),
    (["--deviations", "."], "error: cannot read the deviations file .: Is a directory"),
], ids=["url-unparseable", "url-without-scheme", "url-not-http", "url-port-out-of-range", "timeout-0",
        "concurrency-0", "timeout-not-a-number", "keyword-unreadable", "deviations-a-folder"])
def test_a_bad_run_option_is_a_usage_error_in_one_sentence(args, says):
    assert_one_sentence(cli("run", "--api-key", "k", *args), 2, says)


@pytest.mark.parametrize(("args", "says"), [
    (["run", "--budget-tokens", "-1"], "argument --budget-tokens: a whole number >= 0 is needed, not -1"),
    (["compare", "t.toml", "-n", "-1"], "argument -n/--workers: a whole number >= 0 is needed, not -1"),
    (["selftest", "--workers", "0"], "argument --workers: a whole number >= 1 is needed, not 0"),
    (["selftest", "--only", "no-such-fault"], "--only: no fault or variant no-such-fault"),
    (["checks", "extra"], "unrecognized arguments: extra; see `anthropic-conformance --help`."),
], ids=["budget-negative", "compare-workers-negative", "selftest-workers-0", "selftest-unknown-fault", "extra-argument"])
def test_a_bad_number_or_name_elsewhere_is_a_usage_error_in_one_sentence(args, says):
    assert_one_sentence(cli(*args), 2, says)


def test_a_base_url_from_the_environment_is_named_as_the_environment_variable():
    proc = cli("run", ANTHROPIC_BASE_URL="localhost:8080", ANTHROPIC_API_KEY="k")
    assert_one_sentence(proc, 2, "$ANTHROPIC_BASE_URL localhost:8080 has no scheme")


def test_no_command_is_a_usage_error_in_one_sentence():
    assert_one_sentence(cli(), 2, "the following arguments are required: command; see `anthropic-conformance --help`")


def test_version_prints_the_installed_version():
    proc = cli("--version")
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout == f"anthropic-conformance {metadata.version('anthropic-conformance')}\n"


# -- outputs: checked before the run starts ---------------------------------------------------------------------------

def unwritable(tmp_path: Path, kind: str) -> tuple[str, str]:
    """A file in a folder that does not exist, or a folder under a file; and what the sentence says of it."""
    if kind == "file":
        return str(tmp_path / "no-such-folder" / "out"), f"the folder {tmp_path / 'no-such-folder'} does not exist"
    (tmp_path / "a-file").write_text("")
    return str(tmp_path / "a-file" / "sub"), "cannot be written: Not a directory"


@pytest.mark.parametrize(("option", "kind"), [
    ("--report", "file"), ("--junit", "file"), ("--markdown", "file"), ("--html", "file"),
    ("--save-transcripts", "folder"),
])
def test_run_checks_every_output_before_it_sends_anything(tmp_path, silent_target, option, kind):
    url, connections = silent_target
    path, says = unwritable(tmp_path, kind)
    started = time.monotonic()
    proc = cli("run", "--base-url", url, "--api-key", "k", option, path)
    assert_one_sentence(proc, 2, f"error: {option} {path} {'cannot be written: ' if kind == 'file' else ''}{says}")
    assert connections() == 0 and time.monotonic() - started < 10  # the run never started: nothing was sent


def test_run_refuses_an_unwritable_report_of_the_embedded_run_at_once():
    started = time.monotonic()
    proc = cli("run", "--report", "/nonexistent/dir/r.json")
    assert_one_sentence(proc, 2, "error: --report /nonexistent/dir/r.json cannot be written: the folder "
                                 "/nonexistent/dir does not exist")
    assert time.monotonic() - started < 10


def test_two_outputs_at_one_path_are_refused(tmp_path):
    proc = cli("run", "--report", str(tmp_path / "r"), "--junit", str(tmp_path / "r"))
    assert_one_sentence(proc, 2, f"--junit and --report name the same file {tmp_path / 'r'}")


@pytest.mark.parametrize(("option", "kind"), [("--markdown", "file"), ("--html", "file"), ("--reports", "folder")])
def test_compare_checks_every_output_before_it_sends_anything(tmp_path, silent_target, option, kind):
    url, connections = silent_target
    targets = targets_file(tmp_path, f'base_url = "{url}"\napi_key_env = "K"\n')
    path, says = unwritable(tmp_path, kind)
    proc = cli("compare", str(targets), "-n", "0", option, path, K="k")
    assert_one_sentence(proc, 2, says)
    assert connections() == 0


def test_report_checks_its_outputs(tmp_path):
    (tmp_path / "r.json").write_text(json.dumps({"not": "a report"}))
    proc = cli("report", str(tmp_path / "r.json"), "--html", str(tmp_path / "nope" / "m.html"))
    assert_one_sentence(proc, 2, f"--html {tmp_path / 'nope' / 'm.html'} cannot be written")


# -- serve -----------------------------------------------------------------------------------------------------------

def test_serve_on_a_port_out_of_range_is_a_usage_error():
    assert_one_sentence(cli("serve", "--port", "99999"), 2,
                        "argument --port: a port is a number from 0 to 65535 (0: a free one), not 99999")


def test_serve_on_a_port_in_use_says_so_with_a_hint():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        proc = cli("serve", "--port", str(port))
    assert_one_sentence(proc, 2, f"cannot listen on 127.0.0.1:{port}: Address already in use; pick another with "
                                 "--port (0: a free one).")


# -- a reader that leaves early (`| head`) ----------------------------------------------------------------------------

def read_then_leave(args: list[str], lines: int, cwd: Path | None = None) -> tuple[int, list[bytes], str]:
    """The CLI with stdout on a pipe of one page (so what does not fit must wait for the reader): read `lines` lines,
    then close the pipe as `| head -N` does. (exit code, lines read, stderr)."""
    fcntl = pytest.importorskip("fcntl")  # F_SETPIPE_SZ is Linux's
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)
    proc = subprocess.Popen([*CLI, *args], stdout=write_end, stderr=subprocess.PIPE, cwd=cwd, env=environment())
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        got = [reader.readline() for _ in range(lines)]
    _, stderr = proc.communicate(timeout=120)
    return proc.returncode, got, stderr.decode()


@pytest.mark.parametrize("args", [["checks"], ["serve", "--list-faults"]], ids=["checks", "list-faults"])
def test_a_listing_piped_into_head_ends_quietly_with_exit_0(args):
    code, got, stderr = read_then_leave(args, 1)
    assert code == 0 and stderr == "", stderr
    assert got[0].strip()


def test_a_run_whose_reader_left_still_writes_its_report_and_exits_as_it_would_have(tmp_path):
    code, _, stderr = read_then_leave(["run", "-k", "auth", "--report", "r.json", "--junit", "j.xml"], 0, cwd=tmp_path)
    assert code == 0 and stderr == "", stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["results"] and report["summary"]["fail"] == 0
    assert (tmp_path / "j.xml").read_text().startswith("<?xml")
