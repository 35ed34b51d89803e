//! CreateGrant: a grant on one key for one principal, through the region's log.

use std::collections::BTreeSet;

use keyraft_core::grants::{Grant, GrantConstraints, GrantOperation};
use keyraft_core::{Applied, Command, KeyRef};

use crate::authz::Access;
use crate::error::KmsError;
use crate::grants::{hex_string, token};
use crate::kms::{Caller, Kms};

#[derive(Debug, Clone)]
pub struct CreateGrantInput {
    pub grantee: String,
    pub retiring: Option<String>,
    pub operations: BTreeSet<GrantOperation>,
    pub constraints: GrantConstraints,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateGrantOutput {
    pub grant_id: String,
    pub token: String,
}

impl Kms {
    pub async fn create_grant(
        &self,
        caller: &Caller,
        key: &KeyRef,
        input: CreateGrantInput,
    ) -> Result<CreateGrantOutput, KmsError> {
        if input.operations.is_empty() {
            return Err(KmsError::Validation(
                "1 validation error detected: Value '[]' at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1".into(),
            ));
        }
        let mut access = Access::new("kms:CreateGrant")
            .with("kms:GranteePrincipal", input.grantee.as_str())
            .with("kms:GrantIsForAWSResource", "false");
        for op in &input.operations {
            access = access.with("kms:GrantOperations", op.as_aws());
        }
        if let Some(r) = &input.retiring {
            access = access.with("kms:RetiringPrincipal", r.as_str());
        }
        if input.constraints.encryption_context_equals.is_some() {
            access = access.with("kms:GrantConstraintType", "EncryptionContextEquals");
        }
        if input.constraints.encryption_context_subset.is_some() {
            access = access.with("kms:GrantConstraintType", "EncryptionContextSubset");
        }
        access.new_grant = Some((input.operations.clone(), input.constraints.clone()));
        let k = self.resolve(caller, key, access).await?;
        let grant = Grant {
            id: hex_string(&self.random::<32>()),
            key: k.id.clone(),
            name: input.name,
            grantee: input.grantee,
            retiring: input.retiring,
            issuing_account: k.account.clone(),
            operations: input.operations,
            constraints: input.constraints,
            creation_ms: 0,
        };
        let grant_id = match self.propose(Command::CreateGrant { grant: Box::new(grant) }).await? {
            Applied::Grant(id) => id,
            other => return Err(KmsError::Internal(format!("unexpected apply result {other:?}"))),
        };
        Ok(CreateGrantOutput { token: token(&k.id, &grant_id, self.random()), grant_id })
    }
}
