//! `keyraft status --endpoint URL`: a region's nodes, leader, term and indexes.

use crate::admin::RegionStatus;
use crate::admin_client::AdminClient;

pub async fn fetch(endpoint: &str) -> anyhow::Result<RegionStatus> {
    let url = format!("{}/v1/status", endpoint.trim_end_matches('/'));
    AdminClient::global().get(&url).await?.json(&url)
}

/// `/v1/replication` of the same node.
pub async fn fetch_replication(endpoint: &str) -> anyhow::Result<crate::admin::ReplicationReport> {
    let url = format!("{}/v1/replication", endpoint.trim_end_matches('/'));
    AdminClient::global().get(&url).await?.json(&url)
}

/// The replication section of `keyraft status`: per destination region, the outbox depth, the
/// age of the oldest unacknowledged change and the lag of acknowledged ones.
pub fn render_replication(r: &crate::admin::ReplicationReport) -> String {
    if r.destinations.is_empty() {
        return "multi-region replication: not configured\n".into();
    }
    let mut out = format!(
        "multi-region replication from {} (node {}{})\n",
        r.region,
        r.answered_by,
        if r.leader { ", the shipper" } else { "; lag and counters are kept by the leader" }
    );
    out.push_str(&format!(
        "{:<14} {:>7} {:>12} {:>9} {:>9} {:>8} {:>8} {:>8}  {}\n",
        "destination", "outbox", "oldest (ms)", "shipped", "failures", "p50 ms", "p99 ms", "max ms", "last error"
    ));
    for (dest, d) in &r.destinations {
        out.push_str(&format!(
            "{:<14} {:>7} {:>12} {:>9} {:>9} {:>8} {:>8} {:>8}  {}\n",
            dest,
            d.outbox_depth,
            opt(d.oldest_pending_ms),
            d.shipped,
            d.failures,
            opt(d.lag_p50_ms),
            opt(d.lag_p99_ms),
            opt(d.lag_max_ms),
            d.last_error.as_deref().unwrap_or("-")
        ));
    }
    out
}

fn opt(v: Option<u64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

pub fn render(s: &RegionStatus) -> String {
    let mut out = format!("region {} (answered by node {})\n", s.region, s.answered_by);
    out.push_str(&format!(
        "{:<6} {:<10} {:<22} {:>6} {:>7} {:>9} {:>10} {:>8} {:>8} {:>6}\n",
        "node", "state", "raft addr", "term", "leader", "last log", "committed", "applied", "snapshot", "keys"
    ));
    for n in &s.nodes {
        match &n.status {
            Some(st) => out.push_str(&format!(
                "{:<6} {:<10} {:<22} {:>6} {:>7} {:>9} {:>10} {:>8} {:>8} {:>6}\n",
                st.node_id,
                st.state,
                st.raft_addr,
                st.term,
                opt(st.leader),
                opt(st.last_log_index),
                opt(st.committed_index),
                opt(st.applied_index),
                opt(st.snapshot_index),
                st.keys
            )),
            None => out.push_str(&format!("{:<6} unreachable: {}\n", n.node_id, n.error.as_deref().unwrap_or("?"))),
        }
    }
    out
}
