"""Checks of request headers and URL forms real clients use: ?beta=true, both API versions, betas."""

from __future__ import annotations

from conformance.checks.common import require_message
from conformance.engine import Context, check
from conformance.probes import CLAUDE_CODE_BETAS
from conformance.verdicts import Finding

VERSIONS = ("2023-06-01", "2026-10-21")


def _plain(ctx: Context, name: str, rule: str, **request) -> list[Finding]:
    ex = ctx.exchange(name, lambda: ctx.request(ctx.probes.text_body(name, max_tokens=16), **request))
    _, findings = require_message(ex, rule)
    return findings


@check("headers/beta-query-string", rule="HDR-BETA-QUERY", tier="cheap")
def beta_query(ctx: Context):
    """POST /v1/messages?beta=true is served like /v1/messages."""
    return _plain(ctx, "beta-query", "HDR-BETA-QUERY", path="/v1/messages?beta=true")


@check("headers/anthropic-version", rule="HDR-VERSION", tier="cheap", params=VERSIONS)
def anthropic_version(ctx: Context, version: str):
    """Each anthropic-version in use by real clients is served."""
    return _plain(ctx, "version-" + version, "HDR-VERSION", version=version)


@check("headers/claude-code-betas", rule="HDR-BETA-HEADER", tier="cheap")
def claude_code_betas(ctx: Context):
    """The anthropic-beta set Claude Code sends does not break a plain request."""
    return _plain(ctx, "claude-code-betas", "HDR-BETA-HEADER", headers=(("anthropic-beta", CLAUDE_CODE_BETAS),))
