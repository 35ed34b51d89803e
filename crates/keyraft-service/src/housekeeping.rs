//! Leader-driven, time-based lifecycle: once a key's deletion date has passed, the leader proposes
//! `DeleteKey`; once a key's automatic rotation is due, it proposes `RotateKey` with fresh
//! material; once imported material's ValidTo has passed, it proposes its deletion. Every node so agrees on when each happened.
//! Every node also proposes the key uses it collected (`usage.rs`).

use std::sync::Arc;
use std::time::Duration;

use keyraft_core::command::RequestId;
use keyraft_core::{Command, KeyRecord};

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
        // Every node reports the key uses it served (at most once per `usage::FLUSH_EVERY`).
        kms.flush_usage(false).await;
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
        rotate_due(&kms).await;
        crate::ops::delete_imported_key_material::expire_due(&kms).await;
    }
}

/// Proposes the automatic rotation of every key whose rotation is due by the leader's clock. The
/// leader reads its own applied state; if that is stale (a new leader still applying), the
/// proposal names an old due date or version and the apply refuses it, so each scheduled
/// rotation happens once whichever leader proposes it, and a refused one is retried next tick.
async fn rotate_due(kms: &Kms) {
    let node = kms.node();
    let now = node.clock().now_ms();
    let due: Vec<(KeyRecord, u64)> = node.state().read(|s| {
        s.due_for_rotation(now).into_iter().filter_map(|(id, d)| s.keys.get(&id).cloned().map(|k| (k, d))).collect()
    });
    for (k, due_ms) in due {
        let key = k.id.clone();
        match kms.rotate_automatically(&k, due_ms).await {
            Ok(k) => tracing::info!(%key, version = k.current_version, "rotated key automatically"),
            Err(e) => tracing::debug!(%key, error = %e, "key not rotated"),
        }
    }
}
