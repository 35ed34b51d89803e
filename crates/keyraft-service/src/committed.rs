//! The Raft log index a request's writes committed at, for the audit trail: the edge runs a
//! request inside [`track`], and every write [`crate::Kms`] proposes notes its entry's index.
//! Also the request ids of a request with an explicit idempotency key ([`idempotent`], the gRPC
//! edge): task-locals the edge scopes around one request, read by `Kms::propose`.

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

/// How the request ids of an explicitly idempotent request are made: the n-th proposal of the
/// request (n from 0) gets `derive(n)`.
struct Idempotency {
    derive: Box<dyn Fn(u32) -> [u8; 16] + Send + Sync>,
    next: Cell<u32>,
}

tokio::task_local! {
    static IDEMPOTENCY: Idempotency;
}

/// Runs `f` with request ids derived from a client's idempotency key instead of random ones:
/// the n-th command `f` proposes (in this task) carries `derive(n)`, so the same request repeated
/// (same caller, operation and key: the edge's `derive` hashes them) applies once and answers the
/// first outcome while Raft remembers the id (15 minutes), and an operation that proposes twice
/// does not collide with itself. Outside this scope every command gets a random id.
pub async fn idempotent<F: Future>(derive: impl Fn(u32) -> [u8; 16] + Send + Sync + 'static, f: F) -> F::Output {
    IDEMPOTENCY.scope(Idempotency { derive: Box::new(derive), next: Cell::new(0) }, f).await
}

/// The request id for the next proposal inside [`idempotent`] (outside: `None`).
pub(crate) fn next_request_id() -> Option<[u8; 16]> {
    IDEMPOTENCY
        .try_with(|i| {
            let n = i.next.get();
            i.next.set(n.wrapping_add(1));
            (i.derive)(n)
        })
        .ok()
}
