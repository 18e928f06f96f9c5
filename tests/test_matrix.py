"""The comparison matrix: built from reports only, worst target first, folded, escaped, and rendered by a real browser."""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser

import pytest

from conformance import matrix
from conformance.report import validate_report

HOSTILE = "<script>alert(1)</script> see https://evil.invalid/x?a=1&b=<b>"
PROFILE_NAMES = ("claude-code", "anthropic-python-1")


def result(check_id: str, verdict: str, compat: str | None = None, message: str = "", reason: str = "") -> dict:
    return {"id": check_id, "area": check_id.split("/")[0], "verdict": verdict, "compat_verdict": compat or verdict,
            "rule": "RULE-" + check_id.split("/")[0].upper(), "tier": "free",
            "message": message or f"{verdict.upper()} {check_id}", "reason": reason, "findings": [], "evidence": []}


def report(base_url: str, results: list[dict], profiles: dict[str, tuple[str, list[str]]], **extra) -> dict:
    def summary(key: str) -> dict[str, int]:
        counts = {v: sum(r[key] == v for r in results) for v in matrix.VERDICTS}
        return {**counts, "total": len(results)}

    out = {
        "schema_version": "1.0",
        "tool": {"name": "anthropic-conformance", "version": "0.1.0", "sdk_version": "2.12.0"},
        "target": {"base_url": base_url, "model": "m-1", "anthropic_version": "2023-06-01", "embedded": False},
        "selection": {"keyword": None, "expensive": False, "level": "strict"},
        "results": results,
        "summary": summary("verdict"),
        "compat_summary": summary("compat_verdict"),
        "tokens": {"requested": 10, "used": 5},
        "profiles": {name: {"status": status, "description": f"{name} client",
                            "failing": ids if status == "not-ready" else [],
                            "limiting": ids if status == "limited" else [], "not_run": []}
                     for name, (status, ids) in profiles.items()},
    }
    out.update(extra)
    return out


COMMON_PASS = ["tools/forced-call", "tools/round-trip", "models/list"]


def three_reports() -> dict[str, dict]:
    good = report("https://good.invalid", [
        result("auth/x-api-key", "pass"), result("auth/bearer", "pass"), result("message/id", "pass"),
        result("streaming/message-stop-last", "pass"), result("thinking/signature", "pass"),
        *(result(i, "pass") for i in COMMON_PASS)],
        {n: ("ready", []) for n in PROFILE_NAMES}, generated_at="2025-01-02T03:04:05Z")
    meh = report("https://meh.invalid", [
        result("auth/x-api-key", "pass"), result("auth/bearer", "pass"),
        result("message/id", "warn", message="WARN message/id: id without msg_"),
        result("streaming/message-stop-last", "skipped", reason="expensive: not enabled"),
        *(result(i, "pass") for i in COMMON_PASS)],
        {"claude-code": ("limited", ["message/id"]), "anthropic-python-1": ("ready", [])})
    bad = report("https://bad.invalid", [
        result("auth/x-api-key", "fail", message=HOSTILE), result("auth/bearer", "pass"),
        result("message/id", "fail", "warn", message="FAIL message/id: id is 'abc'"),
        result("streaming/message-stop-last", "error", message="ERROR streaming/message-stop-last: timed out"),
        *(result(i, "pass") for i in COMMON_PASS)],
        {"claude-code": ("not-ready", ["auth/x-api-key"]), "anthropic-python-1": ("not-ready", ["auth/x-api-key"])})
    return {"good": good, "meh": meh, "bad <img src=x onerror=alert(2)>": bad}


BAD = "bad <img src=x onerror=alert(2)>"


def all_strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*all_strings(k), *all_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in all_strings(v)]
    return []


class Details(HTMLParser):
    """Every <details> of a page: its attributes and its text (the parser unescapes it)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict] = []
        self.depth = 0
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts += 1
        if tag == "details":
            self.found.append({"attrs": dict(attrs), "text": ""})
            self.depth += 1

    def handle_endtag(self, tag):
        if tag == "details":
            self.depth -= 1

    def handle_data(self, data):
        if self.depth and self.found:
            self.found[-1]["text"] += data


def parse_details(page: str) -> Details:
    parser = Details()
    parser.feed(page)
    return parser


def failures(page: str) -> list[dict]:
    return [d for d in parse_details(page).found if "failure" in d["attrs"].get("class", "").split()]


def test_the_synthetic_reports_are_valid_against_the_report_schema():
    for rep in three_reports().values():
        assert validate_report(rep) == []


def test_targets_are_ordered_worst_to_best():
    built = matrix.build(three_reports())
    assert [t.name for t in built.targets] == [BAD, "meh", "good"]
    assert [t.totals.failing() for t in built.targets] == [3, 0, 0]


def test_rows_are_the_union_of_check_ids_grouped_by_area_and_a_missing_check_is_not_run():
    built = matrix.build(three_reports())
    assert [a.name for a in built.areas] == ["auth", "message", "models", "streaming", "thinking", "tools"]
    assert [r.check_id for r in built.areas[0].rows] == ["auth/bearer", "auth/x-api-key"]
    assert [c.verdict for c in built.row("thinking/signature").cells] == ["not run", "not run", "pass"]
    assert [(c.verdict, c.compat_verdict) for c in built.row("message/id").cells] == [
        ("fail", "warn"), ("warn", "warn"), ("pass", "pass")]


def test_the_client_readiness_profiles_are_the_top_rows_of_every_view():
    built = matrix.build(three_reports())
    assert [p.name for p in built.profiles] == list(PROFILE_NAMES)
    # the middle report is an old one that says `limited`: read as today's `degraded`
    assert [c.status for c in built.profiles[0].cells] == ["not-ready", "degraded", "ready"]
    terminal = matrix.render_terminal(built).splitlines()
    first_profile = next(i for i, line in enumerate(terminal) if line.startswith("profile claude-code"))
    first_check = next(i for i, line in enumerate(terminal) if line.startswith("auth/"))
    first_total = next(i for i, line in enumerate(terminal) if line.startswith("total "))
    assert first_profile < first_check < first_total
    assert "NOT-READY" in terminal[first_profile] and terminal[first_profile].rstrip().endswith("READY")
    markdown = matrix.render_markdown(built)
    assert markdown.index("### Client readiness") < markdown.index("### Totals") < markdown.index("#### auth")
    page = matrix.render_html(built)
    assert page.index("Client readiness") < page.index("<h2>Totals") < page.index("<h3>auth")


def test_rows_where_every_target_agrees_and_none_fails_are_folded():
    built = matrix.build(three_reports())
    assert all(r.folded for r in built.areas[built.areas.index(next(a for a in built.areas if a.name == "tools"))].rows)
    assert built.row("auth/bearer").folded and not built.row("auth/x-api-key").folded
    assert not built.row("thinking/signature").folded  # targets differ: run on one, not run on two
    everyone_fails = matrix.build({name: report("https://x.invalid", [result("auth/x-api-key", "fail")], {})
                                   for name in ("a", "b")})
    assert everyone_fails.row("auth/x-api-key").agree and not everyone_fails.row("auth/x-api-key").folded
    page = matrix.render_html(built)
    folds = [d for d in parse_details(page).found if d["attrs"].get("class") == "fold"]
    assert [d["text"].split(")")[0] + ")" for d in folds] == [
        "1 row where all targets agree (1 pass)", "1 row where all targets agree (1 pass)",
        "2 rows where all targets agree (2 pass)"]


def test_the_terminal_table_has_short_verdict_cells_and_fits_the_width():
    built = matrix.build(three_reports())
    text = matrix.render_terminal(built)
    assert re.search(r"^auth/x-api-key +FAIL +PASS +PASS$", text, re.M)
    assert re.search(r"^message/id +FAIL/WARN +WARN +PASS$", text, re.M)
    assert re.search(r"^streaming/message-stop-last +ERR +SKIP +PASS$", text, re.M)
    assert re.search(r"^thinking/signature +- +- +PASS$", text, re.M)
    assert re.search(r"^total fail +2/1 +0 +0$", text, re.M)
    narrow = matrix.render_terminal(built, width=60).splitlines()
    table = [line for line in narrow if re.match(r"^(profile |total |[a-z]+/)", line)]
    assert len(table) == 2 + 8 + 7 and all(len(line) <= 60 for line in table)
    assert re.search(r"^streaming/message-st\S*~ ERR ", "\n".join(table), re.M)
    folded = matrix.render_terminal(built, fold=True)
    assert "tools/forced-call" not in folded and "(tools: 2 rows where all targets agree folded: 2 pass)" in folded
    assert "(models: 1 row where all targets agree folded: 1 pass)" in folded


def test_the_terminal_table_prints_no_control_characters_from_a_report():
    reports = three_reports()
    reports["\x1b[2J\x1b[31mred"] = reports.pop("good")
    text = matrix.render_terminal(matrix.build(reports))
    assert "\x1b" not in text and "?[2J?[31mred" in text


def test_the_markdown_has_a_profiles_table_a_totals_table_and_per_area_tables_of_rows_that_differ_or_fail():
    text = matrix.render_markdown(matrix.build(three_reports()))
    headings = re.findall(r"^#+ .*$", text, re.M)
    assert headings == ["## Conformance matrix", "### Failures (3)", "### Client readiness", "### Totals",
                        "### Checks where targets differ or fail", "#### auth", "#### message", "#### streaming",
                        "#### thinking"]
    tables = re.findall(r"((?:^\|.*\|\n)+)", text, re.M)
    assert len(tables) == 7  # targets, profiles, totals, auth, message, streaming, thinking
    for table in tables:
        rows = table.splitlines()
        assert re.fullmatch(r"\|(---\|)+", rows[1])
        assert len({len(re.findall(r"(?<!\\)\|", row)) for row in rows}) == 1, table
    assert "| auth/x\\-api\\-key |" not in text and "| auth/x-api-key | **FAIL** | pass | pass |" in text
    assert "| message/id | **FAIL** (compat *warn*) | *warn* | pass |" in text
    assert "| streaming/message-stop-last | **ERROR** | skipped | pass |" in text
    assert "| thinking/signature | not run | not run | pass |" in text
    assert "auth/bearer" not in text.split("#### auth")[1]  # every target passes it: folded
    assert "1 row where all targets agree folded (1 pass)." in text
    assert "**models**: all targets agree on its 1 row, folded (1 pass)." in text
    assert "**tools**: all targets agree on its 2 rows, folded (2 pass)." in text
    assert "4 of 8 rows folded" in text
    assert not any(0x2600 <= ord(ch) <= 0x27BF or ord(ch) >= 0x1F000 for ch in text)  # no emoji


def test_the_markdown_lists_each_failure_with_its_check_id_expected_and_got_in_one_line():
    reports = three_reports()
    bad = reports[BAD]["results"][0]
    bad["findings"] = [{"verdict": "fail", "compat_verdict": "fail", "rule": "R", "expected": "401 authentication_error",
                        "got": "200 | accepted", "where": "$"}]
    text = matrix.render_markdown(matrix.build(reports))
    lines = text.split("### Failures (3)")[1].split("###")[0].strip().splitlines()
    assert lines[0] == "- **FAIL** `auth/x-api-key` on [1]: expected 401 authentication\\_error; got 200 \\| accepted"
    assert any(line.startswith("- **ERROR** `streaming/message-stop-last` on [1]: ") for line in lines)
    single = matrix.render_markdown(matrix.build({BAD: reports[BAD]}))
    assert single.startswith("## Conformance report\n") and "worst first" not in single
    assert "- **FAIL** `auth/x-api-key`: expected 401" in single


def test_the_markdown_escapes_report_strings():
    text = matrix.render_markdown(matrix.build(three_reports()))
    assert "<img" not in text and "&lt;img src=x onerror=alert(2)&gt;" in text
    reports = {"a|b*c": report("https://x.invalid", [result("auth/x-api-key", "fail")], {})}
    assert "a\\|b\\*c" in matrix.render_markdown(matrix.build(reports))


def test_the_html_escapes_a_hostile_message_and_a_hostile_target_name():
    page = matrix.render_html(matrix.build(three_reports()))
    assert "<script>alert(1)</script>" not in page
    assert html.escape(HOSTILE) in page
    assert "<img src=x" not in page and "bad &lt;img src=x onerror=alert(2)&gt;" in page
    assert parse_details(page).scripts == 1  # the page's own script only


def test_the_html_fetches_nothing_and_mentions_no_url_outside_escaped_report_text():
    reports = three_reports()
    page = matrix.render_html(matrix.build(reports))
    assert "https://good.invalid" in page and html.escape(HOSTILE) in page
    rest = page
    for text in sorted({s for s in all_strings(reports) if "://" in s or "=" in s}, key=len, reverse=True):
        rest = rest.replace(html.escape(text), "")
    assert "http://" not in rest and "https://" not in rest
    assert not re.search(r"""\b(src|srcset|href|action|poster|data|background)\s*=\s*(?!["']?#)""", rest)
    assert "url(" not in rest and "@import" not in rest and "<link" not in rest and "<img" not in rest
    assert "default-src 'none'" in page
    assert re.search(r"<style>.+</style>", page, re.S) and re.search(r"<script>.+</script>", page, re.S)


def test_each_failure_in_the_html_is_one_click_away_with_its_message():
    page = matrix.render_html(matrix.build(three_reports()))
    found = failures(page)
    assert len(found) == 3 and not any("open" in d["attrs"] for d in found)
    assert found[0]["text"].startswith("FAIL") and HOSTILE in found[0]["text"]
    assert "compat warn" in found[1]["text"] and "id is 'abc'" in found[1]["text"]
    assert "timed out" in found[2]["text"]
    assert 'class="v-fail"' in page and 'class="v-error"' in page and 'class="v-warn"' in page


def test_a_known_deviation_and_an_extra_summary_count_are_shown():
    reports = three_reports()
    bad = reports[BAD]
    bad["results"][0]["deviation"] = {"reason": "tracked upstream", "link": "https://tracker.invalid/1",
                                      "status": "expected-failure"}
    bad["summary"]["expected_failures"] = bad["compat_summary"]["expected_failures"] = 1
    assert validate_report(bad) == []
    built = matrix.build(reports)
    assert built.total_keys == (*matrix.VERDICTS, "expected_failures", "total")
    assert "| auth/x-api-key | **FAIL** (known deviation) | pass | pass |" in matrix.render_markdown(built)
    assert re.search(r"^total expected_failures +1 +0 +0$", matrix.render_terminal(built), re.M)
    first = failures(matrix.render_html(built))[0]
    assert "known deviation" in first["text"] and "tracked upstream" in first["text"]


def test_the_html_shows_each_reports_tool_version_and_date():
    page = matrix.render_html(matrix.build(three_reports()))
    assert "2025-01-02T03:04:05Z" in page and page.count("<td>0.1.0</td>") == 3


def test_load_reports_names_each_report_by_its_base_url_or_its_file_stem(tmp_path):
    reports = three_reports()
    embedded = report("http://127.0.0.1:1", [result("auth/x-api-key", "pass")], {})
    embedded["target"]["embedded"] = True
    paths = []
    for name, rep in (("good", reports["good"]), ("again", reports["good"]), ("local", embedded)):
        (tmp_path / f"{name}.json").write_text(json.dumps(rep))
        paths.append(str(tmp_path / f"{name}.json"))
    assert list(matrix.load_reports(paths)) == ["https://good.invalid", "https://good.invalid (again)", "local"]


def test_load_reports_refuses_a_file_that_is_not_a_report(tmp_path):
    (tmp_path / "x.json").write_text('{"results": "no"}')
    with pytest.raises(ValueError, match="x.json is not an anthropic-conformance report"):
        matrix.load_reports([str(tmp_path / "x.json")])
    (tmp_path / "y.json").write_text("not json")
    with pytest.raises(ValueError, match="y.json is not JSON"):
        matrix.load_reports([str(tmp_path / "y.json")])


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
                  "--disable-default-apps", "--mute-audio"]


def chromium() -> str:
    path = shutil.which("chromium")  # Debian's package
    if not path:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


def png_pixels_vary(data: bytes) -> bool:
    pos, idat = 8, b""
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    return len(set(zlib.decompress(idat))) > 16


def test_a_real_browser_renders_the_page_and_opens_the_first_failure(tmp_path):
    browser = chromium()
    page = tmp_path / "matrix.html"
    page.write_text(matrix.render_html(matrix.build(three_reports())), encoding="utf-8")
    url = page.as_uri()

    dom = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile-dom'}", "--dump-dom",
                          url + "#open-first-failure"], capture_output=True, text=True, timeout=60)
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = failures(dom.stdout)
    assert len(found) == 3, dom.stdout[:2000]
    assert "open" in found[0]["attrs"] and HOSTILE in found[0]["text"]  # opened by the page's script, shown as text
    assert not any("open" in d["attrs"] for d in found[1:])
    assert parse_details(dom.stdout).scripts == 1 and "<script>alert(1)" not in dom.stdout

    shot = tmp_path / "matrix.png"
    proc = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile-shot'}",
                           f"--screenshot={shot}", "--window-size=1280,900", "--hide-scrollbars", url],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (1280, 900)
    assert len(data) > 10_000 and png_pixels_vary(data)
