//! `NodeMetrics`: one node's Prometheus metrics, served at `GET /metrics` on its admin port.
//!
//! Every node has its own recorder (no global one: `keyraft dev` and the tests run many nodes in
//! one process). Request counters and latencies are recorded as requests finish (an
//! [`Observer`] of the AWS edge); Raft, key and replication gauges are read from the node at
//! scrape time. Every series carries `region` and `node`. Labels hold only operation names, AWS
//! exception names, key states and region names: never a key id, an access key, a secret, an
//! encryption context or anything from a request body.

use std::sync::Arc;

use keyraft_aws::{Exchange, Observer};
use keyraft_core::model::KeyState;
use keyraft_service::Kms;
use metrics::{counter, gauge, histogram, with_local_recorder};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

/// `keyraft_requests_total{operation, outcome}`: outcome is `ok` or the AWS exception name.
pub const REQUESTS: &str = "keyraft_requests_total";
/// `keyraft_request_duration_seconds{operation}`: time from arrival to response, histogram.
pub const REQUEST_DURATION: &str = "keyraft_request_duration_seconds";

/// Latency buckets (seconds): sub-millisecond crypto on a warm node up to write timeouts.
pub const LATENCY_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The Prometheus text format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

pub struct NodeMetrics {
    kms: Arc<Kms>,
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl NodeMetrics {
    pub fn new(kms: Arc<Kms>) -> Self {
        let cfg = kms.node().config();
        let builder = PrometheusBuilder::new()
            .add_global_label("region", cfg.region.as_str())
            .add_global_label("node", cfg.node_id.to_string());
        // Only fails on empty buckets, which these are not; a summary is the fallback.
        let builder = match builder.set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.into()), LATENCY_BUCKETS) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "latency buckets refused; latencies render as a summary");
                PrometheusBuilder::new()
                    .add_global_label("region", cfg.region.as_str())
                    .add_global_label("node", cfg.node_id.to_string())
            }
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let m = NodeMetrics { kms, recorder, handle };
        m.describe();
        m
    }

    fn describe(&self) {
        with_local_recorder(&self.recorder, || {
            metrics::describe_counter!(
                REQUESTS,
                "KMS API requests (AWS JSON and gRPC) by operation and outcome (ok or exception)"
            );
            metrics::describe_histogram!(REQUEST_DURATION, metrics::Unit::Seconds, "AWS API request latency");
            metrics::describe_gauge!("keyraft_raft_term", "Current Raft term");
            metrics::describe_gauge!("keyraft_raft_leader_id", "Node id of the known leader (0: none)");
            metrics::describe_gauge!("keyraft_raft_is_leader", "1 on the region's leader");
            metrics::describe_gauge!("keyraft_raft_last_log_index", "Index of the last log entry");
            metrics::describe_gauge!("keyraft_raft_committed_index", "Index known committed");
            metrics::describe_gauge!("keyraft_raft_applied_index", "Index applied to the state machine");
            metrics::describe_gauge!("keyraft_raft_snapshot_index", "Last index in the latest snapshot");
            metrics::describe_gauge!("keyraft_keys", "Keys in the region by key state");
            metrics::describe_gauge!("keyraft_replication_outbox_depth", "Multi-region keys not yet acknowledged");
            metrics::describe_gauge!(
                "keyraft_replication_oldest_pending_seconds",
                "Age of the oldest unacknowledged shared change"
            );
            metrics::describe_gauge!("keyraft_replication_lag_p50_seconds", "Replication lag, median of recent");
            metrics::describe_gauge!("keyraft_replication_lag_p99_seconds", "Replication lag, p99 of recent");
            metrics::describe_gauge!("keyraft_replication_lag_max_seconds", "Replication lag, max of recent");
            metrics::describe_gauge!("keyraft_replication_shipped", "Shipments acknowledged (by this node's shipper)");
            metrics::describe_gauge!("keyraft_replication_failures", "Shipments failed (by this node's shipper)");
        });
    }

    /// The Prometheus text exposition, gauges read from the node now.
    pub async fn render(&self) -> String {
        let status = self.kms.node().status().await;
        let me = self.kms.node().config().node_id;
        let mut by_state = [0usize; KeyState::ALL.len()];
        self.kms.node().state().read(|s| {
            for k in s.keys.values() {
                if let Some(i) = KeyState::ALL.iter().position(|st| *st == k.state) {
                    by_state[i] += 1;
                }
            }
        });
        let replication = self.kms.replication_status();
        let secs = |ms: Option<u64>| ms.map(|m| m as f64 / 1000.0);
        with_local_recorder(&self.recorder, || {
            gauge!("keyraft_raft_term").set(status.term as f64);
            gauge!("keyraft_raft_leader_id").set(status.leader.unwrap_or(0) as f64);
            gauge!("keyraft_raft_is_leader").set(if status.leader == Some(me) { 1.0 } else { 0.0 });
            for (name, v) in [
                ("keyraft_raft_last_log_index", status.last_log_index),
                ("keyraft_raft_committed_index", status.committed_index),
                ("keyraft_raft_applied_index", status.applied_index),
                ("keyraft_raft_snapshot_index", status.snapshot_index),
            ] {
                gauge!(name).set(v.unwrap_or(0) as f64);
            }
            for (state, n) in KeyState::ALL.iter().zip(by_state) {
                gauge!("keyraft_keys", "state" => state.as_aws()).set(n as f64);
            }
            for (dest, d) in &replication {
                let dest = dest.to_string();
                let l = [("destination", dest)];
                gauge!("keyraft_replication_outbox_depth", &l).set(d.outbox_depth as f64);
                gauge!("keyraft_replication_oldest_pending_seconds", &l).set(secs(d.oldest_pending_ms).unwrap_or(0.0));
                gauge!("keyraft_replication_shipped", &l).set(d.shipped as f64);
                gauge!("keyraft_replication_failures", &l).set(d.failures as f64);
                for (name, v) in [
                    ("keyraft_replication_lag_p50_seconds", d.lag_p50_ms),
                    ("keyraft_replication_lag_p99_seconds", d.lag_p99_ms),
                    ("keyraft_replication_lag_max_seconds", d.lag_max_ms),
                ] {
                    if let Some(v) = secs(v) {
                        gauge!(name, &l).set(v);
                    }
                }
            }
        });
        self.handle.render()
    }
}

impl Observer for NodeMetrics {
    fn observe(&self, exchange: &Exchange<'_>) -> Result<(), String> {
        let outcome = match exchange.outcome {
            Ok(_) => "ok",
            Err(e) => e.exception,
        };
        record(&self.recorder, exchange.operation.unwrap_or("unknown"), outcome, exchange.elapsed);
        Ok(())
    }
}

/// Counts one request and its latency.
fn record(recorder: &PrometheusRecorder, operation: &str, outcome: &'static str, elapsed: std::time::Duration) {
    let operation = operation.to_owned();
    with_local_recorder(recorder, || {
        counter!(REQUESTS, "operation" => operation.clone(), "outcome" => outcome).increment(1);
        histogram!(REQUEST_DURATION, "operation" => operation).record(elapsed.as_secs_f64());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cost of recording one request (counter + histogram), single-threaded.
    #[test]
    fn record_cost() {
        let recorder = PrometheusBuilder::new()
            .add_global_label("region", "us-east-1")
            .add_global_label("node", "1")
            .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.into()), LATENCY_BUCKETS)
            .expect("buckets")
            .build_recorder();
        let n = 100_000u32;
        let start = std::time::Instant::now();
        for i in 0..n {
            let op = if i % 2 == 0 { "Encrypt" } else { "Decrypt" };
            record(&recorder, op, "ok", std::time::Duration::from_micros(300));
        }
        let per = start.elapsed() / n;
        eprintln!("metrics record: {per:?} per request");
        let text = recorder.handle().render();
        assert!(
            text.contains(
                r#"keyraft_requests_total{region="us-east-1",node="1",operation="Encrypt",outcome="ok"} 50000"#
            ),
            "{text}"
        );
        assert!(per < std::time::Duration::from_micros(50), "{per:?}");
    }
}
