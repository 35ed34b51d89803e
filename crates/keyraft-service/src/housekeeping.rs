//! Leader-driven, time-based lifecycle: once a key's deletion date has passed, the leader proposes
//! `DeleteKey`, so every node agrees on when the key went away.

use std::sync::Arc;
use std::time::Duration;

use keyraft_core::command::RequestId;
use keyraft_core::Command;

use crate::kms::Kms;

/// Runs until `shutdown` resolves, checking every `every`.
pub async fn run(kms: Arc<Kms>, every: Duration, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => {}
        }
        let node = kms.node();
        if node.raft().metrics().borrow().current_leader != Some(node.config().node_id) {
            continue;
        }
        let due = node.state().read(|s| s.due_for_deletion(node.clock().now_ms()));
        for key in due {
            let id = RequestId(kms.random());
            match node.write(id, Command::DeleteKey { key: key.clone() }).await {
                Ok(Ok(_)) => tracing::info!(%key, "deleted key after its waiting period"),
                Ok(Err(e)) => tracing::debug!(%key, error = %e, "key not deleted"),
                Err(e) => tracing::warn!(%key, error = %e, "could not propose key deletion"),
            }
        }
    }
}
