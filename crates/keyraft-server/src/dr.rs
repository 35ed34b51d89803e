//! `keyraft dr status` and `keyraft dr promote`: the roles and epochs of multi-region keys in a
//! region, and forced promotion of its replicas while their primary region is unreachable.

use keyraft_service::ops::Promotion;
use keyraft_service::Kms;
use serde::{Deserialize, Serialize};

use crate::admin::PromoteRequest;

/// One multi-region key as a region holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrKey {
    pub key: String,
    pub role: String,
    pub epoch: u64,
    pub primary: String,
    pub shared_version: u64,
    pub replicas: Vec<String>,
    /// Destinations that have not acknowledged the current shared version.
    pub pending: Vec<String>,
    /// Set when a higher epoch was learnt: `n@region` of the new primary.
    pub fenced_by: Option<String>,
    /// Shared changes made here as primary that a forced promotion did not carry over.
    pub not_carried_over: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrStatus {
    pub region: String,
    pub keys: Vec<DrKey>,
}

impl DrStatus {
    pub fn of(kms: &Kms) -> Self {
        let region = kms.region().clone();
        let keys = kms
            .multi_region_states()
            .into_iter()
            .map(|(k, m)| DrKey {
                key: k.id.to_string(),
                role: match (&m.fenced_by, m.epoch.primary == region) {
                    (Some(_), _) => "FENCED",
                    (None, true) => "PRIMARY",
                    (None, false) => "REPLICA",
                }
                .into(),
                epoch: m.epoch.n,
                primary: m.epoch.primary.to_string(),
                shared_version: m.version,
                replicas: m.replicas.iter().map(|r| r.to_string()).collect(),
                pending: m.pending().map(|(r, _)| r.to_string()).collect(),
                fenced_by: m.fenced_by.as_ref().map(|e| e.to_string()),
                not_carried_over: m
                    .lost
                    .iter()
                    .map(|l| {
                        format!(
                            "v{} in epoch {} ({}), superseded by epoch {}",
                            l.change.version, l.change.epoch, l.change.what, l.superseded_by
                        )
                    })
                    .collect(),
            })
            .collect();
        DrStatus { region: region.to_string(), keys }
    }
}

fn url(endpoint: &str, path: &str) -> String {
    format!("{}{path}", endpoint.trim_end_matches('/'))
}

pub async fn fetch_status(endpoint: &str) -> anyhow::Result<DrStatus> {
    let u = url(endpoint, "/v1/dr/status");
    crate::admin_client::AdminClient::global().get(&u).await?.json(&u)
}

pub async fn promote(endpoint: &str, req: &PromoteRequest) -> anyhow::Result<Vec<Promotion>> {
    let u = url(endpoint, "/v1/dr/promote");
    crate::admin_client::AdminClient::global().post_json(&u, req).await?.json(&u)
}

pub fn render_status(s: &DrStatus) -> String {
    let mut out = format!("region {}: {} multi-region keys\n", s.region, s.keys.len());
    out.push_str(&format!(
        "{:<38} {:<8} {:>5} {:<12} {:>7} {:<24} {}\n",
        "key", "role", "epoch", "primary", "version", "replicas", "pending"
    ));
    for k in &s.keys {
        out.push_str(&format!(
            "{:<38} {:<8} {:>5} {:<12} {:>7} {:<24} {}\n",
            k.key,
            k.role,
            k.epoch,
            k.primary,
            k.shared_version,
            k.replicas.join(","),
            if k.pending.is_empty() { "-".into() } else { k.pending.join(",") }
        ));
        if let Some(f) = &k.fenced_by {
            out.push_str(&format!("    fenced by epoch {f}\n"));
        }
        for l in &k.not_carried_over {
            out.push_str(&format!("    not carried over: {l}\n"));
        }
    }
    out
}

pub fn render_promotions(p: &[Promotion]) -> String {
    let mut out = String::new();
    for x in p {
        match (&x.to, &x.error) {
            (Some(to), _) => out.push_str(&format!(
                "{}: promoted, epoch {} -> {to}\n",
                x.key,
                x.from.as_ref().map(|e| e.to_string()).unwrap_or_default()
            )),
            (None, e) => out.push_str(&format!("{}: not promoted: {}\n", x.key, e.as_deref().unwrap_or("?"))),
        }
    }
    if p.is_empty() {
        out.push_str("no replica keys to promote\n");
    }
    out
}
