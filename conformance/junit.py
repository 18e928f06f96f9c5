"""The JUnit XML view of one JSON report: suite anthropic-conformance, one test case per check id, class = its area."""

from __future__ import annotations

import xml.etree.ElementTree as ET

SUITE = "anthropic-conformance"
MESSAGE_CHARS = 2000  # a failure's text in the file; the report keeps the whole of it


def _clip(text: str, limit: int = MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _xml_safe(text: str) -> str:
    """No characters XML 1.0 refuses (control characters from a target's bytes)."""
    return "".join(ch if ch in "\t\n\r" or ord(ch) >= 0x20 and ch not in "\ufffe\uffff" else "?" for ch in text)


def one_line(result: dict) -> str:
    """`expected X; got Y` of the first failing (else any) finding, or the first line of the message or reason."""
    findings = result.get("findings") or []
    verdict = result.get("verdict")
    finding = next((f for f in findings if f.get("verdict") == verdict), findings[0] if findings else None)
    if finding:
        where = f"{finding['where']}: " if finding.get("where") and finding["where"] != "$" else ""
        return f"{where}expected {finding.get('expected', '')}; got {finding.get('got', '')}"
    text = result.get("message") or result.get("reason") or verdict or ""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


def render_junit(report: dict) -> str:
    """JUnit XML for CI test tabs: verdicts at the run's level (fail -> failure, error -> error, skipped and
    unsupported -> skipped, a known deviation that still fails -> skipped with its reason). Only the failure's own
    text goes in: no captured output, so the file stays small."""
    level = (report.get("selection") or {}).get("level") or "strict"
    results = report.get("results") or []
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    suite = ET.Element("testsuite", name=SUITE)
    props = ET.SubElement(suite, "properties")
    target = report.get("target") or {}
    for name, value in (("base_url", target.get("base_url")), ("model", target.get("model")), ("level", level),
                        ("tool_version", (report.get("tool") or {}).get("version"))):
        if value:
            ET.SubElement(props, "property", name=name, value=_xml_safe(str(value)))
    for result in results:
        check_id = str(result.get("id", ""))
        verdict = str(result.get("compat_verdict") if level == "compat" else result.get("verdict"))
        duration = float(result.get("duration") or 0.0)
        total_time += duration
        case = ET.SubElement(suite, "testcase", classname=str(result.get("area") or check_id.split("/")[0]),
                             name=check_id, time=f"{duration:.3f}")
        counts["tests"] += 1
        deviation = result.get("deviation") or {}
        line = _xml_safe(_clip(one_line(result), 300))
        if deviation.get("status") == "expected-failure":
            ET.SubElement(case, "skipped", type="known-deviation",
                          message=_xml_safe(f"known deviation: {deviation.get('reason', '')}"))
            counts["skipped"] += 1
        elif deviation.get("status") == "unexpectedly-passing":
            failure = ET.SubElement(case, "failure", type="unexpectedly-passing",
                                    message=_xml_safe(f"listed as a known deviation ({deviation.get('reason', '')}) "
                                                      f"but it now {verdict}es; remove it from the deviations file"))
            failure.text = _xml_safe(_clip(str(result.get("message") or "")))
            counts["failures"] += 1
        elif verdict in ("fail", "error"):
            kind = "failure" if verdict == "fail" else "error"
            element = ET.SubElement(case, kind, type=verdict, message=line)
            element.text = _xml_safe(_clip(str(result.get("message") or line)))
            counts["failures" if verdict == "fail" else "errors"] += 1
        elif verdict in ("skipped", "unsupported"):
            ET.SubElement(case, "skipped", type=verdict, message=_xml_safe(str(result.get("reason") or verdict)))
            counts["skipped"] += 1
        elif verdict == "warn":
            ET.SubElement(case, "system-out").text = _xml_safe(f"warn: {line}")
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", f"{total_time:.3f}")
    if report.get("generated_at"):
        suite.set("timestamp", str(report["generated_at"]).removesuffix("Z"))
    root = ET.Element("testsuites", name=SUITE, **{k: suite.get(k) for k in (*counts, "time")})
    root.append(suite)
    ET.indent(root, space=" ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(report: dict, path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(render_junit(report))
