"""Checks of system handling: a string, text blocks with cache_control, and role: system messages."""

from __future__ import annotations

from conformance.checks.common import contains_words, controlled_miss, message_text, model_gated, require_message, short
from conformance.engine import Context, Unsupported, check
from conformance.verdicts import Finding


def system_findings(ctx: Context, form: str, *, rule: str = "") -> list[Finding]:
    words = ctx.probes.text_words("system-" + form)

    def accept(ex):
        return ex.ok and contains_words(message_text(ex.json if isinstance(ex.json, dict) else None), words)

    first, accepted = ctx.content_exchange(
        "system-" + form, lambda: ctx.request(ctx.probes.system_body(form)), accept)
    row = ctx.target.model_row
    if form == "role-message":  # mid-conversation system messages are model-gated on the real API
        model_gated(first, f"role: system messages on the {row.describe()} row")
    body, findings = require_message(first, rule=rule)
    if body is None:
        return findings
    if accepted is None and form == "role-message" and row.system_messages is not True:
        said = "does not say whether" if row.system_messages is None else "says"
        raise Unsupported(f"the reply did not follow the role: system message; the {row.describe()} row {said} the "
                          "model takes them (a model without them may answer 200 and ignore the message)")
    if accepted is None:
        through = {"string": "in the system string", "blocks": "in the system blocks",
                   "role-message": "in a role: system message"}[form]
        return [controlled_miss(ctx, f"a reply following the system instruction: {' '.join(words)!r}",
                                short(message_text(body)), "$.content", words, through, reply=body, rule=rule)]
    return []


@check("system/string", rule="SYS-STRING", tier="cheap")
def system_string(ctx: Context):
    """A top-level system string takes effect."""
    return system_findings(ctx, "string")


@check("system/blocks", rule="SYS-BLOCKS", tier="cheap")
def system_blocks(ctx: Context):
    """A top-level system given as text blocks with cache_control takes effect."""
    return system_findings(ctx, "blocks")


@check("system/role-system-message", rule="SYS-ROLE-MESSAGE", tier="cheap")
def system_role_message(ctx: Context):
    """A role: system message after the user turn is accepted and takes effect."""
    return system_findings(ctx, "role-message")
