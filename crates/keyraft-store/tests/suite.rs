//! openraft's storage conformance suite, run against a fresh on-disk store per test case.

use keyraft_store::types::StorageError;
use keyraft_store::{LogStore, StateMachineStore, TypeConfig};
use openraft::testing::{StoreBuilder, Suite};
use tempfile::TempDir;

struct SledBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, TempDir> for SledBuilder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachineStore), StorageError> {
        let dir = TempDir::new().map_err(|e| openraft::StorageIOError::write(&e))?;
        let (log, sm) = keyraft_store::open(dir.path()).map_err(|e| openraft::StorageIOError::write(&e))?;
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_storage_suite() {
    Suite::test_all(SledBuilder).unwrap();
}

/// The case the brief singles out, run on its own so that its result is visible: after a restart
/// the state machine catches up from the saved committed log id.
#[test]
fn re_apply_committed_on_restart() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (_dir, log, sm) = SledBuilder.build().await.unwrap();
        type S = Suite<TypeConfig, LogStore, StateMachineStore, SledBuilder, TempDir>;
        S::get_initial_state_re_apply_committed(log, sm).await.unwrap();
    });
}
