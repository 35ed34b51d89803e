//! CreateKey.

use keyraft_core::model::WrappedMaterial;
use keyraft_core::{Applied, Command, KeyArn, KeyId, KeyRecord, KeySpec, KeyState, KeyUsage, Origin};
use keyraft_crypto::KeyMaterial;

use crate::authz::{check_new_policy, Access};
use crate::error::KmsError;
use crate::kms::{Caller, Kms};
use crate::ops::{asymmetric, policy, tags};

#[derive(Debug, Clone)]
pub struct CreateKeyInput {
    pub description: String,
    pub key_usage: Option<KeyUsage>,
    pub key_spec: KeySpec,
    pub origin: Origin,
    pub multi_region: bool,
    pub tags: Vec<(String, String)>,
    pub policy: Option<String>,
    pub bypass_lockout_check: bool,
}

impl Kms {
    /// Generates and wraps the key's material on this node, then proposes the complete record;
    /// the leader stamps the creation time.
    pub async fn create_key(&self, caller: &Caller, input: CreateKeyInput) -> Result<KeyRecord, KmsError> {
        let usage = asymmetric::create_usage(input.key_spec, input.key_usage)?;
        // Origin EXTERNAL (symmetric, HMAC, RSA and ECC keys): PendingImport, no material
        // (`import_key_material`).
        let external = input.origin == Origin::External && keyraft_core::import::importable(input.key_spec);
        if input.origin != Origin::AwsKms && !external {
            return Err(KmsError::Unsupported(format!(
                "Origin {} is not supported for this key spec by this keyraft version",
                input.origin
            )));
        }
        tags::validate_tags(&input.tags)?;
        let mut access = Access::new("kms:CreateKey")
            .with("kms:KeySpec", input.key_spec.as_aws())
            .with("kms:KeyUsage", usage.as_aws())
            .with("kms:KeyOrigin", input.origin.as_aws())
            .with("kms:MultiRegion", if input.multi_region { "true" } else { "false" })
            .with("kms:BypassPolicyLockoutSafetyCheck", if input.bypass_lockout_check { "true" } else { "false" });
        for (k, v) in &input.tags {
            access = access.with(&format!("aws:RequestTag/{k}"), v.as_str()).with("aws:TagKeys", k.as_str());
        }
        self.authorize_account(caller, access)?;
        let id = if input.multi_region {
            KeyId::mrk_from_bytes(self.random())
        } else {
            KeyId::from_uuid_bytes(self.random())
        };
        let policy = match input.policy {
            Some(p) => {
                policy::validate_policy(&p)?;
                let arn = KeyArn { region: self.region().clone(), account: caller.account.clone(), key_id: id.clone() };
                check_new_policy(
                    caller,
                    self.region().as_str(),
                    &arn.to_string(),
                    caller.account.as_str(),
                    &p,
                    input.bypass_lockout_check,
                    self.node().clock().now_ms(),
                )?;
                p
            }
            None => policy::default_policy(&caller.account),
        };
        // An EXTERNAL key gets its material from ImportKeyMaterial.
        let material = if external {
            vec![]
        } else if input.key_spec == KeySpec::SymmetricDefault {
            let material = KeyMaterial::generate(&mut self.rng());
            let wrapped = keyraft_crypto::wrap::wrap(self.root(), id.as_str(), 1, &material, &mut self.rng());
            vec![WrappedMaterial { version: 1, created_ms: 0, wrapped, public_key: None }]
        } else if keyraft_core::algorithms::is_hmac(input.key_spec) {
            vec![self.generate_hmac_key(&id, input.key_spec)?]
        } else {
            vec![self.generate_key_pair(&id, input.key_spec)?]
        };
        let record = KeyRecord {
            description: input.description,
            state: if external { KeyState::PendingImport } else { KeyState::Enabled },
            spec: input.key_spec,
            usage,
            origin: input.origin,
            multi_region: input.multi_region,
            tags: input.tags.into_iter().collect(),
            policies: [("default".to_string(), policy)].into(),
            material,
            ..KeyRecord::new(id, caller.account.clone(), self.region().clone())
        };
        match self.propose(Command::CreateKey { record: Box::new(record) }).await? {
            Applied::Key(k) => Ok(*k),
            other => Err(KmsError::Internal(format!("unexpected apply result {other:?}"))),
        }
    }
}
