"""The profiles tested on the evidence they were derived from: `agreement()` computes every client profile from the
harness's verdicts for every row of the clients x faults matrix and compares it with what the client did (ready <->
works, degraded <-> degraded, not-ready <-> breaks); EXPLAINED holds the disagreements that remain, each with its
reason; `markdown()` writes docs/client-readiness.md. Run through `python -m conformance.profile_evidence`."""

from __future__ import annotations

from conformance.profile_evidence import (
    COLUMNS,
    CONTENT_ROWS,
    PREDICTS,
    WORKS,
    for_column,
    observed,
    results_of,
)

REPLAY_WHY = ("thinking/replay-accepted also fails for an empty text block or a thinking block without signature, "
              "which Claude Code works through")
MODEL_ROLE_SYSTEM_WHY = ("the clean server with a model whose row says it refuses role: system messages (the "
                         "documented 400): Claude Code sends one to it, then resends without; any correct server "
                         "answers that model so, and the harness judges the refusal the model's (unsupported)")
# Disagreements that remain, each explained (docs/client-readiness.md): row -> (the columns, why). All of them are a
# profile softer than the client (ready for a client that degrades or breaks): every check the row makes fail also
# fails under a fault the same client works through, so requiring it would be a false alarm there. None is a false
# alarm. An entry that starts to agree fails the agreement too, so that it is taken out.
EXPLAINED = {
    "sse-no-event-lines": (("python-sdk-2", "python-sdk-1", "typescript-sdk"),
                           "the SDKs drop data lines without an event: name (the stream has no text); the checks it "
                           "trips (streaming/named-events, sdk/messages-stream) also trip for a `data: [DONE]` sentinel "
                           "or an unknown event, which the SDKs ignore: no check tells the two apart"),
    "sse-lose-text-delta": (("claude-code", "claude-code-model"),
                            "a lost text delta is seen only as missing words (streaming/follows-directive, "
                            "streaming/long-text), which also trip under faults Claude Code works through; the "
                            "stream is well-formed"),
    "sse-partial-json-object": (("claude-code", "claude-code-model"),
                                "Claude Code's tool call fails on input_json_delta fragments that are not a JSON "
                                "object; the checks it trips (streaming/tool-input, parity/tool-input) also trip for "
                                "tool input sent as a string, which Claude Code tolerates"),
    "sse-no-message-start": (("python-sdk-2", "python-sdk-1"),
                             "the Python SDK's stream helper asserts on a stream without message_start but reads a "
                             "duplicated one: streaming/message-start-first fails for both"),
    "several-text-blocks": (("claude-code", "claude-code-model"),
                            "a valid answer (several text blocks, as the API may send); `claude -p` prints only the "
                            "last one: a client limit, not a server defect, and no check should fail"),
    "bom": (("python-sdk-2", "python-sdk-1"),
            "a valid stream (a byte-order mark, which the SSE spec strips); the Python SDK's stream helper fails on "
            "it: a client limit, not a server defect"),
    "model-without-role-system": (("claude-code", "claude-code-model"),
                                  "the model rejects role: system; the harness judges that as a feature of the model "
                                  "(unsupported by the model: no break), and Claude Code recovers by resending "
                                  "without it, after a rejected request"),
    "model:claude-mythos-preview": (("claude-code-model",), MODEL_ROLE_SYSTEM_WHY),
    "model:claude-sonnet-5": (("claude-code-model",), MODEL_ROLE_SYSTEM_WHY),
    "reject-thinking-replay": (("claude-code", "claude-code-model"), REPLAY_WHY),
    "thinking-signature-blanked": (("claude-code", "claude-code-model"), REPLAY_WHY),
    "drop-signature-only-thinking": (("claude-code", "claude-code-model"), REPLAY_WHY),
    "role-system-rejected": (("claude-code", "claude-code-model"),
                             "system/role-system-message also fails where a layer turns the model's documented 400 "
                             "into a 500 (model-gated-500, on a model Claude Code sends no role: system), which "
                             "Claude Code works through; here Claude Code resends without the role: system message"),
    "reject-defer-loading": (("claude-code", "claude-code-model"),
                             "features/defer-loading also fails where a layer demands input_schema of the typed tool "
                             "search tool (typed-tools-need-input-schema), which Claude Code does not send; here "
                             "Claude Code resends without the deferred tool"),
    "sse-tool-input-differs": (("claude-code", "claude-code-model"),
                               "the checks it trips (streaming/tool-input, parity/tool-input) also trip for tool "
                               "input sent as a string or a stream without stop_reason, which Claude Code tolerates"),
    "sse-tool-as-text": (("claude-code", "claude-code-model"),
                         "the checks it trips (parity/*, streaming/tool-input) also trip under faults Claude Code "
                         "works through; a tool call sent as text is seen as content"),
}


def agreement(verdicts: dict, matrix: dict, profiles: dict | None = None) -> tuple[list[dict], list[dict]]:
    """For every row of the matrix (content rows apart) and every column: the profile computed from the harness's
    verdicts for that row against the client's outcome. Returns (all comparisons, disagreements)."""
    from conformance.profiles import profiles as load_profiles
    from conformance.profiles import readiness

    profiles = profiles or load_profiles()
    items = verdicts["items"]
    compared, wrong = [], []
    for row in matrix["rows"]:
        if row["name"] in CONTENT_ROWS or row["name"] not in verdicts["rows"]:
            continue
        results = results_of(verdicts, row["name"])
        computed = {c: readiness(results, items, for_column(profiles, c)) for cols in COLUMNS.values() for c in cols}
        for profile, cols in COLUMNS.items():
            for column in cols:
                cell = row["cells"].get(column)
                if not cell or cell["outcome"] not in PREDICTS:
                    continue
                status = computed[column][profile]["status"]
                entry = {"row": row["name"], "kind": row["kind"], "profile": profile, "column": column,
                         "prediction": status, "outcome": cell["outcome"],
                         "causes": computed[column][profile]["failing"] + computed[column][profile]["limiting"],
                         "observed": observed(cell) if cell["outcome"] != WORKS else ""}
                compared.append(entry)
                if PREDICTS[cell["outcome"]] != status:
                    wrong.append(entry)
    return compared, wrong


def unexplained(compared: list[dict], wrong: list[dict]) -> list[str]:
    """What fails the agreement: a disagreement EXPLAINED does not list, and an EXPLAINED one that now agrees."""
    out = [f"{e['row']} {e['column']}" for e in wrong if e["column"] not in EXPLAINED.get(e["row"], ((), ""))[0]]
    disagreeing = {(e["row"], e["column"]) for e in wrong}
    seen = {(e["row"], e["column"]) for e in compared}
    out += [f"{row} {column}: explained as a disagreement, but it agrees now (take it out of EXPLAINED)"
            for row, (columns, _) in EXPLAINED.items() for column in columns
            if (row, column) in seen and (row, column) not in disagreeing]
    return out


def agreement_lines(compared: list[dict], wrong: list[dict]) -> list[str]:
    lines = []
    for column in dict.fromkeys(e["column"] for e in compared):
        mine = [e for e in compared if e["column"] == column]
        bad = [e for e in wrong if e["column"] == column]
        lines.append(f"{column:20} {len(mine) - len(bad)}/{len(mine)} agree")
    for e in wrong:
        causes = ", ".join(e["causes"][:3]) or "no check fails"
        known = EXPLAINED.get(e["row"], ((), ""))
        head = "explained" if e["column"] in known[0] else "DISAGREE"
        lines.append(f"{head} {e['row']} ({e['kind']}) {e['column']}: profile {e['profile']} says "
                     f"{e['prediction']} ({causes}); the client {e['outcome']}"
                     + (f": {e['observed']}" if e["observed"] else "")
                     + (f"\n    why: {known[1]}" if e["column"] in known[0] else ""))
    bad = unexplained(compared, wrong)
    lines += [f"UNEXPLAINED {b}" for b in bad]
    lines.append(f"{len(compared) - len(wrong)} of {len(compared)} agree"
                 + (f"; {len(wrong)} disagreements, {len(wrong) - len([b for b in bad if ':' not in b])} of them "
                    "explained (docs/client-readiness.md)" if wrong else "")
                 + (f"; {len(bad)} problems" if bad else ""))
    return lines


READINESS_DOC = "client-readiness.md"


def markdown(verdicts: dict, matrix: dict, profiles_doc: dict) -> str:
    """docs/client-readiness.md: how the profiles are derived, what they say, and how well they predict."""
    from conformance.profiles import GATES

    compared, wrong = agreement(verdicts, matrix)
    clients = {c["id"]: c for c in matrix["clients"]}
    lines = ["<!-- generated by `python -m conformance.profile_evidence docs`; do not edit -->", "",
             "# Client readiness: profiles derived from real clients, and how well they predict them", "",
             "A readiness profile is worth printing only if it predicts what the real client does. The profiles in "
             "`fixtures/profiles.json` are derived from two pieces of evidence: what the real clients did against every "
             "fault and variant of the reference server (`docs/client-matrix.json`, `docs/client-matrix.md`), and what "
             "the harness's checks said about the same faults (`fixtures/selftest_verdicts.json`, a self-test run). "
             "`python -m conformance.profile_evidence derive` writes the profiles; `anthropic-conformance selftest "
             "--clients` (or `python -m conformance.profile_evidence agree`) recomputes every profile for every fault "
             "and compares it with the client's outcome.", "",
             "## How a profile is derived", "",
             f"- Rule: {profiles_doc['derivation']['rule']}.",
             "- A fault makes a check fail when its compat verdict is fail or unsupported (profiles are judged on "
             "compat verdicts). The client's outcome for Claude Code is the worse of its two columns (its default model "
             "and `--model` the target's model); an entry whose faults hurt only one of them says so (`columns` in the "
             "JSON, the column's name in the table), and the agreement judges each column by its own entries. The "
             f"columns differ on {_columns_differ(matrix)}.",
             "- Model rows (`model:<id>`): the clean reference server with one model of each family of "
             "`fixtures/models.json`, every client run with that model (Claude Code's `--model` column; its "
             "default-model column keeps its default). A per-model fault runs with its model too, in the matrix and "
             "in the self-test verdicts.",
             "- Gates: a check that judges a header other checks' requests carry, and those checks: "
             + "; ".join(f"`{g}` (carried by {', '.join(f'`{c}`' for c in carried)})" for g, carried in GATES.items())
             + ". When the target refuses a gate's header, the checks carrying it fail as a consequence: they are no "
             "evidence about themselves, and a client that sends another header is not judged by them (its own "
             "header check judges it). Without this, `only-version-2026` (every raw probe refused) would make every "
             "check irrelevant to the clients that send 2026-10-21.",
             "- Rows left out (they judge the fake model's answer text, not the protocol):"]
    lines += [f"  - `{row}`: {why}" for row, why in CONTENT_ROWS.items()]
    lines += ["", "## The profiles", ""]
    for name, spec in profiles_doc["profiles"].items():
        cols = ", ".join(f"`{c}` ({clients[c]['label']} {clients[c].get('version')})" for c in spec["columns"])
        lines += [f"### `{name}`", "", f"Client: {cols}.", "", "| kind | check | what the client does (first evidence) | "
                  "faults that break / degrade it |", "|---|---|---|---|"]
        for kind in ("required", "degrading"):
            for e in spec[kind]:
                faults = ", ".join(f"`{f}`" for f in e["breaks_under"]) or "-"
                faults += " / " + (", ".join(f"`{f}`" for f in e["degrades_under"]) or "-")
                when = f" (when {' or '.join(e['on'])})" if e.get("on") else ""
                lines.append(f"| {kind} | `{e['check']}`{when} | {_cell(e['effect'])} | {faults} |")
        lines.append("")
    lines += ["## Agreement", "", "For every row of the matrix but the content rows, every column: the profile "
              "computed from the harness's verdicts for that row (ready, degraded, not-ready, not-covered) against the "
              "client's outcome (works, degraded, breaks).", "", "| column | profile | agree |", "|---|---|---|"]
    for column in dict.fromkeys(e["column"] for e in compared):
        mine = [e for e in compared if e["column"] == column]
        bad = sum(e["column"] == column for e in wrong)
        lines.append(f"| `{column}` | `{mine[0]['profile']}` | {len(mine) - bad} of {len(mine)} |")
    lines += ["", f"In all: {len(compared) - len(wrong)} of {len(compared)} agree. Every disagreement is a profile "
              "softer than its client (it says ready where the client degrades or breaks): none is a false alarm. "
              "Each one is explained below; the agreement fails on any other, and on an explained one that starts to "
              "agree.", "", "## The disagreements, explained", "", "| row | columns | profile says | client | why |",
              "|---|---|---|---|---|"]
    for row, (_, why) in EXPLAINED.items():
        mine = [e for e in wrong if e["row"] == row]
        if not mine:
            continue
        cols = ", ".join(f"`{e['column']}`" for e in mine)
        lines.append(f"| `{row}` | {cols} | {mine[0]['prediction']} | "
                     f"{mine[0]['outcome']}: {_cell(mine[0]['observed'])} | {_cell(why)} |")
    lines += ["", "## Beyond the reference server", "",
              "The faults are what the matrix can show; a real server can fail in ways no fault reproduces. "
              "`docs/backends/README.md` compares these profiles with what the clients really did against the nine "
              "third-party servers of `examples/compare_backends.py`, and names the gaps (Claude Code's default "
              "model refused by a server's model catalogue; a refusal of role: system worded so that Claude Code "
              "does not resend)."]
    return "\n".join(lines) + "\n"


def _columns_differ(matrix: dict) -> str:
    """The rows where Claude Code's two columns have different outcomes, named."""
    rows = [r["name"] for r in matrix["rows"] if len({r["cells"].get(c, {}).get("outcome")
                                                        for c in COLUMNS["claude-code"]}) > 1]
    return f"{len(rows)} rows ({', '.join(f'`{r}`' for r in rows)})" if rows else "no row"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
