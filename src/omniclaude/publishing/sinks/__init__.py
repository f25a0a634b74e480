"""Event sinks: the :class:`~omniclaude.publishing.sinks.base.EventSink` protocol and its
implementations (``kafka.KafkaSink``, ``postgres.PostgresSink``; ``omniclaude.testing.
InMemorySink`` for tests). Import the implementation modules directly."""

from omniclaude.publishing.sinks.base import BaseSink, EventSink

__all__ = ["BaseSink", "EventSink"]
