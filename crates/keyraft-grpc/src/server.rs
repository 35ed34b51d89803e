//! `KmsGrpc`: the tonic service of `keyraft.kms.v1`. Each call: the caller from the client
//! certificate (the mutual-TLS listener puts `PeerInfo` in the request's extensions) mapped by
//! [`Principals`]; mutating calls inside their idempotency scope; then the same service function
//! the AWS API calls.

use std::future::Future;
use std::sync::Arc;

use keyraft_core::algorithms::{
    encryption_algorithms, signing_algorithms, EncryptionAlgorithm, MacAlgorithm, MessageType, SigningAlgorithm,
};
use keyraft_core::{KeySpec, KeyUsage, Origin};
use keyraft_raft::tls::{PeerIdentity, PeerInfo};
use keyraft_service::ops::asymmetric_encrypt::is_rsa;
use keyraft_service::ops::CreateKeyInput;
use keyraft_service::{Caller, Kms, KmsError};
use tonic::{Code, Request, Response, Status};

use crate::error::{invalid, status};
use crate::pb::kms_server::{Kms as KmsApi, KmsServer};
use crate::pb::*;
use crate::principals::Principals;
use crate::wire::{self, OrStatus};
use crate::{idempotency, pb};

/// The gRPC KMS service of one node.
pub struct KmsGrpc {
    kms: Arc<Kms>,
    principals: Arc<Principals>,
}

type Answer<T> = Result<Response<T>, Status>;

impl KmsGrpc {
    pub fn new(kms: Arc<Kms>, principals: Arc<Principals>) -> Self {
        KmsGrpc { kms, principals }
    }

    /// The tonic server, ready for `Server::add_service`.
    pub fn server(kms: Arc<Kms>, principals: Arc<Principals>) -> KmsServer<Self> {
        KmsServer::new(KmsGrpc::new(kms, principals))
    }

    /// Who is calling: the client certificate's identity, mapped to a configured principal.
    fn caller<T>(&self, req: &Request<T>) -> Result<Caller, Status> {
        let refuse = |code: Code, why: String| {
            tracing::warn!(%why, "refused a gRPC KMS call");
            status(code, "UnrecognizedClientException", why)
        };
        let Some(peer) = req.extensions().get::<PeerInfo>() else {
            return Err(refuse(Code::Unauthenticated, "the gRPC KMS API needs a client certificate".into()));
        };
        if let PeerIdentity::Node { .. } = peer.identity {
            return Err(refuse(
                Code::PermissionDenied,
                format!("{} is a node certificate; nodes are not callers of the KMS API", peer.identity),
            ));
        }
        let Some(caller) = self.principals.caller(&peer.identity) else {
            return Err(refuse(
                Code::PermissionDenied,
                format!("{} is not mapped to a principal (add it to [[grpc_principals]])", peer.identity),
            ));
        };
        let mut caller = caller.clone();
        caller.source_ip = Some(peer.remote.ip());
        caller.secure_transport = true;
        Ok(caller)
    }
}

/// Runs a mutating operation with the request's idempotency key (required).
async fn mutate<T, F>(caller: &Caller, operation: &str, key: &str, f: F) -> Answer<T>
where
    F: Future<Output = Result<T, Status>>,
{
    let key = idempotency::check(key)?;
    let derive = idempotency::derivation(caller.account.as_str(), &caller.principal, operation, key);
    keyraft_service::committed::idempotent(derive, f).await.map(Response::new)
}

fn answer<T>(r: Result<T, Status>) -> Answer<T> {
    r.map(Response::new)
}

fn encryption_algorithm(member: &str, s: Option<&str>) -> Result<EncryptionAlgorithm, Status> {
    let alg =
        wire::name_opt(member, s, EncryptionAlgorithm::from_aws)?.unwrap_or(EncryptionAlgorithm::SymmetricDefault);
    if alg == EncryptionAlgorithm::Sm2pke {
        return Err(crate::error::to_status(KmsError::InvalidKeyUsage(
            "SM2PKE is not a valid encryption algorithm for this key: keyraft has no SM2 keys".into(),
        )));
    }
    Ok(alg)
}

fn data_key_bytes(spec: Option<&str>, n: Option<u32>) -> Result<usize, Status> {
    let spec = wire::name_opt("key_spec", spec, |s| match s {
        "AES_256" => Some(32usize),
        "AES_128" => Some(16),
        _ => None,
    })?;
    match (spec, n) {
        (Some(b), None) => Ok(b),
        (None, Some(n)) => Ok(n as usize),
        _ => Err(invalid("Please specify either number of bytes or key spec.")),
    }
}

#[tonic::async_trait]
impl KmsApi for KmsGrpc {
    async fn create_key(&self, req: Request<CreateKeyRequest>) -> Answer<KeyMetadataResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        mutate(&caller, "CreateKey", &r.idempotency_key, async {
            let input = CreateKeyInput {
                description: wire::text("description", &r.description, 0, 8192)?.to_owned(),
                key_usage: wire::name_opt("key_usage", r.key_usage.as_deref(), KeyUsage::from_aws)?,
                key_spec: wire::name_opt("key_spec", r.key_spec.as_deref(), KeySpec::from_aws)?
                    .unwrap_or(KeySpec::SymmetricDefault),
                origin: wire::name_opt("origin", r.origin.as_deref(), Origin::from_aws)?.unwrap_or(Origin::AwsKms),
                multi_region: r.multi_region,
                tags: wire::tags(r.tags),
                policy: r
                    .policy
                    .as_deref()
                    .map(|p| wire::text("policy", p, 1, 32768).map(str::to_owned))
                    .transpose()?,
                bypass_lockout_check: r.bypass_policy_lockout_safety_check,
            };
            let key = self.kms.create_key(&caller, input).await.or_status()?;
            Ok(wire::key_metadata(&key))
        })
        .await
    }

    async fn describe_key(&self, req: Request<KeyRequest>) -> Answer<KeyMetadataResponse> {
        let caller = self.caller(&req)?;
        let key = wire::key_ref("key_id", &req.get_ref().key_id)?;
        let k = self.kms.describe_key(&caller, &key).await.or_status()?;
        Ok(Response::new(wire::key_metadata(&k)))
    }

    async fn list_keys(&self, req: Request<ListRequest>) -> Answer<ListKeysResponse> {
        let caller = self.caller(&req)?;
        let r = req.get_ref();
        let page = self.kms.list_keys(&caller, wire::limit(r.limit)?, wire::marker(&r.marker)?).await.or_status()?;
        let keys =
            page.items.iter().map(|a| KeyListEntry { key_id: a.key_id.as_str().to_owned(), key_arn: a.to_string() });
        answer(Ok(ListKeysResponse {
            keys: keys.collect(),
            truncated: page.next_marker.is_some(),
            next_marker: page.next_marker,
        }))
    }

    async fn enable_key(&self, req: Request<KeyMutation>) -> Answer<Empty> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        mutate(&caller, "EnableKey", &r.idempotency_key, async {
            self.kms.enable_key(&caller, &wire::key_ref("key_id", &r.key_id)?).await.or_status()?;
            Ok(Empty {})
        })
        .await
    }

    async fn disable_key(&self, req: Request<KeyMutation>) -> Answer<Empty> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        mutate(&caller, "DisableKey", &r.idempotency_key, async {
            self.kms.disable_key(&caller, &wire::key_ref("key_id", &r.key_id)?).await.or_status()?;
            Ok(Empty {})
        })
        .await
    }

    async fn schedule_key_deletion(
        &self,
        req: Request<ScheduleKeyDeletionRequest>,
    ) -> Answer<ScheduleKeyDeletionResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        mutate(&caller, "ScheduleKeyDeletion", &r.idempotency_key, async {
            let key = wire::key_ref("key_id", &r.key_id)?;
            let k = self.kms.schedule_key_deletion(&caller, &key, r.pending_window_in_days).await.or_status()?;
            Ok(ScheduleKeyDeletionResponse {
                key_id: k.arn().to_string(),
                key_state: k.state.as_aws().to_owned(),
                pending_window_in_days: k.pending_window_days.unwrap_or_default(),
                // A multi-region primary with replicas (PendingReplicaDeletion) has no date yet.
                deletion_date_ms: k.deletion_ms.map(wire::ms),
            })
        })
        .await
    }

    async fn cancel_key_deletion(&self, req: Request<KeyMutation>) -> Answer<KeyIdResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        mutate(&caller, "CancelKeyDeletion", &r.idempotency_key, async {
            let k = self.kms.cancel_key_deletion(&caller, &wire::key_ref("key_id", &r.key_id)?).await.or_status()?;
            Ok(KeyIdResponse { key_id: k.arn().to_string() })
        })
        .await
    }

    async fn update_key_description(&self, req: Request<UpdateKeyDescriptionRequest>) -> Answer<Empty> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        mutate(&caller, "UpdateKeyDescription", &r.idempotency_key, async {
            let key = wire::key_ref("key_id", &r.key_id)?;
            let d = wire::text("description", &r.description, 0, 8192)?.to_owned();
            self.kms.update_key_description(&caller, &key, d).await.or_status()?;
            Ok(Empty {})
        })
        .await
    }

    async fn create_alias(&self, req: Request<AliasRequest>) -> Answer<Empty> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        mutate(&caller, "CreateAlias", &r.idempotency_key, async {
            let name = wire::text("alias_name", &r.alias_name, 1, 256)?;
            let target = wire::key_ref("target_key_id", &r.target_key_id)?;
            self.kms.create_alias(&caller, name, &target).await.or_status()?;
            Ok(Empty {})
        })
        .await
    }

    async fn update_alias(&self, req: Request<AliasRequest>) -> Answer<Empty> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        mutate(&caller, "UpdateAlias", &r.idempotency_key, async {
            let name = wire::text("alias_name", &r.alias_name, 1, 256)?;
            let target = wire::key_ref("target_key_id", &r.target_key_id)?;
            self.kms.update_alias(&caller, name, &target).await.or_status()?;
            Ok(Empty {})
        })
        .await
    }

    async fn delete_alias(&self, req: Request<DeleteAliasRequest>) -> Answer<Empty> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        mutate(&caller, "DeleteAlias", &r.idempotency_key, async {
            self.kms.delete_alias(&caller, wire::text("alias_name", &r.alias_name, 1, 256)?).await.or_status()?;
            Ok(Empty {})
        })
        .await
    }

    async fn list_aliases(&self, req: Request<ListAliasesRequest>) -> Answer<ListAliasesResponse> {
        let caller = self.caller(&req)?;
        let r = req.get_ref();
        let key = wire::key_ref_opt("key_id", r.key_id.as_deref())?;
        let page = self
            .kms
            .list_aliases(&caller, key.as_ref(), wire::limit(r.limit)?, wire::marker(&r.marker)?)
            .await
            .or_status()?;
        let aliases = page.items.iter().map(|a| AliasListEntry {
            alias_name: a.alias.name.as_str().to_owned(),
            alias_arn: a.arn.clone(),
            target_key_id: a.alias.target.as_str().to_owned(),
            creation_date_ms: wire::ms(a.alias.creation_ms),
            last_updated_date_ms: wire::ms(a.alias.last_updated_ms),
        });
        answer(Ok(ListAliasesResponse {
            aliases: aliases.collect(),
            truncated: page.next_marker.is_some(),
            next_marker: page.next_marker,
        }))
    }

    async fn encrypt(&self, req: Request<EncryptRequest>) -> Answer<EncryptResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let alg = encryption_algorithm("encryption_algorithm", r.encryption_algorithm.as_deref())?;
        let pt = wire::blob("plaintext", &r.plaintext, 1, 4096)?;
        let key = wire::key_ref("key_id", &r.key_id)?;
        let ctx = wire::context(r.encryption_context)?;
        let out = match is_rsa(alg) {
            true => self.kms.encrypt_asymmetric(&caller, &key, pt, alg, &ctx).await,
            false => self.kms.encrypt(&caller, &key, pt, &ctx).await,
        }
        .or_status()?;
        answer(Ok(EncryptResponse {
            ciphertext_blob: out.ciphertext,
            key_id: out.key.to_string(),
            encryption_algorithm: alg.as_aws().to_owned(),
        }))
    }

    async fn decrypt(&self, req: Request<DecryptRequest>) -> Answer<DecryptResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let alg = encryption_algorithm("encryption_algorithm", r.encryption_algorithm.as_deref())?;
        let ct = wire::blob("ciphertext_blob", &r.ciphertext_blob, 1, 6144)?;
        let key = wire::key_ref_opt("key_id", r.key_id.as_deref())?;
        let ctx = wire::context(r.encryption_context)?;
        let out = match is_rsa(alg) {
            true => self.kms.decrypt_asymmetric(&caller, ct, alg, &ctx, key.as_ref()).await,
            false => self.kms.decrypt(&caller, ct, &ctx, key.as_ref()).await,
        }
        .or_status()?;
        answer(Ok(DecryptResponse {
            // The service's copy is zeroized when `out` drops; the message's leaves with it.
            plaintext: out.plaintext.to_vec(),
            key_id: out.key.to_string(),
            encryption_algorithm: alg.as_aws().to_owned(),
        }))
    }

    async fn re_encrypt(&self, req: Request<ReEncryptRequest>) -> Answer<ReEncryptResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let src_alg = encryption_algorithm("source_encryption_algorithm", r.source_encryption_algorithm.as_deref())?;
        let dst_alg =
            encryption_algorithm("destination_encryption_algorithm", r.destination_encryption_algorithm.as_deref())?;
        let ct = wire::blob("ciphertext_blob", &r.ciphertext_blob, 1, 6144)?;
        let src_key = wire::key_ref_opt("source_key_id", r.source_key_id.as_deref())?;
        let dst_key = wire::key_ref("destination_key_id", &r.destination_key_id)?;
        let out = self
            .kms
            .re_encrypt_with_algorithms(
                &caller,
                ct,
                &wire::context(r.source_encryption_context)?,
                src_key.as_ref(),
                src_alg,
                &dst_key,
                &wire::context(r.destination_encryption_context)?,
                dst_alg,
            )
            .await
            .or_status()?;
        answer(Ok(ReEncryptResponse {
            ciphertext_blob: out.ciphertext,
            source_key_id: out.source_key.to_string(),
            key_id: out.destination_key.to_string(),
            source_encryption_algorithm: src_alg.as_aws().to_owned(),
            destination_encryption_algorithm: dst_alg.as_aws().to_owned(),
        }))
    }

    async fn generate_data_key(&self, req: Request<GenerateDataKeyRequest>) -> Answer<GenerateDataKeyResponse> {
        self.data_key(req, true).await
    }

    async fn generate_data_key_without_plaintext(
        &self,
        req: Request<GenerateDataKeyRequest>,
    ) -> Answer<GenerateDataKeyResponse> {
        self.data_key(req, false).await
    }

    async fn generate_random(&self, req: Request<GenerateRandomRequest>) -> Answer<GenerateRandomResponse> {
        let caller = self.caller(&req)?;
        let out = self.kms.generate_random(&caller, req.get_ref().number_of_bytes as usize).or_status()?;
        answer(Ok(GenerateRandomResponse { plaintext: out.to_vec() }))
    }

    async fn sign(&self, req: Request<SignRequest>) -> Answer<SignResponse> {
        let caller = self.caller(&req)?;
        let r = req.get_ref();
        let key = wire::key_ref("key_id", &r.key_id)?;
        let message = wire::blob("message", &r.message, 1, 4096)?;
        let mt = wire::name_opt("message_type", r.message_type.as_deref(), MessageType::from_aws)?
            .unwrap_or(MessageType::Raw);
        let alg = wire::name("signing_algorithm", &r.signing_algorithm, SigningAlgorithm::from_aws)?;
        let out = self.kms.sign(&caller, &key, message, mt, alg).await.or_status()?;
        answer(Ok(SignResponse {
            key_id: out.key.to_string(),
            signature: out.signature,
            signing_algorithm: alg.as_aws().to_owned(),
        }))
    }

    async fn verify(&self, req: Request<VerifyRequest>) -> Answer<VerifyResponse> {
        let caller = self.caller(&req)?;
        let r = req.get_ref();
        let key = wire::key_ref("key_id", &r.key_id)?;
        let message = wire::blob("message", &r.message, 1, 4096)?;
        let signature = wire::blob("signature", &r.signature, 1, 6144)?;
        let mt = wire::name_opt("message_type", r.message_type.as_deref(), MessageType::from_aws)?
            .unwrap_or(MessageType::Raw);
        let alg = wire::name("signing_algorithm", &r.signing_algorithm, SigningAlgorithm::from_aws)?;
        let arn = self.kms.verify(&caller, &key, message, mt, signature, alg).await.or_status()?;
        answer(Ok(VerifyResponse {
            key_id: arn.to_string(),
            signature_valid: true,
            signing_algorithm: alg.as_aws().to_owned(),
        }))
    }

    async fn get_public_key(&self, req: Request<KeyRequest>) -> Answer<GetPublicKeyResponse> {
        let caller = self.caller(&req)?;
        let key = wire::key_ref("key_id", &req.get_ref().key_id)?;
        let out = self.kms.get_public_key(&caller, &key).await.or_status()?;
        let k = &out.key;
        answer(Ok(GetPublicKeyResponse {
            key_id: k.arn().to_string(),
            public_key: out.public_key,
            key_spec: k.spec.as_aws().to_owned(),
            key_usage: k.usage.as_aws().to_owned(),
            encryption_algorithms: wire::names(encryption_algorithms(k.spec, k.usage)),
            signing_algorithms: wire::names(signing_algorithms(k.spec, k.usage)),
        }))
    }

    async fn generate_mac(&self, req: Request<GenerateMacRequest>) -> Answer<GenerateMacResponse> {
        let caller = self.caller(&req)?;
        let r = req.get_ref();
        let key = wire::key_ref("key_id", &r.key_id)?;
        let message = wire::blob("message", &r.message, 1, 4096)?;
        let alg = wire::name("mac_algorithm", &r.mac_algorithm, MacAlgorithm::from_aws)?;
        let out = self.kms.generate_mac(&caller, &key, message, alg).await.or_status()?;
        answer(Ok(GenerateMacResponse {
            mac: out.mac,
            mac_algorithm: alg.as_aws().to_owned(),
            key_id: out.key.to_string(),
        }))
    }

    async fn verify_mac(&self, req: Request<VerifyMacRequest>) -> Answer<VerifyMacResponse> {
        let caller = self.caller(&req)?;
        let r = req.get_ref();
        let key = wire::key_ref("key_id", &r.key_id)?;
        let message = wire::blob("message", &r.message, 1, 4096)?;
        let mac = wire::blob("mac", &r.mac, 1, 6144)?;
        let alg = wire::name("mac_algorithm", &r.mac_algorithm, MacAlgorithm::from_aws)?;
        let arn = self.kms.verify_mac(&caller, &key, message, mac, alg).await.or_status()?;
        answer(Ok(VerifyMacResponse {
            key_id: arn.to_string(),
            mac_valid: true,
            mac_algorithm: alg.as_aws().to_owned(),
        }))
    }

    async fn tag_resource(&self, req: Request<TagResourceRequest>) -> Answer<Empty> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        mutate(&caller, "TagResource", &r.idempotency_key, async {
            let key = wire::key_ref("key_id", &r.key_id)?;
            self.kms.tag_resource(&caller, &key, wire::tags(r.tags)).await.or_status()?;
            Ok(Empty {})
        })
        .await
    }

    async fn untag_resource(&self, req: Request<UntagResourceRequest>) -> Answer<Empty> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        mutate(&caller, "UntagResource", &r.idempotency_key, async {
            let key = wire::key_ref("key_id", &r.key_id)?;
            self.kms.untag_resource(&caller, &key, r.tag_keys).await.or_status()?;
            Ok(Empty {})
        })
        .await
    }

    async fn list_resource_tags(&self, req: Request<ListResourceTagsRequest>) -> Answer<ListResourceTagsResponse> {
        let caller = self.caller(&req)?;
        let r = req.get_ref();
        let key = wire::key_ref("key_id", &r.key_id)?;
        let page = self
            .kms
            .list_resource_tags(&caller, &key, wire::limit(r.limit)?, wire::marker(&r.marker)?)
            .await
            .or_status()?;
        answer(Ok(ListResourceTagsResponse {
            tags: page.items.into_iter().map(|(key, value)| pb::Tag { key, value }).collect(),
            truncated: page.next_marker.is_some(),
            next_marker: page.next_marker,
        }))
    }

    async fn get_key_policy(&self, req: Request<GetKeyPolicyRequest>) -> Answer<GetKeyPolicyResponse> {
        let caller = self.caller(&req)?;
        let r = req.get_ref();
        let key = wire::key_ref("key_id", &r.key_id)?;
        let name = r.policy_name.as_deref().map(|n| wire::text("policy_name", n, 1, 128)).transpose()?;
        let (policy_name, policy) = self.kms.get_key_policy(&caller, &key, name).await.or_status()?;
        answer(Ok(GetKeyPolicyResponse { policy, policy_name }))
    }

    async fn put_key_policy(&self, req: Request<PutKeyPolicyRequest>) -> Answer<Empty> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        mutate(&caller, "PutKeyPolicy", &r.idempotency_key, async {
            let key = wire::key_ref("key_id", &r.key_id)?;
            let name = r.policy_name.as_deref().map(|n| wire::text("policy_name", n, 1, 128)).transpose()?;
            let policy = wire::text("policy", &r.policy, 1, 32768)?.to_owned();
            let bypass = r.bypass_policy_lockout_safety_check;
            self.kms.put_key_policy(&caller, &key, name, policy, bypass).await.or_status()?;
            Ok(Empty {})
        })
        .await
    }

    async fn enable_key_rotation(&self, req: Request<EnableKeyRotationRequest>) -> Answer<Empty> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        mutate(&caller, "EnableKeyRotation", &r.idempotency_key, async {
            let key = wire::key_ref("key_id", &r.key_id)?;
            self.kms.enable_key_rotation(&caller, &key, r.rotation_period_in_days).await.or_status()?;
            Ok(Empty {})
        })
        .await
    }

    async fn disable_key_rotation(&self, req: Request<KeyMutation>) -> Answer<Empty> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        mutate(&caller, "DisableKeyRotation", &r.idempotency_key, async {
            self.kms.disable_key_rotation(&caller, &wire::key_ref("key_id", &r.key_id)?).await.or_status()?;
            Ok(Empty {})
        })
        .await
    }

    async fn get_key_rotation_status(&self, req: Request<KeyRequest>) -> Answer<GetKeyRotationStatusResponse> {
        let caller = self.caller(&req)?;
        let key = wire::key_ref("key_id", &req.get_ref().key_id)?;
        let s = self.kms.get_key_rotation_status(&caller, &key).await.or_status()?;
        answer(Ok(GetKeyRotationStatusResponse {
            key_id: s.key.to_string(),
            key_rotation_enabled: s.period_days.is_some(),
            rotation_period_in_days: s.period_days,
            next_rotation_date_ms: s.next_rotation_ms.map(wire::ms),
        }))
    }

    async fn rotate_key_on_demand(&self, req: Request<KeyMutation>) -> Answer<KeyIdResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        mutate(&caller, "RotateKeyOnDemand", &r.idempotency_key, async {
            let arn = self.kms.rotate_key_on_demand(&caller, &wire::key_ref("key_id", &r.key_id)?).await.or_status()?;
            Ok(KeyIdResponse { key_id: arn.to_string() })
        })
        .await
    }
}

impl KmsGrpc {
    /// GenerateDataKey and GenerateDataKeyWithoutPlaintext.
    async fn data_key(
        &self,
        req: Request<GenerateDataKeyRequest>,
        with_plaintext: bool,
    ) -> Answer<GenerateDataKeyResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let bytes = data_key_bytes(r.key_spec.as_deref(), r.number_of_bytes)?;
        let key = wire::key_ref("key_id", &r.key_id)?;
        let ctx = wire::context(r.encryption_context)?;
        let out = self.kms.generate_data_key(&caller, &key, bytes, &ctx, with_plaintext).await.or_status()?;
        answer(Ok(GenerateDataKeyResponse {
            plaintext: out.plaintext.as_ref().map(|p| p.to_vec()).unwrap_or_default(),
            ciphertext_blob: out.ciphertext,
            key_id: out.key.to_string(),
        }))
    }
}
