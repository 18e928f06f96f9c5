"""The conformance checks: pure functions over recorded exchanges, registered by id."""

from conformance.checks import auth, errors, headers, message, sdk, streaming, system, tools  # noqa: F401
