"""Prometheus metrics, one registry per app (no module globals, so tests can build many apps)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from live2d_notify.hub import Hub


_STATUS_CLASS = {c: f"{c}xx" for c in range(1, 6)}


class _HotCounters(Collector):
    """Counters and a histogram bumped on every request, as plain ints read at scrape time.

    prometheus-client guards each value with a lock; the event loop is the only writer here, and
    four locked increments per publish were measurable. Exposed with prometheus-client's families.
    """

    BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)

    def __init__(self) -> None:
        self.accepted = {"api": 0, "hook": 0}
        self.requests = {f"{c}xx": 0 for c in range(1, 6)}
        self.latency_counts = [0] * (len(self.BUCKETS) + 1)
        self.latency_sum = 0.0

    def observe_latency(self, seconds: float) -> None:
        self.latency_counts[bisect_left(self.BUCKETS, seconds)] += 1
        self.latency_sum += seconds

    def collect(self) -> Iterator[Metric]:
        accepted = CounterMetricFamily("live2d_notify_events_accepted", "Events accepted, by way in.", labels=["via"])
        for via, n in self.accepted.items():
            accepted.add_metric([via], n)
        yield accepted
        requests = CounterMetricFamily(
            "live2d_notify_http_requests", "HTTP requests, by status class (2xx, 4xx, 5xx).", labels=["status"]
        )
        for cls, n in self.requests.items():
            requests.add_metric([cls], n)
        yield requests
        cumulative, buckets = 0, []
        for bound, n in zip((*self.BUCKETS, float("inf")), self.latency_counts, strict=True):
            cumulative += n
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        yield HistogramMetricFamily(
            "live2d_notify_publish_latency_seconds",
            "From the event's creation to its frame sitting in every local stream's queue.",
            buckets=buckets,
            sum_value=self.latency_sum,
        )


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
        self.events_rejected = Counter(
            "live2d_notify_events_rejected", "Event posts refused, by reason (error code).", ["reason"], registry=r
        )
        self.events_ignored = Counter(
            "live2d_notify_events_ignored",
            "Hook payloads that normalised to nothing or were duplicates.",
            ["reason"],
            registry=r,
        )
        self.open_streams = Gauge("live2d_notify_open_streams", "Open SSE streams on this process.", registry=r)
        self.rate_limited = Counter(
            "live2d_notify_rate_limited", "Requests refused by a rate limit.", ["limit"], registry=r
        )
        self.tokens_issued = Counter("live2d_notify_tokens_issued", "Tokens issued, by kind.", ["kind"], registry=r)
        self.tokens_revoked = Counter(
            "live2d_notify_tokens_revoked", "Revocations, by kind (token or all).", ["kind"], registry=r
        )
        self.push_outcomes = Counter(
            "live2d_notify_push",
            "Web Push deliveries, by outcome (sent, gone, failed, dropped, refused).",
            ["outcome"],
            registry=r,
        )
        self.hot = _HotCounters()
        r.register(self.hot)

    def count_request(self, status: int) -> None:
        key = _STATUS_CLASS.get(status // 100)
        if key is not None:
            self.hot.requests[key] += 1

    def bind_hub(self, hub: Hub) -> None:
        self.registry.register(_HubCollector(hub))
        self.open_streams.set_function(lambda: hub.open_streams)

    def render(self) -> bytes:
        return generate_latest(self.registry)
