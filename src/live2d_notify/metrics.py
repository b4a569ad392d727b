"""Prometheus metrics, one registry per app (no module globals, so tests can build many apps)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from live2d_notify.hub import Hub


class _HubCollector(Collector):
    """Read the hub's own counters at scrape time, so fan-out never calls into prometheus-client."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "live2d_notify_deliveries", "Event frames handed to open streams.", value=self.hub.deliveries
        )
        yield CounterMetricFamily(
            "live2d_notify_slow_consumer_resets",
            "Times a stream's backlog was dropped because its reader fell behind (it gets event: reset).",
            value=self.hub.dropped,
        )


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.events_accepted = Counter(
            "live2d_notify_events_accepted", "Events accepted, by source kind.", ["via"], registry=r
        )
        self.events_rejected = Counter(
            "live2d_notify_events_rejected", "Event posts refused, by reason (error code).", ["reason"], registry=r
        )
        self.events_ignored = Counter(
            "live2d_notify_events_ignored", "Hook payloads that normalised to nothing or were duplicates.",
            ["reason"], registry=r,
        )
        self.open_streams = Gauge("live2d_notify_open_streams", "Open SSE streams on this process.", registry=r)
        self.publish_latency = Histogram(
            "live2d_notify_publish_latency_seconds",
            "From the event's creation to its frame sitting in every local stream's queue.",
            buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
            registry=r,
        )
        self.rate_limited = Counter(
            "live2d_notify_rate_limited", "Requests refused by a rate limit.", ["limit"], registry=r
        )
        self.tokens_issued = Counter("live2d_notify_tokens_issued", "Tokens issued, by kind.", ["kind"], registry=r)
        self.tokens_revoked = Counter(
            "live2d_notify_tokens_revoked", "Revocations, by kind (token or all).", ["kind"], registry=r
        )
        self.requests = Counter(
            "live2d_notify_http_requests", "HTTP requests, by status class (2xx, 4xx, 5xx).", ["status"], registry=r
        )
        self._by_class = {c: self.requests.labels(f"{c}xx") for c in range(1, 6)}
        # Bound children for the hot path: a label lookup per event is measurable at 10k/s.
        self.accepted_api = self.events_accepted.labels("api")
        self.accepted_hook = self.events_accepted.labels("hook")

    def count_request(self, status: int) -> None:
        child = self._by_class.get(status // 100)
        if child is not None:
            child.inc()

    def bind_hub(self, hub: Hub) -> None:
        self.registry.register(_HubCollector(hub))
        self.open_streams.set_function(lambda: hub.open_streams)

    def render(self) -> bytes:
        return generate_latest(self.registry)
