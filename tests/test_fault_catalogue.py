"""The fault catalogue's order: the order `serve --list-faults` and the detection matrix list faults, and the order in
which a set of combined faults applies its hooks (snapshots, recorded before the catalogue was split by area)."""

from __future__ import annotations

import dataclasses
import re

import pytest
from refserver import CALL, KEY, THINK, TOOL, V2023, fget, fpost, parse_sse

from reference_server import FAULTS
from reference_server.faults import UnknownFault, fault_set
from reference_server.hooks import Fault

REQUEST_IDS = re.compile(r"req_[0-9A-Za-z]{24}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
IDS = re.compile(r"\b(toolu_|call_|call\.|msg_|chatcmpl-)[0-9A-Za-z]+")
HOOK_POINTS = [field.name for field in dataclasses.fields(Fault) if field.name not in ("name", "description", "kind")]


def test_the_catalogue_lists_every_fault_in_its_order(snapshot):
    assert [(fault.name, fault.kind) for fault in FAULTS.values()] == snapshot


def test_a_set_of_every_fault_applies_each_hook_point_in_catalogue_order(snapshot):
    everything = fault_set("+".join(reversed(list(FAULTS))))
    assert everything.names == tuple(FAULTS)
    by_point = {point: [f.name for f in everything.faults if getattr(f, point)] for point in HOOK_POINTS}
    assert by_point == snapshot


@pytest.mark.parametrize("spec", [
    "sse-no-pings+pings-everywhere+sse-ping-before-start+sse-unknown-event+extra-fields",
    "sse-tool-as-text+sse-thinking-as-text+sse-output-tokens-doubled+usage-output-one+mangle-non-ascii",
    "usage-output-is-total+usage-constant+usage-input-short-zero+usage-zero-input",
    "several-text-blocks+empty-text-block+extra-fields+message-no-stop-sequence-key",
])
def test_combined_faults_rewrite_the_answer_in_the_same_order(spec, snapshot):
    fields = {"text": "Reply with exactly: one two three four five\n" + CALL, "tools": [TOOL], **THINK}
    plain = fpost(spec, **fields)
    streamed = fpost(spec, stream=True, **fields)
    assert (plain.status_code, IDS.sub(r"\1<id>", plain.text), streamed.status_code,
            parse_sse(IDS.sub(r"\1<id>", streamed.text).encode())) == snapshot


@pytest.mark.parametrize("spec", [
    "bearer-only-auth+count-tokens-bearer-only+wrong-bearer-accepted+models-no-auth",
    "models-x-api-key-only+auth-not-enforced+count-tokens-no-auth",
    "models-missing-plain+models-missing+openai-error-shape+error-type-pascal-case",
    "validation-422+request-id-body-null+no-request-id+accept-empty-messages+unknown-model-400",
    "rate-limited-without-retry-after+rate-limited-without-ratelimit-headers+x-should-retry-invalid",
    "reject-prefill+prefill-500+reject-images+images-500+reject-documents",
    "reject-unknown-betas+only-version-2026+unknown-beta-500+not-found-html",
])
def test_combined_faults_pick_the_same_error_and_credential_check(spec, snapshot):
    bearer = {"authorization": f"Bearer {KEY}x", "anthropic-version": "2023-06-01"}
    requests = {
        "messages x-api-key": fpost(spec),
        "messages bearer": fpost(spec, headers=bearer),
        "messages prefill image": fpost(spec, headers={**V2023, "anthropic-beta": "files-api-2025-04-14"}, messages=[
            {"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]},
            {"role": "assistant", "content": "ok"}]),
        "messages empty": fpost(spec, messages=[], model="nope-1"),
        "models": fget(spec, "/v1/models"),
        "models bearer": fget(spec, "/v1/models", headers=bearer),
        "count_tokens": fpost(spec, path="/v1/messages/count_tokens", headers=bearer),
    }
    keep = ("content-type", "retry-after", "x-should-retry")
    seen = {what: (r.status_code, {k: v for k, v in r.headers.items() if k in keep or k.startswith("anthropic-rate")},
                   REQUEST_IDS.sub("<id>", r.text[:300]) if r.status_code >= 400 else "ok") for what, r in requests.items()}
    assert seen == snapshot


def test_a_spec_is_applied_in_catalogue_order_whatever_order_it_names_its_faults():
    assert fault_set("sse-no-pings+crlf+bearer-only-auth").names == ("bearer-only-auth", "crlf", "sse-no-pings")
    with pytest.raises(UnknownFault):
        fault_set("crlf+no-such-fault")
