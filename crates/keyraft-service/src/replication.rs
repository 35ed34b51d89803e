//! Cross-region replication of multi-region keys: the shipper (sender side), the receiver, and
//! the [`Link`] seam that carries messages between regions (gRPC in a deployment, a faulty link
//! in tests).
//!
//! The outbox is part of the key state (`MrkState::acked`, keyraft-core's `multi_region`): a
//! shared change committed in this region leaves every other member's acknowledged version below
//! the key's shared version. The region's leader runs [`run`]: for each pending (key,
//! destination) it sends the key's *full* shared state, material sealed to the destination's
//! transport key; the destination re-wraps the material under its own root key and commits it as
//! its own Raft command (applied only if newer), then answers with what it holds; the leader
//! commits `ReplicaAcked` (or `Fenced` if the answer names a higher epoch). At-least-once
//! delivery plus idempotent apply gives exactly-once effect; a leader change just restarts
//! shipping from the outbox.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use keyraft_core::multi_region::{self, Epoch, MrkState, ReplicaAnswer, SharedState};
use keyraft_core::{Applied, Command, KeyId, KeyRecord, Region};
use keyraft_crypto::transport::{self, TransportKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::KmsError;
use crate::kms::Kms;

/// One shipment: a key's shared state from one region to another.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShipRequest {
    pub from: Region,
    pub to: Region,
    /// The sender's clock when it sealed the shipment (ms since the epoch); the destination
    /// refuses shipments outside [`FRESHNESS`] of its own clock, which bounds replays.
    pub sent_ms: u64,
    /// JSON of the [`SharedState`] with every material's `wrapped` emptied; authenticated as the
    /// sealing context, so it cannot be altered in transit.
    pub shared: Vec<u8>,
    /// The material's secrets, sealed to the destination (`keyraft_crypto::transport`).
    pub sealed: Vec<u8>,
}

/// The destination's answer (sealed back to the sender, bound to the request:
/// `keyraft_crypto::transport::seal_reply`).
pub type ShipReply = Result<ReplicaAnswer, String>;

/// How far a shipment's `sent_ms` may be from the destination's clock.
pub const FRESHNESS: Duration = Duration::from_secs(600);

/// The seam between regions. `ship` delivers a request to any node of region `dest` and returns
/// its sealed reply; an `Err` is a transport failure (the shipper retries).
pub trait Link: Send + Sync + 'static {
    fn ship(
        &self,
        dest: &Region,
        req: ShipRequest,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + Send + '_>>;
}

/// The sealed secrets of a shipment, encoded by hand into one zeroized buffer (no serializer's
/// intermediate copies): per version `version (u32 BE) | format (u8) | length (u32 BE) | secret`.
fn encode_secrets(secrets: &[(u32, u8, Zeroizing<Vec<u8>>)]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(secrets.iter().map(|(_, _, s)| 9 + s.len()).sum()));
    for (version, format, secret) in secrets {
        out.extend_from_slice(&version.to_be_bytes());
        out.push(*format);
        out.extend_from_slice(&(secret.len() as u32).to_be_bytes());
        out.extend_from_slice(secret);
    }
    out
}

/// The secret of `version` in an [`encode_secrets`] buffer, with its format.
fn find_secret(buf: &[u8], version: u32) -> Option<(u8, &[u8])> {
    let mut rest = buf;
    while !rest.is_empty() {
        let v = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
        let format = *rest.get(4)?;
        let len = u32::from_be_bytes(rest.get(5..9)?.try_into().ok()?) as usize;
        let secret = rest.get(9..9usize.checked_add(len)?)?;
        if v == version {
            return Some((format, secret));
        }
        rest = &rest[9 + len..];
    }
    None
}

/// What the shipper reports about one destination region.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DestinationStatus {
    /// Keys whose current shared state this destination has not acknowledged yet.
    pub outbox_depth: usize,
    /// Age of the oldest unacknowledged shared change, in milliseconds.
    pub oldest_pending_ms: Option<u64>,
    pub shipped: u64,
    pub failures: u64,
    pub last_error: Option<String>,
    /// Replication lag of acknowledged changes (change committed → destination acknowledged),
    /// milliseconds, the last [`LAG_SAMPLES`] samples' p50 / p99 / max.
    pub lag_p50_ms: Option<u64>,
    pub lag_p99_ms: Option<u64>,
    pub lag_max_ms: Option<u64>,
}

/// How many lag samples per destination are kept for the status percentiles.
pub const LAG_SAMPLES: usize = 1024;

#[derive(Default)]
struct DestStats {
    shipped: u64,
    failures: u64,
    last_error: Option<String>,
    lags: std::collections::VecDeque<u64>,
    retry_after: Option<Instant>,
}

/// This node's replication setup: its region's transport key, the other regions' transport
/// public keys, and the link to them.
pub struct Replication {
    transport: TransportKey,
    directory: BTreeMap<Region, [u8; 32]>,
    link: Arc<dyn Link>,
    stats: Mutex<BTreeMap<Region, DestStats>>,
    /// When the shipper last probed the replicas of primaries in PendingReplicaDeletion.
    last_probe: Mutex<Option<Instant>>,
}

/// Shipments per destination in flight at once, and per shipper round.
const SHIP_CONCURRENCY: usize = 16;
const SHIP_BATCH: usize = 1024;

/// How often a primary in PendingReplicaDeletion asks its replica regions whether they still
/// hold the key, and a fenced region pings the primary that fenced it.
const PROBE_EVERY: Duration = Duration::from_secs(2);

impl Replication {
    pub fn new(transport: TransportKey, directory: BTreeMap<Region, [u8; 32]>, link: Arc<dyn Link>) -> Self {
        Replication { transport, directory, link, stats: Mutex::default(), last_probe: Mutex::default() }
    }
}

/// The sealing context: sender, destination, time and the clear-text shared state.
fn context(from: &Region, to: &Region, sent_ms: u64, shared: &[u8]) -> Vec<u8> {
    let mut c = Vec::with_capacity(from.as_str().len() + to.as_str().len() + shared.len() + 10);
    c.extend_from_slice(from.as_str().as_bytes());
    c.push(0);
    c.extend_from_slice(to.as_str().as_bytes());
    c.push(0);
    c.extend_from_slice(&sent_ms.to_be_bytes());
    c.extend_from_slice(shared);
    c
}

impl Kms {
    pub(crate) fn replication(&self) -> Result<&Replication, KmsError> {
        self.replication.get().ok_or_else(|| {
            KmsError::Unsupported(
                "Multi-Region replication is not configured on this node (no transport key or region directory)".into(),
            )
        })
    }

    /// Turns replication on (once, at start-up).
    pub fn enable_replication(&self, r: Replication) -> Result<(), KmsError> {
        self.replication.set(r).map_err(|_| KmsError::Internal("replication is already configured".into()))
    }

    /// Whether `region` is a region this node can replicate to.
    pub(crate) fn check_destination(&self, region: &Region) -> Result<(), KmsError> {
        let r = self.replication()?;
        if region == self.region() || !r.directory.contains_key(region) {
            return Err(KmsError::Unsupported(format!(
                "Region {region} is not a region of this keyraft deployment (known: {})",
                r.directory.keys().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(())
    }

    /// Builds the shipment of `k`'s shared state to `dest`.
    fn build_shipment(&self, k: &KeyRecord, m: &MrkState, dest: &Region) -> Result<ShipRequest, KmsError> {
        let r = self.replication()?;
        let dest_public =
            r.directory.get(dest).ok_or_else(|| KmsError::Internal(format!("no transport key for region {dest}")))?;
        let mut shared = multi_region::outgoing(k, m);
        let mut secrets = Vec::with_capacity(shared.material.len());
        for mt in &mut shared.material {
            let (format, secret) = keyraft_crypto::wrap::open_any(self.root(), k.id.as_str(), mt.version, &mt.wrapped)
                .map_err(|e| KmsError::Internal(format!("cannot open material of {} v{}: {e}", k.id, mt.version)))?;
            secrets.push((mt.version, format, secret));
            mt.wrapped = Vec::new();
        }
        let shared = serde_json::to_vec(&shared).map_err(|e| KmsError::Internal(e.to_string()))?;
        let plain = encode_secrets(&secrets);
        let sent_ms = self.node().clock().now_ms();
        let ctx = context(self.region(), dest, sent_ms, &shared);
        let sealed = transport::seal(&r.transport, dest_public, &ctx, &plain, &mut self.rng())
            .map_err(|e| KmsError::Internal(format!("sealing for {dest}: {e}")))?;
        Ok(ShipRequest { from: self.region().clone(), to: dest.clone(), sent_ms, shared, sealed })
    }

    /// Receives a shipment from another region: opens it (only the claimed sender region can have
    /// sealed it), re-wraps the material under this region's root key, commits it as this
    /// region's own command and answers — sealed back to the sender and bound to this request —
    /// with what the region holds afterwards. `Err`: the shipment is not authentic (no reply can
    /// be trusted then, so none is sealed).
    pub async fn receive_shipment(&self, req: ShipRequest) -> Result<Vec<u8>, String> {
        let r = self.replication().map_err(|e| e.to_string())?;
        let sender =
            *r.directory.get(&req.from).ok_or_else(|| format!("region {} is not in the region directory", req.from))?;
        if &req.to != self.region() {
            return Err(format!("shipment for {} delivered to {}", req.to, self.region()));
        }
        let ctx = context(&req.from, &req.to, req.sent_ms, &req.shared);
        let plain = transport::open(&r.transport, &sender, &ctx, &req.sealed)
            .map_err(|e| format!("shipment from {} does not open: {e}", req.from))?;
        let now = self.node().clock().now_ms();
        if now.abs_diff(req.sent_ms) > FRESHNESS.as_millis() as u64 {
            return Err(format!(
                "shipment from {} is stale or from the future (sent {} ms, now {now} ms)",
                req.from, req.sent_ms
            ));
        }
        let reply: ShipReply = self.apply_shipment(&req, &plain).await.map_err(|e| e.to_string());
        let bytes = serde_json::to_vec(&reply).map_err(|e| e.to_string())?;
        transport::seal_reply(&r.transport, &sender, &req.sealed, &bytes, &mut self.rng()).map_err(|e| e.to_string())
    }

    /// The authenticated part of [`Kms::receive_shipment`].
    async fn apply_shipment(&self, req: &ShipRequest, plain: &[u8]) -> Result<ReplicaAnswer, KmsError> {
        let mut shared: SharedState =
            serde_json::from_slice(&req.shared).map_err(|e| KmsError::Validation(format!("shipment: {e}")))?;
        // Proof of possession: a region that holds the key takes a state only from a sender that
        // holds the same first backing key (every history of a key shares its creation material),
        // so a peer region cannot push or pull a key it never had.
        let local = self.node().state().read(|s| s.keys.get(&shared.key).cloned());
        if let Some(k) = &local {
            if let (Some(mine), Some((_, theirs))) = (k.material(1), find_secret(plain, 1)) {
                let (_, mine) = keyraft_crypto::wrap::open_any(self.root(), k.id.as_str(), 1, &mine.wrapped)
                    .map_err(|e| KmsError::Internal(format!("cannot open material of {}: {e}", k.id)))?;
                if !transport::same_secret(&mine, theirs) {
                    return Err(KmsError::Validation(format!(
                        "shipment from {} for {} carries other key material than this region holds",
                        req.from, k.id
                    )));
                }
            }
        }
        for mt in &mut shared.material {
            let (format, secret) = find_secret(plain, mt.version)
                .ok_or_else(|| KmsError::Validation(format!("shipment lacks material version {}", mt.version)))?;
            mt.wrapped = keyraft_crypto::wrap::wrap_any(
                self.root(),
                shared.key.as_str(),
                mt.version,
                format,
                secret,
                &mut self.rng(),
            )
            .map_err(|e| KmsError::Validation(format!("shipment material version {}: {e}", mt.version)))?;
        }
        let key = shared.key.clone();
        let applied = self
            .propose(Command::ApplyReplica {
                region: self.region().clone(),
                from: req.from.clone(),
                state: Box::new(shared),
            })
            .await?;
        match applied {
            Applied::Replica(a) => {
                tracing::debug!(%key, from = %req.from, answer = ?a, "applied shipment");
                Ok(a)
            }
            other => Err(KmsError::Internal(format!("unexpected apply result {other:?}"))),
        }
    }

    /// Ships one key's state to one destination and commits the outcome. A `probe` ships even
    /// if the destination is up to date (a primary in PendingReplicaDeletion learns this way
    /// that a replica was deleted).
    async fn ship_one(&self, key: &KeyId, dest: &Region, probe: bool) -> Result<(), KmsError> {
        let Some((k, m)) = self.node().state().read(|s| {
            let k = s.keys.get(key)?;
            Some((k.clone(), multi_region::state_of(&s.multi_region, k)?))
        }) else {
            return Ok(());
        };
        // A fenced or left-behind region pings the primary (`MrkState::ping_target`), which
        // re-admits it as a replica if it no longer lists it (and then sends it the state).
        let fenced_ping = probe && m.ping_target(self.region()) == Some(dest);
        let up_to_date = m.acked.get(dest).is_none_or(|v| *v >= m.version);
        if !fenced_ping && (m.fenced_by.is_some() || (up_to_date && !(probe && m.replicas.contains(dest)))) {
            return Ok(());
        }
        let req = self.build_shipment(&k, &m, dest)?;
        let request_sealed = req.sealed.clone();
        let r = self.replication()?;
        let link = r.link.clone();
        let sealed_reply = match tokio::time::timeout(Duration::from_secs(5), link.ship(dest, req)).await {
            Err(_) => return Err(KmsError::DependencyTimeout(format!("region {dest} did not answer in 5 s"))),
            Ok(Err(e)) => return Err(KmsError::DependencyTimeout(format!("region {dest}: {e}"))),
            Ok(Ok(bytes)) => bytes,
        };
        // Only the destination can have sealed this reply, and only for this request.
        let dest_public = r.directory.get(dest).ok_or_else(|| KmsError::Internal(format!("no key for {dest}")))?;
        let reply = transport::open_reply(&r.transport, dest_public, &request_sealed, &sealed_reply)
            .map_err(|e| KmsError::DependencyTimeout(format!("region {dest}: the reply does not open: {e}")))?;
        let reply: ShipReply = serde_json::from_slice(&reply)
            .map_err(|e| KmsError::DependencyTimeout(format!("region {dest}: unreadable reply: {e}")))?;
        let answer = reply.map_err(|e| KmsError::Internal(format!("region {dest} refused {key}: {e}")))?;
        let command = match answer {
            ReplicaAnswer::Holds { epoch, .. } if epoch > m.epoch => {
                tracing::warn!(%key, %dest, %epoch, "a higher epoch exists: this region is fenced for the key");
                Command::Fenced { key: key.clone(), by: epoch }
            }
            ReplicaAnswer::Holds { epoch, version } if epoch == m.epoch => {
                Command::ReplicaAcked { key: key.clone(), region: dest.clone(), epoch: m.epoch.clone(), version }
            }
            // Still on an older epoch after our shipment (it did not take it): not an
            // acknowledgement of ours; retried.
            ReplicaAnswer::Holds { epoch, .. } => {
                return Err(KmsError::DependencyTimeout(format!("region {dest} still holds epoch {epoch} of {key}")));
            }
            // The destination deleted its replica (or never had one and is not a member): the
            // primary drops it from the replica list; any other sender just stops sending.
            ReplicaAnswer::NotHeld if m.accepts_shared_changes(self.region()) => {
                Command::ReplicaGone { key: key.clone(), region: dest.clone(), epoch: m.epoch.clone() }
            }
            ReplicaAnswer::NotHeld => Command::ReplicaAcked {
                key: key.clone(),
                region: dest.clone(),
                epoch: m.epoch.clone(),
                version: m.version,
            },
        };
        self.propose(command).await?;
        let now = self.node().clock().now_ms();
        let lag = pending_since(&m, m.acked.get(dest).copied().unwrap_or(0)).map(|t| now.saturating_sub(t));
        if let (Some(lag), Ok(mut stats)) = (lag, self.replication()?.stats.lock()) {
            let s = stats.entry(dest.clone()).or_default();
            s.shipped += 1;
            s.lags.push_back(lag);
            if s.lags.len() > LAG_SAMPLES {
                s.lags.pop_front();
            }
        }
        Ok(())
    }

    async fn ship_logged(&self, key: KeyId, dest: Region, probe: bool) -> Result<(), KmsError> {
        self.ship_one(&key, &dest, probe).await.inspect_err(|e| {
            tracing::debug!(%key, %dest, error = %e, "shipment failed; will retry");
        })
    }

    /// One round of the shipper: every pending (key, destination), destinations in parallel.
    pub async fn ship_pending(&self) {
        let Ok(r) = self.replication() else { return };
        let probe_due = r.last_probe.lock().map(|t| t.is_none_or(|t| t.elapsed() >= PROBE_EVERY)).unwrap_or(false);
        let region = self.region().clone();
        let pending: BTreeMap<Region, Vec<(KeyId, bool)>> = self.node().state().read(|s| {
            let mut out: BTreeMap<Region, Vec<(KeyId, bool)>> = BTreeMap::new();
            for (id, m) in &s.multi_region {
                if probe_due {
                    if let Some(target) = m.ping_target(&region) {
                        out.entry(target.clone()).or_default().push((id.clone(), true));
                    }
                }
                if m.fenced_by.is_some() {
                    continue;
                }
                for (dest, _) in m.pending() {
                    out.entry(dest.clone()).or_default().push((id.clone(), false));
                }
                let waiting = s.keys.get(id).is_some_and(|k| k.state == keyraft_core::KeyState::PendingReplicaDeletion);
                if probe_due && waiting && m.accepts_shared_changes(&region) {
                    for dest in &m.replicas {
                        out.entry(dest.clone()).or_default().push((id.clone(), true));
                    }
                }
            }
            out
        });
        if probe_due {
            if let Ok(mut t) = r.last_probe.lock() {
                *t = Some(Instant::now());
            }
        }
        let now = Instant::now();
        let rounds = pending.into_iter().filter(|(dest, _)| {
            r.stats.lock().map(|s| s.get(dest).and_then(|d| d.retry_after).is_none_or(|t| t <= now)).unwrap_or(true)
        });
        futures::future::join_all(rounds.map(|(dest, keys)| async move {
            // Up to SHIP_CONCURRENCY shipments per destination in flight; a failure backs the
            // destination off for a moment (the rest of this round still completes).
            let shipments: Vec<_> = keys
                .into_iter()
                .take(SHIP_BATCH)
                .map(|(key, probe)| self.ship_logged(key, dest.clone(), probe))
                .collect();
            let results: Vec<Result<(), KmsError>> =
                futures::stream::iter(shipments).buffer_unordered(SHIP_CONCURRENCY).collect().await;
            let failures: Vec<KmsError> = results.into_iter().filter_map(Result::err).collect();
            if let Ok(mut stats) = r.stats.lock() {
                let s = stats.entry(dest.clone()).or_default();
                match failures.into_iter().last() {
                    Some(e) => {
                        s.failures += 1;
                        s.last_error = Some(e.to_string());
                        s.retry_after = Some(Instant::now() + Duration::from_millis(500));
                    }
                    None => {
                        s.retry_after = None;
                        s.last_error = None;
                    }
                }
            }
        }))
        .await;
    }

    /// Per-destination replication status of this node's region (outbox depth from the applied
    /// state; counters and lag from this node's shipper, so meaningful on the leader).
    pub fn replication_status(&self) -> BTreeMap<Region, DestinationStatus> {
        let Ok(r) = self.replication() else { return BTreeMap::new() };
        let now = self.node().clock().now_ms();
        let mut out: BTreeMap<Region, DestinationStatus> =
            r.directory.keys().filter(|d| *d != self.region()).map(|d| (d.clone(), Default::default())).collect();
        self.node().state().read(|s| {
            for m in s.multi_region.values().filter(|m| m.fenced_by.is_none()) {
                for (dest, acked) in m.pending() {
                    let d = out.entry(dest.clone()).or_default();
                    d.outbox_depth += 1;
                    let age = pending_since(m, acked).map(|t| now.saturating_sub(t));
                    d.oldest_pending_ms = d.oldest_pending_ms.max(age);
                }
            }
        });
        if let Ok(stats) = r.stats.lock() {
            for (dest, s) in stats.iter() {
                let d = out.entry(dest.clone()).or_default();
                d.shipped = s.shipped;
                d.failures = s.failures;
                d.last_error = s.last_error.clone();
                let mut lags: Vec<u64> = s.lags.iter().copied().collect();
                lags.sort_unstable();
                let pct = |p: f64| lags.get(((lags.len() as f64 - 1.0) * p).round() as usize).copied();
                (d.lag_p50_ms, d.lag_p99_ms, d.lag_max_ms) = (pct(0.5), pct(0.99), lags.last().copied());
            }
        }
        out
    }

    /// Waits until every destination of `key` acknowledged shared version `version` of `epoch`
    /// (M3: a shared change is acknowledged to the client only once every replica region holds
    /// it). A region that cannot be reached makes this time out: the change stays committed here
    /// and is delivered when the region returns, but the client is not told it succeeded.
    pub(crate) async fn await_replicated(&self, key: &KeyId, epoch: &Epoch, version: u64) -> Result<(), KmsError> {
        let deadline = Instant::now() + self.node().config().write_timeout;
        loop {
            let state = self.read(|s| s.multi_region.get(key).cloned()).await?;
            let Some(m) = state else {
                return Err(KmsError::InvalidState(format!(
                    "{key} was deleted before the change reached every region"
                )));
            };
            let waiting: Vec<Region> = if &m.epoch == epoch {
                m.acked.iter().filter(|(_, v)| **v < version).map(|(r, _)| r.clone()).collect()
            } else {
                // Another epoch is current here. The change counts only if that history carries
                // it (a change is named by its epoch and version; numbers of different epochs do
                // not compare); a change a forced promotion superseded is not acknowledged (M3).
                let named = |c: &keyraft_core::multi_region::SharedChange| &c.epoch == epoch && c.version == version;
                let window_start = m.changes.first().map_or(0, |c| c.version);
                let carried = m.changes.iter().any(named)
                    || (m.changes.len() >= multi_region::MAX_CHANGES
                        && version < window_start
                        && !m.lost.iter().any(|l| named(&l.change)));
                if !carried {
                    return Err(KmsError::InvalidState(format!(
                        "The change to {key} was superseded by epoch {} before every region confirmed it and was not carried over",
                        m.epoch
                    )));
                }
                m.pending().map(|(r, _)| r.clone()).collect()
            };
            if waiting.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(KmsError::DependencyTimeout(format!(
                    "The change to {key} is committed in {} but region(s) {} did not confirm it in time; it will be delivered when they are reachable",
                    self.region(),
                    waiting.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The multi-region state of a key as this node has applied it (no barrier: call after an
    /// operation that passed one).
    pub fn multi_region_state(&self, key: &KeyRecord) -> Option<MrkState> {
        self.node().state().read(|s| multi_region::state_of(&s.multi_region, key))
    }

    /// After a shared change of `k` committed here: for a multi-region key, waits until every
    /// replica region holds it (M3); nothing for a single-region key.
    pub(crate) async fn await_shared_change(&self, k: &KeyRecord) -> Result<(), KmsError> {
        if !k.multi_region {
            return Ok(());
        }
        let m = self.multi_region_state_now(k).await?;
        self.await_replicated(&k.id, &m.epoch, m.version).await
    }

    /// The multi-region state of a key after the read barrier (so it includes a write this node
    /// just made through the leader).
    pub(crate) async fn multi_region_state_now(&self, key: &KeyRecord) -> Result<MrkState, KmsError> {
        self.read(|s| multi_region::state_of(&s.multi_region, key))
            .await?
            .ok_or_else(|| KmsError::Unsupported(format!("{} is not a multi-Region key.", key.arn())))
    }

    /// Every multi-region key's state in this region (for `keyraft dr status`).
    pub fn multi_region_states(&self) -> Vec<(KeyRecord, MrkState)> {
        self.node().state().read(|s| {
            s.keys.values().filter_map(|k| multi_region::state_of(&s.multi_region, k).map(|m| (k.clone(), m))).collect()
        })
    }

    /// Proposes a command and returns the key it names, with a fresh request id.
    pub(crate) async fn propose_key(&self, command: Command) -> Result<KeyRecord, KmsError> {
        crate::kms::applied_key(self.propose(command).await?)
    }
}

/// When a destination that acknowledged `acked` became pending: the time of the oldest change it
/// lacks; for a destination that acknowledged nothing yet (a new replica), the latest change
/// (the one that added it, or a later one), so that its lag is not counted from the key's birth.
fn pending_since(m: &MrkState, acked: u64) -> Option<u64> {
    if acked == 0 {
        return m.changes.last().map(|c| c.time_ms);
    }
    m.changes.iter().find(|c| c.version > acked).map(|c| c.time_ms)
}

/// Runs the shipper until `shutdown` resolves: on the region's leader, whenever an apply changed
/// a multi-region key's state, and every `every` (retries, probes, a new leader's backlog).
pub async fn run(kms: Arc<Kms>, every: Duration, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = kms.node().state().clone();
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => {}
            _ = state.multi_region_changed() => {}
        }
        let node = kms.node();
        if node.raft().metrics().borrow().current_leader != Some(node.config().node_id) {
            continue;
        }
        kms.ship_pending().await;
    }
}
