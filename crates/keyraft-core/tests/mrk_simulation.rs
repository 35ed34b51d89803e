//! Deterministic simulation of the multi-region key protocol at the pure-core level.
//!
//! Three regions, each one `RegionState`, exchange shared states over a simulated network that
//! loses, duplicates, reorders and partitions messages. The shipper and its handling of answers
//! mirror `keyraft-service`'s `replication::ship_one`: a pending (key, destination) becomes
//! `multi_region::outgoing` of the sender's state, the destination applies it with
//! `Command::ApplyReplica` and answers with what it holds; the sender commits `Fenced` if the
//! answer names a higher epoch than the one it shipped in, `ReplicaAcked` otherwise. Shared
//! changes (ReplicateKey, UpdatePrimaryRegion, SetRotation, RotateKey) and forced promotions are
//! issued at random regions.
//!
//! Checked on every step:
//! - M1: every shared change is made by the primary named by the epoch it is made in, unfenced,
//!   and for each epoch only one region ever makes changes in it. The epoch a change is made in
//!   is the region's epoch before the change, except for ForcePromote (the new epoch it creates):
//!   UpdatePrimaryRegion is made by the old primary in its epoch, although the state it produces
//!   names the next one.
//! - M1b: an `(epoch, version)` names one state: every region holding it got it through the same
//!   sequence of shared changes (a ghost lineage of change ids tracked by the simulation).
//! - Monotonicity: the `(epoch, version)` a region holds never decreases.
//! - Retried commands (same request id) return the first result and change nothing.
//!
//! After the random phase the network heals and a quiescence phase ships and delivers everything
//! without faults or new changes until nothing is pending, then checks M5: every member of the
//! winning state holds the same `(epoch, version)`, replicas, material and current version;
//! exactly one unfenced region believes it is primary; `lost` entries name lower epochs.
//!
//! Reproduce a seed with its trace: `SIM_SEED=<n> cargo test -p keyraft-core --test
//! mrk_simulation -- --nocapture one_seed`. `SIM_SEEDS` / `SIM_STEPS` change the sweep.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use keyraft_core::command::{Applied, ApplyResult, Command, Envelope, RequestId};
use keyraft_core::multi_region::{self, Epoch, MrkState, ReplicaAnswer, ReplicaInit, SharedState, MAX_CHANGES};
use keyraft_core::rotation::RotationType;
use keyraft_core::state::{RegionState, Touched};
use keyraft_core::{AccountId, KeyId, KeyRecord, Region, WrappedMaterial};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-south-1"];
const DEFAULT_SEEDS: u64 = 2_000;
const DEFAULT_STEPS: usize = 200;
const QUIESCENCE_LIMIT: usize = 2_000;

/// A shared change's identity in the ghost lineage: (time stamp, shared version). Time stamps are
/// unique across regions (one global clock advanced on every apply).
type ChangeId = (u64, u64);

#[derive(Clone, Debug)]
enum Msg {
    /// A shipment of `from`'s state to `to`, sent while `from` held `sent_epoch`.
    Ship { from: usize, to: usize, state: Box<SharedState>, sent_epoch: Epoch, lineage: Vec<ChangeId> },
    /// `dest`'s answer to a shipment from `from`.
    Answer { from: usize, dest: usize, sent_epoch: Epoch, answer: ReplicaAnswer },
}

impl Msg {
    fn ends(&self) -> (usize, usize) {
        match self {
            Msg::Ship { from, to, .. } => (*from, *to),
            Msg::Answer { from, dest, .. } => (*from, *dest),
        }
    }
}

/// A shared change a region made (ghost record).
#[derive(Clone, Debug)]
struct Made {
    region: usize,
    id: ChangeId,
    epoch: Epoch,
    what: String,
}

#[derive(Default, Debug, Clone)]
struct Stats {
    changes: u64,
    handovers: u64,
    promotions: u64,
    fenced: u64,
    adopted: u64,
    lost_reported: u64,
    orphans: u64,
    max_epoch: u64,
}

/// What a run exercises and checks.
#[derive(Clone, Copy, Debug)]
struct Config {
    /// Issue forced promotions (`keyraft dr promote`).
    force_promote: bool,
    /// Issue UpdatePrimaryRegion only once every replica was created (the primary holds no
    /// pending `replica_init`), as AWS refuses to promote a replica still in `Creating`.
    cautious_handover: bool,
    /// Add the strict "not carried over" check ([`Sim::check_lost_strict`]).
    strict_lost: bool,
}

struct Sim {
    cfg: Config,
    seed: u64,
    rng: StdRng,
    regions: Vec<Region>,
    states: Vec<RegionState>,
    key: KeyId,
    clock: u64,
    next_req: u128,
    next_material: u8,
    net: Vec<Msg>,
    partitioned: BTreeSet<(usize, usize)>,
    trace: Vec<String>,
    /// The command being applied (printed with a failure found while checking it).
    applying: Option<String>,
    /// Per region: the lineage of the shared state it holds.
    ghost: Vec<Vec<ChangeId>>,
    /// M1b: every `(epoch, version)` ever held, with its lineage.
    named: BTreeMap<(Epoch, u64), Vec<ChangeId>>,
    /// M1: the region that made changes in each epoch.
    writers: BTreeMap<Epoch, usize>,
    /// Monotonicity: the `(epoch, version)` each region held last.
    held: Vec<Option<(Epoch, u64)>>,
    made: Vec<Made>,
    stats: Stats,
}

fn pair(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

impl Sim {
    fn new(seed: u64, cfg: Config) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let key = KeyId::mrk_from_bytes(rng.gen());
        let regions: Vec<Region> = REGIONS.iter().map(|r| Region::parse(r).unwrap()).collect();
        let n = regions.len();
        Sim {
            cfg,
            seed,
            rng,
            regions,
            states: vec![RegionState::default(); n],
            key,
            clock: 1_700_000_000_000,
            next_req: 0,
            next_material: 0,
            net: Vec::new(),
            partitioned: BTreeSet::new(),
            trace: Vec::new(),
            applying: None,
            ghost: vec![Vec::new(); n],
            named: BTreeMap::new(),
            writers: BTreeMap::new(),
            held: vec![None; n],
            made: Vec::new(),
            stats: Stats::default(),
        }
    }

    fn name(&self, r: usize) -> &str {
        self.regions[r].as_str()
    }

    fn material(&mut self, version: u32) -> WrappedMaterial {
        self.next_material = self.next_material.wrapping_add(1);
        WrappedMaterial { version, created_ms: 0, wrapped: vec![self.next_material; 8], public_key: None }
    }

    fn record(&self, r: usize) -> Option<&KeyRecord> {
        self.states[r].keys.get(&self.key)
    }

    fn mrk(&self, r: usize) -> Option<MrkState> {
        let k = self.record(r)?;
        multi_region::state_of(&self.states[r].multi_region, k)
    }

    fn holders(&self) -> Vec<usize> {
        (0..self.regions.len()).filter(|r| self.record(*r).is_some()).collect()
    }

    fn log(&mut self, s: String) {
        self.trace.push(s);
    }

    fn fail(&self, what: String) -> String {
        let mut out = format!("seed {}: {what}\ntrace ({} entries):\n", self.seed, self.trace.len());
        let quiet = self.trace.iter().position(|t| t.starts_with("-- heal all")).unwrap_or(usize::MAX);
        for (i, t) in self.trace.iter().enumerate() {
            if i > quiet.saturating_add(40) {
                let _ = writeln!(out, "  ... {} more quiescence entries", self.trace.len() - i);
                break;
            }
            let _ = writeln!(out, "  {i:4} {t}");
        }
        if let Some(a) = &self.applying {
            let _ = writeln!(out, "  >>>> while applying: {a}");
        }
        out.push_str("final states:\n");
        for r in 0..self.regions.len() {
            let _ = writeln!(out, "  {}: {}", self.name(r), self.describe(r));
        }
        out
    }

    fn describe(&self, r: usize) -> String {
        match (self.record(r), self.mrk(r)) {
            (Some(k), Some(m)) => format!(
                "epoch {} v{} base {} replicas {:?} acked {:?} init {:?} fenced {:?} staged {:?} current {} material {:?} lost {:?}",
                m.epoch,
                m.version,
                m.epoch_base,
                m.replicas.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                m.acked.iter().map(|(r, v)| (r.as_str(), *v)).collect::<Vec<_>>(),
                m.replica_init.keys().map(|r| r.as_str()).collect::<Vec<_>>(),
                m.fenced_by.as_ref().map(|e| e.to_string()),
                m.staged.as_ref().map(|s| (s.material_version, s.shared_version)),
                k.current_version,
                k.material.iter().map(|mt| (mt.version, mt.wrapped[0])).collect::<Vec<_>>(),
                m.lost.iter().map(|l| (l.change.epoch.to_string(), l.change.version, l.superseded_by.to_string())).collect::<Vec<_>>(),
            ),
            _ => "no key".into(),
        }
    }

    /// Applies `command` in region `r` (a fresh request id, a later time stamp), sometimes twice
    /// (a retried forward), and checks the per-step invariants.
    fn apply(&mut self, r: usize, command: Command, lineage: Option<&[ChangeId]>) -> Result<ApplyResult, String> {
        self.clock += self.rng.gen_range(1..=1_000);
        self.next_req += 1;
        let env = Envelope { request_id: RequestId(self.next_req.to_be_bytes()), time_ms: self.clock, command };
        let before = self.mrk(r);
        self.applying = Some(format!("{} in {}", short(&env.command), self.name(r)));
        let result = self.states[r].apply(&env, &mut Touched::default());
        if self.rng.gen_bool(0.05) {
            let snapshot = self.states[r].clone();
            let again = self.states[r].apply(&env, &mut Touched::default());
            if again != result {
                return Err(self.fail(format!(
                    "idempotency: retried request in {} answered {again:?}, first {result:?}",
                    self.name(r)
                )));
            }
            let mut expect = snapshot;
            expect.clock_ms = self.states[r].clock_ms;
            if expect != self.states[r] {
                return Err(self.fail(format!("idempotency: retried request changed {}", self.name(r))));
            }
        }
        self.check_step(r, &env.command, before, lineage)?;
        self.applying = None;
        Ok(result)
    }

    fn check_step(
        &mut self,
        r: usize,
        command: &Command,
        before: Option<MrkState>,
        lineage: Option<&[ChangeId]>,
    ) -> Result<(), String> {
        let Some(after) = self.mrk(r) else { return Ok(()) };
        let now = self.states[r].clock_ms;
        let changed = before.as_ref().is_none_or(|b| (&b.epoch, b.version) != (&after.epoch, after.version));
        if !changed {
            return Ok(());
        }
        // Monotonicity.
        if let Some((e, v)) = &self.held[r] {
            if (&after.epoch, after.version) < (e, *v) {
                return Err(self.fail(format!(
                    "monotonicity: {} went from ({e}, v{v}) back to ({}, v{})",
                    self.name(r),
                    after.epoch,
                    after.version
                )));
            }
        }
        self.held[r] = Some((after.epoch.clone(), after.version));
        // A stale shipment from a non-member re-admits it: a local shared change of the receiver.
        let readmit = matches!(command, Command::ApplyReplica { .. })
            && after.epoch.primary == self.regions[r]
            && before.as_ref().is_some_and(|b| b.epoch == after.epoch && after.version == b.version + 1)
            && after.changes.last().is_some_and(|c| c.what.contains("re-admitted"));
        match command {
            Command::ApplyReplica { .. } if !readmit => {
                // Adopted a shipped state: its lineage is the sender's.
                self.ghost[r] = lineage.expect("shipment lineage").to_vec();
                self.stats.adopted += 1;
            }
            Command::CreateKey { .. } => {
                self.ghost[r] = vec![(now, after.version)];
                self.writers.insert(after.epoch.clone(), r);
            }
            _ => {
                // A local shared change (one bump per apply).
                let before = before.expect("a change of an existing key");
                if after.version != before.version + 1 {
                    return Err(self.fail(format!(
                        "{} went from v{} to v{} in one local change ({command:?})",
                        self.name(r),
                        before.version,
                        after.version
                    )));
                }
                let made_in = if matches!(command, Command::ForcePromote { .. }) {
                    after.epoch.clone()
                } else {
                    before.epoch.clone()
                };
                let what = after.changes.last().map(|c| c.what.clone()).unwrap_or_default();
                if made_in.primary != self.regions[r] {
                    return Err(self.fail(format!(
                        "M1: {} made a shared change ({what}) in epoch {made_in}, which names another primary",
                        self.name(r)
                    )));
                }
                if !matches!(command, Command::ForcePromote { .. }) && before.fenced_by.is_some() {
                    return Err(self.fail(format!("M1: {} made a shared change ({what}) while fenced", self.name(r))));
                }
                let writer = *self.writers.entry(made_in.clone()).or_insert(r);
                if writer != r {
                    return Err(self.fail(format!(
                        "M1: epoch {made_in} has two writers: {} and {} ({what})",
                        self.name(writer),
                        self.name(r)
                    )));
                }
                let id = (now, after.version);
                self.ghost[r].push(id);
                self.made.push(Made { region: r, id, epoch: made_in, what });
                self.stats.changes += 1;
            }
        }
        // M1b: one state per (epoch, version).
        let key = (after.epoch.clone(), after.version);
        match self.named.get(&key) {
            None => {
                self.named.insert(key, self.ghost[r].clone());
            }
            Some(known) if known != &self.ghost[r] => {
                let (known, mine) = (known.clone(), self.ghost[r].clone());
                return Err(self.fail(format!(
                    "M1b: ({}, v{}) names two different states: lineage {known:?} and, in {}, {mine:?}",
                    after.epoch,
                    after.version,
                    self.name(r)
                )));
            }
            Some(_) => {}
        }
        self.stats.max_epoch = self.stats.max_epoch.max(after.epoch.n);
        Ok(())
    }

    fn create(&mut self) -> Result<(), String> {
        let mut rec =
            KeyRecord::new(self.key.clone(), AccountId::parse("111122223333").unwrap(), self.regions[0].clone());
        rec.multi_region = true;
        rec.material = vec![self.material(1)];
        self.log(format!("create {} in {}", self.key, self.name(0)));
        let res = self.apply(0, Command::CreateKey { record: Box::new(rec) }, None)?;
        res.map_err(|e| format!("CreateKey failed: {e}"))?;
        Ok(())
    }

    fn is_partitioned(&self, a: usize, b: usize) -> bool {
        self.partitioned.contains(&pair(a, b))
    }

    /// (a) A region's shipper sends its state to one pending destination (not when fenced).
    fn ship(&mut self, r: usize, dest: Option<usize>) -> bool {
        let (Some(k), Some(m)) = (self.record(r).cloned(), self.mrk(r)) else { return false };
        // Like the shipper: pending destinations, or — when fenced — a ping to the primary that
        // fenced the region (which re-admits it if it no longer lists it).
        let pos = |d: &Region| self.regions.iter().position(|x| x == d).expect("known region");
        let mut pending: Vec<usize> =
            if m.fenced_by.is_some() { vec![] } else { m.pending().map(|(d, _)| pos(d)).collect() };
        if let Some(t) = m.ping_target(&self.regions[r]) {
            pending.push(pos(t));
        }
        let pending: Vec<usize> = pending.into_iter().filter(|d| dest.is_none_or(|x| x == *d)).collect();
        if pending.is_empty() {
            return false;
        }
        let to = pending[self.rng.gen_range(0..pending.len())];
        let state = multi_region::outgoing(&k, &m);
        let line = format!(
            "ship {} -> {}: ({}, v{}) replicas {:?} init for dest {}",
            self.name(r),
            self.name(to),
            state.epoch,
            state.version,
            state.replicas.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            state.inits.contains_key(&self.regions[to])
        );
        if self.is_partitioned(r, to) {
            self.log(format!("{line} [partitioned: lost]"));
            return true;
        }
        self.log(line);
        self.net.push(Msg::Ship {
            from: r,
            to,
            state: Box::new(state),
            sent_epoch: m.epoch.clone(),
            lineage: self.ghost[r].clone(),
        });
        true
    }

    /// (b)/(c) Delivers in-flight message `i`, possibly keeping a duplicate or dropping it.
    fn deliver(&mut self, i: usize, faults: bool) -> Result<(), String> {
        let msg = if faults && self.rng.gen_bool(0.1) { self.net[i].clone() } else { self.net.swap_remove(i) };
        if faults && self.rng.gen_bool(0.05) {
            let (a, b) = msg.ends();
            self.log(format!("drop a message between {} and {}", self.name(a), self.name(b)));
            return Ok(());
        }
        match msg {
            Msg::Ship { from, to, state, sent_epoch, lineage } => {
                let line =
                    format!("deliver {} -> {}: ({}, v{})", self.name(from), self.name(to), state.epoch, state.version);
                let command =
                    Command::ApplyReplica { region: self.regions[to].clone(), from: self.regions[from].clone(), state };
                let res = self.apply(to, command, Some(&lineage))?;
                match res {
                    Ok(Applied::Replica(answer)) => {
                        self.log(format!("{line}: answers {answer:?}"));
                        if self.is_partitioned(from, to) {
                            self.log("  answer lost [partitioned]".into());
                        } else {
                            self.net.push(Msg::Answer { from, dest: to, sent_epoch, answer });
                        }
                    }
                    Ok(other) => return Err(self.fail(format!("ApplyReplica answered {other:?}"))),
                    Err(e) => self.log(format!("{line}: refused: {e}")),
                }
            }
            Msg::Answer { from, dest, sent_epoch, answer } => {
                // Mirrors ship_one.
                let command = match answer {
                    ReplicaAnswer::Holds { epoch, .. } if epoch > sent_epoch => {
                        Command::Fenced { key: self.key.clone(), by: epoch }
                    }
                    ReplicaAnswer::Holds { version, .. } => Command::ReplicaAcked {
                        key: self.key.clone(),
                        region: self.regions[dest].clone(),
                        epoch: sent_epoch,
                        version,
                    },
                    // Mirrors ship_one: the primary drops the region, any other sender stops.
                    ReplicaAnswer::NotHeld => {
                        let primary = self.mrk(from).is_some_and(|m| m.accepts_shared_changes(&self.regions[from]));
                        if primary {
                            Command::ReplicaGone {
                                key: self.key.clone(),
                                region: self.regions[dest].clone(),
                                epoch: sent_epoch,
                            }
                        } else {
                            Command::ReplicaAcked {
                                key: self.key.clone(),
                                region: self.regions[dest].clone(),
                                epoch: sent_epoch.clone(),
                                version: self.mrk(from).map_or(0, |m| m.version),
                            }
                        }
                    }
                };
                let line = format!("answer {} -> {}: {command:?}", self.name(dest), self.name(from));
                let fenced = matches!(command, Command::Fenced { .. });
                let res = self.apply(from, command, None)?;
                if fenced && res.is_ok() {
                    self.stats.fenced += 1;
                }
                self.log(format!("{line} => {}", if res.is_ok() { "ok".into() } else { format!("{res:?}") }));
            }
        }
        Ok(())
    }

    /// (d) A shared change issued at region `r`.
    fn shared_change(&mut self, r: usize) -> Result<(), String> {
        let Some(k) = self.record(r).cloned() else { return Ok(()) };
        let other = (r + self.rng.gen_range(1..self.regions.len())) % self.regions.len();
        let key = self.key.clone();
        let command = match self.rng.gen_range(0..10) {
            0..=2 => Command::ReplicateKey {
                key,
                region: self.regions[other].clone(),
                init: ReplicaInit { description: format!("replica {}", self.name(other)), ..Default::default() },
            },
            3..=4 if self.cfg.cautious_handover && self.mrk(r).is_some_and(|m| !m.replica_init.is_empty()) => {
                self.log(format!("(no handover from {}: a replica is still being created)", self.name(r)));
                return Ok(());
            }
            3..=4 => Command::UpdatePrimaryRegion { key, region: self.regions[other].clone() },
            5..=6 => Command::SetRotation {
                key,
                period_days: if self.rng.gen_bool(0.5) { Some(self.rng.gen_range(90..=365)) } else { None },
            },
            _ => {
                let version = keyraft_core::rotation::next_version(&k);
                Command::RotateKey { key, kind: RotationType::OnDemand, material: self.material(version), due_ms: None }
            }
        };
        let line = format!("change in {}: {}", self.name(r), short(&command));
        let handover = matches!(command, Command::UpdatePrimaryRegion { .. });
        let res = self.apply(r, command, None)?;
        if handover && res.is_ok() {
            self.stats.handovers += 1;
        }
        self.log(format!("{line} => {}", outcome(&res)));
        Ok(())
    }

    /// (e) A forced promotion in region `r`.
    fn force_promote(&mut self, r: usize) -> Result<(), String> {
        if self.record(r).is_none() {
            return Ok(());
        }
        let line = format!("force-promote {}", self.name(r));
        let res = self.apply(r, Command::ForcePromote { key: self.key.clone() }, None)?;
        if res.is_ok() {
            self.stats.promotions += 1;
        }
        let e = self.mrk(r).map(|m| m.epoch.to_string()).unwrap_or_default();
        self.log(format!("{line} => {} (epoch {e})", outcome(&res)));
        Ok(())
    }

    /// (f) Partitions or heals a pair of regions.
    fn toggle_partition(&mut self) {
        let a = self.rng.gen_range(0..self.regions.len());
        let b = (a + self.rng.gen_range(1..self.regions.len())) % self.regions.len();
        let p = pair(a, b);
        if self.partitioned.remove(&p) {
            self.log(format!("heal {} <-> {}", self.name(a), self.name(b)));
        } else {
            self.partitioned.insert(p);
            let before = self.net.len();
            self.net.retain(|m| {
                let (x, y) = m.ends();
                pair(x, y) != p
            });
            let dropped = before - self.net.len();
            self.log(format!("partition {} <-> {} ({dropped} in flight lost)", self.name(a), self.name(b)));
        }
    }

    fn step(&mut self) -> Result<(), String> {
        let n = self.regions.len();
        let r = self.rng.gen_range(0..n);
        match self.rng.gen_range(0..100) {
            0..=29 => {
                self.ship(r, None);
            }
            30..=54 => {
                let ships: Vec<usize> =
                    (0..self.net.len()).filter(|i| matches!(self.net[*i], Msg::Ship { .. })).collect();
                if !ships.is_empty() {
                    let i = ships[self.rng.gen_range(0..ships.len())];
                    self.deliver(i, true)?;
                }
            }
            55..=79 => {
                let answers: Vec<usize> =
                    (0..self.net.len()).filter(|i| matches!(self.net[*i], Msg::Answer { .. })).collect();
                if !answers.is_empty() {
                    let i = answers[self.rng.gen_range(0..answers.len())];
                    self.deliver(i, true)?;
                }
            }
            80..=91 => self.shared_change(r)?,
            92..=93 if self.cfg.force_promote => self.force_promote(r)?,
            92..=93 => self.shared_change(r)?,
            _ => self.toggle_partition(),
        }
        Ok(())
    }

    /// Heals the network and runs the protocol without faults or new changes until nothing is
    /// pending.
    fn quiesce(&mut self) -> Result<(), String> {
        self.partitioned.clear();
        self.log("-- heal all; quiescence".into());
        for _ in 0..QUIESCENCE_LIMIT {
            if !self.net.is_empty() {
                let i = self.rng.gen_range(0..self.net.len());
                self.deliver(i, false)?;
                continue;
            }
            let shippers: Vec<usize> = (0..self.regions.len())
                .filter(|r| {
                    self.mrk(*r).is_some_and(|m| {
                        (m.fenced_by.is_none() && m.pending().next().is_some())
                            || m.ping_target(&self.regions[*r]).is_some()
                    })
                })
                .collect();
            if shippers.is_empty() {
                return Ok(());
            }
            for r in shippers {
                while self.ship(r, None) {
                    // One shipment per pending destination: `ship` picks among them at random, so
                    // loop until each was sent (bounded by the network check below).
                    if self.net.len() >= self.regions.len() * 4 {
                        break;
                    }
                }
            }
        }
        Err(self.fail(format!(
            "M5: no convergence after {QUIESCENCE_LIMIT} quiescence steps (pending shipments keep failing)"
        )))
    }

    fn check_final(&mut self) -> Result<(), String> {
        let holders = self.holders();
        let states: BTreeMap<usize, (KeyRecord, MrkState)> =
            holders.iter().map(|r| (*r, (self.record(*r).unwrap().clone(), self.mrk(*r).unwrap()))).collect();
        let top = states.values().map(|(_, m)| m.epoch.clone()).max().expect("the key exists somewhere");
        let (_, winner) =
            states.values().filter(|(_, m)| m.epoch == top).max_by_key(|(_, m)| m.version).expect("a top state");
        let members: Vec<usize> =
            winner.members().iter().map(|m| self.regions.iter().position(|x| x == m).unwrap()).collect();
        let (wk, wm) = states
            .get(&members[0])
            .ok_or_else(|| self.fail(format!("M5: member {} of the final state does not hold the key", members[0])))?;
        for r in &members {
            let Some((k, m)) = states.get(r) else {
                return Err(self.fail(format!("M5: {} is a member of the final state but holds no key", self.name(*r))));
            };
            let material =
                |k: &KeyRecord| k.material.iter().map(|mt| (mt.version, mt.wrapped.clone())).collect::<Vec<_>>();
            let mut differ = Vec::new();
            if (&m.epoch, m.version) != (&wm.epoch, wm.version) {
                differ.push("(epoch, version)");
            }
            if m.replicas != wm.replicas {
                differ.push("replicas");
            }
            if material(k) != material(wk) {
                let conflict = k
                    .material
                    .iter()
                    .any(|a| wk.material.iter().any(|b| a.version == b.version && a.wrapped != b.wrapped));
                differ.push(if conflict { "material (one version, two secrets)" } else { "material (extra versions)" });
            }
            if k.current_version != wk.current_version {
                differ.push("current version");
            }
            if k.rotation_period_days != wk.rotation_period_days {
                differ.push("rotation period");
            }
            if !differ.is_empty() {
                return Err(self.fail(format!(
                    "M5 {}: {} and {} differ after quiescence",
                    differ.join(", "),
                    self.name(members[0]),
                    self.name(*r)
                )));
            }
        }
        let primaries: Vec<usize> = states
            .iter()
            .filter(|(r, (_, m))| m.epoch.primary == self.regions[**r] && m.fenced_by.is_none())
            .map(|(r, _)| *r)
            .collect();
        if primaries.len() != 1 {
            return Err(self.fail(format!(
                "M5: {} unfenced regions believe they are primary: {:?}",
                primaries.len(),
                primaries.iter().map(|r| self.name(*r)).collect::<Vec<_>>()
            )));
        }
        for (r, (_, m)) in &states {
            for l in &m.lost {
                if !(l.change.epoch < l.superseded_by && l.change.epoch < top) {
                    return Err(self.fail(format!(
                        "lost: {} reports a change of epoch {} superseded by {} (final epoch {top})",
                        self.name(*r),
                        l.change.epoch,
                        l.superseded_by
                    )));
                }
            }
            self.stats.lost_reported += m.lost.len() as u64;
            if !members.contains(r) {
                self.stats.orphans += 1;
            }
        }
        Ok(())
    }

    /// The strict "not carried over" check: every shared change a member region made that is not
    /// in the final state's lineage is in its `lost` report (if still in the MAX_CHANGES window).
    fn check_lost_strict(&self) -> Result<(), String> {
        let Some(top) = self.holders().into_iter().max_by_key(|r| self.held[*r].clone()) else { return Ok(()) };
        let final_lineage: BTreeSet<ChangeId> = self.ghost[top].iter().copied().collect();
        let max_version = self.held.iter().flatten().map(|(_, v)| *v).max().unwrap_or(0);
        for c in &self.made {
            if final_lineage.contains(&c.id) || c.id.1 + MAX_CHANGES as u64 <= max_version {
                continue;
            }
            let Some(m) = self.mrk(c.region) else { continue };
            if !m.lost.iter().any(|l| (l.change.time_ms, l.change.version) == c.id) {
                return Err(self.fail(format!(
                    "lost (strict): {} made v{} ({}) in epoch {}; it is not in the final state and not reported as lost",
                    self.name(c.region),
                    c.id.1,
                    c.what,
                    c.epoch
                )));
            }
        }
        Ok(())
    }
}

fn short(c: &Command) -> String {
    match c {
        Command::ReplicateKey { region, .. } => format!("ReplicateKey({region})"),
        Command::UpdatePrimaryRegion { region, .. } => format!("UpdatePrimaryRegion({region})"),
        Command::SetRotation { period_days, .. } => format!("SetRotation({period_days:?})"),
        Command::RotateKey { material, .. } => format!("RotateKey(v{})", material.version),
        other => format!("{other:?}"),
    }
}

fn outcome(r: &ApplyResult) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => format!("refused: {e}"),
    }
}

/// One simulation run.
fn run(seed: u64, steps: usize, cfg: Config) -> Result<(Stats, Vec<String>), String> {
    let mut sim = Sim::new(seed, cfg);
    sim.create()?;
    for _ in 0..steps {
        sim.step()?;
    }
    sim.quiesce()?;
    sim.check_final()?;
    if cfg.strict_lost {
        sim.check_lost_strict()?;
    }
    Ok((sim.stats.clone(), sim.trace))
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn sweep(cfg: Config) {
    let seeds = env_or("SIM_SEEDS", DEFAULT_SEEDS);
    let steps = env_or("SIM_STEPS", DEFAULT_STEPS);
    let started = std::time::Instant::now();
    let mut total = Stats::default();
    // Per invariant: failing seeds, and the seed, length and text of the shortest trace.
    let mut failures: BTreeMap<String, (u64, u64, usize, String)> = BTreeMap::new();
    for seed in 0..seeds {
        match run(seed, steps, cfg) {
            Ok((s, _)) => {
                total.changes += s.changes;
                total.handovers += s.handovers;
                total.promotions += s.promotions;
                total.fenced += s.fenced;
                total.adopted += s.adopted;
                total.lost_reported += s.lost_reported;
                total.orphans += s.orphans;
                total.max_epoch = total.max_epoch.max(s.max_epoch);
            }
            Err(e) => {
                // Group failures by invariant; keep the shortest trace of each.
                let kind = e.split(':').nth(1).unwrap_or("").trim().to_string();
                let len = e.lines().count();
                let entry = failures.entry(kind).or_insert((0, seed, usize::MAX, String::new()));
                entry.0 += 1;
                if len < entry.2 {
                    (entry.1, entry.2, entry.3) = (seed, len, e);
                }
            }
        }
    }
    println!("{seeds} seeds x {steps} steps in {:?}: {total:?}", started.elapsed());
    if !failures.is_empty() {
        let mut msg = String::new();
        for (kind, (count, seed, _, e)) in &failures {
            let _ = writeln!(msg, "=== {kind}: {count} seed(s); shortest trace: seed {seed} ===\n{e}");
        }
        panic!("{} invariant(s) violated:\n{msg}", failures.len());
    }
}

/// Replication, rotation and planned primary changes (issued only once every replica exists)
/// under loss, duplication, reordering and partitions; no forced promotion.
#[test]
fn mrk_protocol_simulation_planned_handovers() {
    sweep(Config { force_promote: false, cautious_handover: true, strict_lost: true });
}

/// Planned primary changes issued at any time, also before a new replica was created (its
/// `ReplicaInit` travels with every shipment until it is acknowledged; SIM_NO_PROMOTE=1
/// SIM_SEED=1510 one_seed was the case that lost it).
#[test]
fn mrk_protocol_simulation_any_handover() {
    sweep(Config { force_promote: false, cautious_handover: false, strict_lost: true });
}

/// The full model, forced promotions included.
#[test]
fn mrk_protocol_simulation() {
    sweep(Config { force_promote: true, cautious_handover: false, strict_lost: false });
}

/// The full model with the strict "not carried over" report check.
#[test]
fn mrk_protocol_simulation_strict_lost_report() {
    sweep(Config { force_promote: true, cautious_handover: false, strict_lost: true });
}

/// Runs `SIM_SEED` alone and prints its trace.
#[test]
fn one_seed() {
    let Some(seed) = std::env::var("SIM_SEED").ok().and_then(|v| v.parse().ok()) else { return };
    let steps = env_or("SIM_STEPS", DEFAULT_STEPS);
    let cfg = Config {
        force_promote: std::env::var("SIM_NO_PROMOTE").is_err(),
        cautious_handover: std::env::var("SIM_CAUTIOUS").is_ok(),
        strict_lost: std::env::var("SIM_STRICT").is_ok(),
    };
    match run(seed, steps, cfg) {
        Ok((s, trace)) => {
            for t in trace {
                println!("{t}");
            }
            println!("{s:?}");
        }
        Err(e) => panic!("{e}"),
    }
}
