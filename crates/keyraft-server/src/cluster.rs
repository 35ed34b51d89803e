//! `keyraft cluster`: a region's membership through a node's admin API (`/v1/membership`):
//! list voters and learners, add a node as a learner, promote it, remove a node.

use keyraft_raft::membership::{MembershipChange, MembershipView};

use crate::admin_client::AdminClient;

fn url(admin: &str) -> String {
    format!("{}/v1/membership", admin.trim_end_matches('/'))
}

/// The membership as the node at `admin` knows it.
pub async fn members(admin: &str) -> anyhow::Result<MembershipView> {
    let u = url(admin);
    AdminClient::global().get(&u).await?.json(&u)
}

/// Makes `change` through the node at `admin` (it runs on the region's leader).
pub async fn change(admin: &str, change: &MembershipChange) -> anyhow::Result<MembershipView> {
    let u = url(admin);
    AdminClient::global().post_json(&u, change).await?.json(&u)
}

/// The membership as `keyraft cluster` prints it.
pub fn render(m: &MembershipView) -> String {
    let mut out = format!("leader {}\n", m.leader);
    for (id, addr) in &m.nodes {
        let role = if m.voters.contains(id) { "voter" } else { "learner" };
        out.push_str(&format!("node {id:<3} {role:<8} {addr}\n"));
    }
    out
}
