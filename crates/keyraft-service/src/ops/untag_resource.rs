//! UntagResource.

use keyraft_core::{Command, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{no_alias, Caller, Kms};

impl Kms {
    pub async fn untag_resource(&self, caller: &Caller, key: &KeyRef, tag_keys: Vec<String>) -> Result<(), KmsError> {
        no_alias(key)?;
        let mut access = Access::new("kms:UntagResource");
        for k in &tag_keys {
            access = access.with("aws:TagKeys", k.as_str());
        }
        let k = self.resolve(caller, key, access).await?;
        self.propose(Command::UntagResource { key: k.id, tag_keys }).await.map(|_| ())
    }
}
