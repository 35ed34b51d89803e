//! Coalescing of read barriers. Every linearizable read needs a read index that the leader
//! confirmed *after* the read started. Concurrent reads share one confirmation: a caller joins the
//! next round, and a round starts only after the previous one finished, so each round's index was
//! obtained after every member of the round arrived. One leader round trip (one heartbeat quorum)
//! then serves any number of concurrent requests.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::error::RaftNodeError;

type Fetch = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<u64, RaftNodeError>> + Send>> + Send + Sync>;

#[derive(Default)]
struct Rounds {
    running: bool,
    waiting: Vec<oneshot::Sender<Result<u64, RaftNodeError>>>,
}

/// Runs `fetch` once per round for all callers that arrived before the round began.
#[derive(Clone)]
pub struct Coalescer {
    fetch: Fetch,
    rounds: Arc<Mutex<Rounds>>,
}

impl Coalescer {
    pub fn new(fetch: Fetch) -> Self {
        Coalescer { fetch, rounds: Arc::default() }
    }

    /// A read index confirmed by the leader after this call began.
    pub async fn read_index(&self) -> Result<u64, RaftNodeError> {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut r = self.rounds.lock().map_err(|_| RaftNodeError::ShuttingDown)?;
            r.waiting.push(tx);
            !std::mem::replace(&mut r.running, true)
        };
        if start {
            let this = self.clone();
            tokio::spawn(async move { this.run_rounds().await });
        }
        rx.await.map_err(|_| RaftNodeError::ShuttingDown)?
    }

    async fn run_rounds(&self) {
        loop {
            let batch = match self.rounds.lock() {
                Ok(mut r) => {
                    if r.waiting.is_empty() {
                        r.running = false;
                        return;
                    }
                    std::mem::take(&mut r.waiting)
                }
                Err(_) => return,
            };
            let result = (self.fetch)().await;
            for tx in batch {
                let _ = tx.send(result.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_rounds_and_each_round_starts_after_its_callers() {
        let calls = Arc::new(AtomicU64::new(0));
        let c = calls.clone();
        let co = Coalescer::new(Arc::new(move || {
            let c = c.clone();
            Box::pin(async move {
                // The index a round returns is the round's start count, so a caller that arrived
                // after round n started must get an index > n.
                let n = c.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(n)
            })
        }));
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let co = co.clone();
            let calls = calls.clone();
            tasks.push(tokio::spawn(async move {
                let started_before = calls.load(Ordering::SeqCst);
                let idx = co.read_index().await.unwrap();
                assert!(idx > started_before, "round {idx} began before the caller ({started_before})");
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let rounds = calls.load(Ordering::SeqCst);
        assert!(rounds < 200, "200 callers took {rounds} rounds: nothing was coalesced");
    }
}
