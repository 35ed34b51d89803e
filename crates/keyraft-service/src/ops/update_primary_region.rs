//! UpdatePrimaryRegion: hands the primary role of a multi-region key to its replica in another
//! region (epoch + 1). This region commits the handover (and from then on refuses shared
//! changes), ships it, and answers once the new primary has committed it.

use keyraft_core::{Command, KeyRef, Region};

use crate::authz::Access;
use crate::error::KmsError;
use crate::kms::{no_alias, Caller, Kms};

impl Kms {
    pub async fn update_primary_region(&self, caller: &Caller, key: &KeyRef, to: &Region) -> Result<(), KmsError> {
        no_alias(key)?;
        let k = self
            .resolve(caller, key, Access::new("kms:UpdatePrimaryRegion").with("kms:PrimaryRegion", to.as_str()))
            .await?;
        if !k.multi_region {
            return Err(KmsError::Unsupported(format!("{} is not a multi-Region key.", k.arn())));
        }
        self.check_destination(to).or_else(|e| if to == self.region() { Ok(()) } else { Err(e) })?;
        self.propose_key(Command::UpdatePrimaryRegion { key: k.id.clone(), region: to.clone() }).await?;
        let m = self.multi_region_state_now(&k).await?;
        self.await_replicated(&k.id, &m.epoch, m.version).await
    }
}
