//! DescribeKey: by key id, key ARN, alias name or alias ARN, in every key state.

use keyraft_core::{KeyRecord, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{Caller, Kms};

impl Kms {
    pub async fn describe_key(&self, caller: &Caller, key: &KeyRef) -> Result<KeyRecord, KmsError> {
        self.resolve(caller, key, Access::new("kms:DescribeKey")).await
    }
}
