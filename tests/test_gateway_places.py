"""Gateway mode from the other places a run is set up: a targets file's `upstream_port` (compare tests a gateway
from both sides next to other targets) and plain pytest's --conformance-upstream-port."""

from __future__ import annotations

import json
import socket

import pytest
from gateway_proxies import Proxy, Served

from conformance.targets import TargetsError, load_targets

pytest_plugins = ["pytester"]
KEY = "sk-test-gateway-places"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def compare(capsys, monkeypatch, tmp_path, body: str, *argv: str) -> tuple[int, str, str]:
    from conformance.cli import main

    monkeypatch.setenv("GW_KEY", KEY)
    (tmp_path / "targets.toml").write_text(body)
    code = main(["compare", str(tmp_path / "targets.toml"), "--reports", str(tmp_path / "reports"), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def verdicts(tmp_path, name: str) -> dict[str, dict]:
    report = json.loads((tmp_path / "reports" / f"{name}.json").read_text())
    return {r["id"]: r for r in report["results"]}


def test_a_targets_file_gateway_is_judged_from_both_sides_next_to_a_plain_target(capsys, monkeypatch, tmp_path):
    port = free_port()
    with Served(Proxy(f"http://127.0.0.1:{port}")) as gateway:
        code, out, err = compare(capsys, monkeypatch, tmp_path,
                                 f'[targets.gw]\nbase_url = "{gateway.base_url}"\napi_key_env = "GW_KEY"\n'
                                 f'upstream_port = {port}\nwait = 5\n\n[targets.ref]\n', "-k", "gateway")
    assert code == 0, out[-3000:] + err[-3000:]
    assert out.splitlines()[0] == f"http://127.0.0.1:{port}"  # the upstream's URL first, as the gateway command
    through = verdicts(tmp_path, "gw")
    assert {r["verdict"] for r in through.values()} == {"pass", "skipped"}
    assert sum(r["verdict"] == "pass" for r in through.values()) >= 20
    # the target without an upstream: every gateway check skipped, with the reason, never passed
    plain = verdicts(tmp_path, "ref")
    assert plain and all(r["verdict"] == "skipped" and "gateway mode only" in r["reason"] for r in plain.values())
    assert KEY not in out + err


def test_a_faulty_gateway_in_a_targets_file_fails_the_check_naming_its_fault(capsys, monkeypatch, tmp_path):
    port = free_port()
    with Served(Proxy(f"http://127.0.0.1:{port}", "strip-beta")) as gateway:
        code, out, err = compare(capsys, monkeypatch, tmp_path,
                                 f'[targets.gw]\nbase_url = "{gateway.base_url}"\napi_key_env = "GW_KEY"\n'
                                 f'upstream_port = {port}\n', "-k", "anthropic-beta-forwarded")
    assert code == 1, out[-3000:] + err[-3000:]
    assert verdicts(tmp_path, "gw")["gateway/anthropic-beta-forwarded"]["verdict"] == "fail"


def test_a_targets_file_gateway_that_never_answers_ends_in_one_sentence_and_exit_3(capsys, monkeypatch, tmp_path):
    code, _, err = compare(capsys, monkeypatch, tmp_path,
                           f'[targets.gw]\nbase_url = "http://127.0.0.1:{free_port()}"\napi_key_env = "GW_KEY"\n'
                           'upstream_port = 0\nwait = 1\n')
    assert code == 3 and err.count("error:") == 1 and "did not answer within 1 s" in err
    assert not list((tmp_path / "reports").glob("*.json"))  # nothing judged, no report


def test_a_targets_file_gateway_that_is_its_own_upstream_is_refused(capsys, monkeypatch, tmp_path):
    port = free_port()
    code, _, err = compare(capsys, monkeypatch, tmp_path,
                           f'[targets.gw]\nbase_url = "http://localhost:{port}"\napi_key_env = "GW_KEY"\n'
                           f'upstream_port = {port}\n')
    assert code == 2 and "[targets.gw] base_url http://localhost:" in err and "is the upstream itself" in err


def test_gateway_targets_run_in_one_process(capsys, monkeypatch, tmp_path):
    code, _, err = compare(capsys, monkeypatch, tmp_path,
                           '[targets.gw]\nbase_url = "http://127.0.0.1:9"\napi_key_env = "GW_KEY"\nupstream_port = 0\n',
                           "--workers", "2")
    assert code == 2 and "runs in one" in err


@pytest.mark.parametrize(("body", "message"), [
    ('[targets.a]\nbase_url = "http://127.0.0.1:1"\napi_key_env = "K"\nupstream_port = 9001\n\n'
     '[targets.b]\nbase_url = "http://127.0.0.1:2"\napi_key_env = "K"\nupstream_port = 9001\n',
     "upstream_port 9001 is given to more than one target"),
    ('[targets.a]\nupstream_port = 9001\n', "upstream_port"),  # a gateway needs its base_url
    ('[targets.a]\nbase_url = "http://127.0.0.1:1"\napi_key_env = "K"\nupstream_port = 70000\n', "upstream_port"),
    ('[targets.a]\nbase_url = "http://127.0.0.1:1"\napi_key_env = "K"\nwait = 5\n', "wait"),
])
def test_a_wrong_gateway_target_says_where(tmp_path, body, message):
    (tmp_path / "t.toml").write_text(body)
    with pytest.raises(TargetsError, match=message) as caught:
        load_targets(tmp_path / "t.toml", environ={"K": "k"})
    assert "[targets.a]" in str(caught.value) or "more than one" in str(caught.value)


def test_a_gateway_target_defaults_to_a_model_its_upstream_serves(tmp_path):
    (tmp_path / "t.toml").write_text('[targets.gw]\nbase_url = "http://127.0.0.1:1"\napi_key_env = "K"\n'
                                     'upstream_port = 0\n')
    (spec,) = load_targets(tmp_path / "t.toml", environ={"K": "k"})
    assert spec.upstream_port == 0 and spec.wait == 60 and spec.target.model == "reference-model"


def test_plain_pytest_runs_the_gateway_area_with_its_upstream_port(pytester: pytest.Pytester, monkeypatch):
    port = free_port()
    monkeypatch.setenv("ANTHROPIC_CONFORMANCE_API_KEY", KEY)
    report = pytester.path / "report.json"
    with Served(Proxy(f"http://127.0.0.1:{port}")) as gateway:
        result = pytester.runpytest_subprocess(
            "--pyargs", "conformance.suites", "-p", "no:cacheprovider", "--conformance-base-url", gateway.base_url,
            "--conformance-model", "reference-model", "--conformance-upstream-port", str(port),
            "--conformance-report", str(report), "-k", "gateway and forwarded")
    data = json.loads(report.read_text())
    assert data["summary"]["pass"] >= 10 and data["summary"].get("fail", 0) == 0, result.stdout.str()[-3000:]
    assert KEY not in result.stdout.str()
