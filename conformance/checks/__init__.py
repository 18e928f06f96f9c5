"""The conformance checks: pure functions over recorded exchanges, registered by id."""

from conformance.checks import (  # noqa: F401  (each module registers its checks)
    acceptance,
    auth,
    count_tokens,
    errors,
    features,
    gateway,
    gateway_stream,
    gateway_translate,
    golden,
    headers,
    message,
    models,
    parity,
    sdk,
    streaming,
    system,
    thinking,
    tools,
    usage,
    validation,
)
