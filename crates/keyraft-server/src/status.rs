//! `keyraft status --endpoint URL`: a region's nodes, leader, term and indexes.

use crate::admin::RegionStatus;

pub async fn fetch(endpoint: &str) -> anyhow::Result<RegionStatus> {
    let url = format!("{}/v1/status", endpoint.trim_end_matches('/'));
    let resp = reqwest::get(&url).await?;
    anyhow::ensure!(resp.status().is_success(), "{url} answered {}", resp.status());
    Ok(resp.json().await?)
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
