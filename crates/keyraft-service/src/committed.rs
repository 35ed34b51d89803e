//! The Raft log index a request's writes committed at, for the audit trail: the edge runs a
//! request inside [`track`], and every write [`crate::Kms`] proposes notes its entry's index.

use std::cell::Cell;
use std::future::Future;

tokio::task_local! {
    static INDEX: Cell<Option<u64>>;
}

/// Runs `f`, returning its output and the highest log index a write committed meanwhile (in
/// this task).
pub async fn track<F: Future>(f: F) -> (F::Output, Option<u64>) {
    INDEX
        .scope(Cell::new(None), async move {
            let out = f.await;
            (out, INDEX.with(Cell::get))
        })
        .await
}

/// Notes a committed write's index (outside [`track`]: nothing).
pub(crate) fn note(index: u64) {
    let _ = INDEX.try_with(|c| c.set(Some(c.get().map_or(index, |i| i.max(index)))));
}
