//! TagResource.

use keyraft_core::{Command, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{no_alias, Caller, Kms};
use crate::ops::tags::validate_tags;

impl Kms {
    pub async fn tag_resource(
        &self,
        caller: &Caller,
        key: &KeyRef,
        tags: Vec<(String, String)>,
    ) -> Result<(), KmsError> {
        no_alias(key)?;
        validate_tags(&tags)?;
        let mut access = Access::new("kms:TagResource");
        for (k, v) in &tags {
            access = access.with(&format!("aws:RequestTag/{k}"), v.as_str()).with("aws:TagKeys", k.as_str());
        }
        let k = self.resolve(caller, key, access).await?;
        self.propose(Command::TagResource { key: k.id, tags }).await.map(|_| ())
    }
}
