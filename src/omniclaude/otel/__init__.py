"""OpenTelemetry in and out: OTLP received into events, our events exported as GenAI spans.

* :mod:`omniclaude.otel.ids` — the deterministic id mapping both directions share.
"""
