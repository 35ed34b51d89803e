//! Raft commands. The leader builds each one completely (time stamped, key material generated and
//! wrapped) before proposing it, so that apply needs nothing from its environment.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::ids::{AliasName, KeyId, Region};
use crate::model::{AliasRecord, KeyRecord};
use crate::multi_region::{Epoch, ReplicaAnswer, ReplicaInit, SharedState};

/// An idempotency id: a command proposed twice with the same id (a retried forward after a leader
/// change) is applied once; the second apply returns the first result.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId(pub [u8; 16]);

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// What goes into the Raft log: a command with its idempotency id and the leader's time stamp.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub request_id: RequestId,
    /// Milliseconds since the Unix epoch, read by the proposing node. Apply uses
    /// `max(time_ms, last time applied)`, so time never goes backwards in the state machine.
    pub time_ms: u64,
    pub command: Command,
}

/// A change to the region's key state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    CreateKey {
        record: Box<KeyRecord>,
    },
    UpdateDescription {
        key: KeyId,
        description: String,
    },
    SetEnabled {
        key: KeyId,
        enabled: bool,
    },
    ScheduleDeletion {
        key: KeyId,
        window_days: u32,
    },
    CancelDeletion {
        key: KeyId,
    },
    /// Time-driven: proposed by the leader once a key's deletion date has passed.
    DeleteKey {
        key: KeyId,
    },
    CreateAlias {
        alias: AliasName,
        key: KeyId,
    },
    UpdateAlias {
        alias: AliasName,
        key: KeyId,
    },
    DeleteAlias {
        alias: AliasName,
    },
    TagResource {
        key: KeyId,
        tags: Vec<(String, String)>,
    },
    UntagResource {
        key: KeyId,
        tag_keys: Vec<String>,
    },
    PutKeyPolicy {
        key: KeyId,
        name: String,
        policy: String,
    },
    SetRotation {
        key: KeyId,
        period_days: Option<u32>,
    },
    /// A new backing-key version (generated and wrapped before proposing). Automatic rotations
    /// are proposed by the leader and name the due date they were proposed for (`rotation.rs`).
    RotateKey {
        key: KeyId,
        kind: crate::rotation::RotationType,
        material: crate::model::WrappedMaterial,
        due_ms: Option<u64>,
    },
    /// Imported material (Origin EXTERNAL), unwrapped from the import and wrapped under the root
    /// key before proposing, with its commitment (`import.rs`).
    ImportKeyMaterial {
        key: KeyId,
        material: crate::model::WrappedMaterial,
        commitment: Vec<u8>,
        valid_to_ms: Option<u64>,
    },
    /// Removes imported material (key → PendingImport). Time-driven expiry is proposed by the
    /// leader and names the `ValidTo` it acts on; `None` for DeleteImportedKeyMaterial.
    DeleteImportedKeyMaterial {
        key: KeyId,
        expired_ms: Option<u64>,
    },
    // Multi-region keys (`multi_region.rs`). Appended: bincode numbers variants in order.
    /// ReplicateKey, on the primary: adds a replica region (shipped by the outbox).
    ReplicateKey {
        key: KeyId,
        region: Region,
        init: ReplicaInit,
    },
    /// UpdatePrimaryRegion, on the primary: hands the primary role to a replica region.
    UpdatePrimaryRegion {
        key: KeyId,
        region: Region,
    },
    /// `keyraft dr promote`, in a replica region: makes this region primary at a higher epoch.
    ForcePromote {
        key: KeyId,
    },
    /// A shared state received from region `from`, material re-wrapped under this region's
    /// root key by the receiving node; `region` is this region.
    ApplyReplica {
        region: Region,
        from: Region,
        state: Box<SharedState>,
    },
    /// The shipper's record that `region` holds the key's state at `version` of `epoch`.
    ReplicaAcked {
        key: KeyId,
        region: Region,
        epoch: Epoch,
        version: u64,
    },
    /// The shipper learnt a higher epoch from another region: this region is fenced.
    Fenced {
        key: KeyId,
        by: Epoch,
    },
    /// The shipper learnt that `region` deleted its replica: it leaves the replica list.
    ReplicaGone {
        key: KeyId,
        region: Region,
        epoch: Epoch,
    },
    // Grants (`grants.rs`). Appended.
    /// CreateGrant: the grant id is generated before proposing; apply stamps the time.
    CreateGrant {
        grant: Box<crate::grants::Grant>,
    },
    /// RetireGrant (authorized by the grant itself, checked before proposing).
    RetireGrant {
        key: KeyId,
        grant_id: String,
    },
    /// RevokeGrant (authorized by the key policy).
    RevokeGrant {
        key: KeyId,
        grant_id: String,
    },
    /// The last cryptographic use of keys one node served since its previous report
    /// (`usage.rs`). Appended.
    RecordUsage {
        entries: Vec<(KeyId, crate::usage::LastUsage)>,
    },
    /// `keyraft restore`: a backup's contents, opened and checked by the proposing node; apply
    /// refuses it unless the region holds no key, alias or grant (`restore.rs`). Appended.
    Restore {
        contents: Box<crate::restore::RegionContents>,
    },
}

impl Command {
    /// Commands that narrow what may be done with a key: once acknowledged, no cryptographic
    /// operation that starts afterwards may succeed on the strength of the old state.
    pub fn is_restrictive(&self) -> bool {
        matches!(
            self,
            Command::SetEnabled { enabled: false, .. }
                | Command::ScheduleDeletion { .. }
                | Command::DeleteKey { .. }
                | Command::PutKeyPolicy { .. }
                | Command::DeleteImportedKeyMaterial { .. }
                | Command::RetireGrant { .. }
                | Command::RevokeGrant { .. }
        )
    }
}

/// The successful result of applying a command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Applied {
    /// Nothing to report (blank and membership entries, deletes).
    Unit,
    /// The key as it is after the command.
    Key(Box<KeyRecord>),
    /// The alias as it is after the command.
    Alias(AliasRecord),
    /// ApplyReplica: what this region holds of the key afterwards.
    Replica(ReplicaAnswer),
    /// CreateGrant: the id of the grant in force.
    Grant(String),
}

/// The state machine's response to one log entry.
pub type ApplyResult = Result<Applied, CoreError>;
