//! `KmsGrpc`: the tonic service of `keyraft.kms.v1`. Each call: the caller from the client
//! certificate (the mutual-TLS listener puts `PeerInfo` in the request's extensions) mapped by
//! [`Principals`]; mutating calls inside their idempotency scope; then the same service function
//! the AWS API calls. Every call, refused or not, is told to the node's observers (audit trail,
//! metrics, key last usage) as the AWS edge tells them a request ([`KmsGrpc::observed`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use keyraft_aws::{AwsError, Exchange, Observer};
use keyraft_core::algorithms::{
    encryption_algorithms, signing_algorithms, EncryptionAlgorithm, MacAlgorithm, MessageType, SigningAlgorithm,
};
use keyraft_core::{KeyRecord, KeySpec, KeyUsage, Origin};
use keyraft_raft::tls::{PeerIdentity, PeerInfo};
use keyraft_service::ops::asymmetric_encrypt::is_rsa;
use keyraft_service::ops::CreateKeyInput;
use keyraft_service::{Caller, Kms, KmsError};
use serde_json::{json, Map, Value};
use tonic::metadata::MetadataValue;
use tonic::{Code, Request, Response, Status};

use crate::error::{aws_error, invalid, status, REQUEST_ID_HEADER};
use crate::pb::kms_server::{Kms as KmsApi, KmsServer};
use crate::pb::*;
use crate::principals::Principals;
use crate::wire::{self, OrStatus};
use crate::{idempotency, pb};

/// The gRPC KMS service of one node.
pub struct KmsGrpc {
    kms: Arc<Kms>,
    principals: Arc<Principals>,
    /// Told about every call before its answer leaves (the AWS edge's observers).
    observers: Vec<Arc<dyn Observer>>,
}

type Answer<T> = Result<Response<T>, Status>;

/// One call as the observers see it: what, who, from where, when.
struct Call {
    /// The AWS operation name.
    operation: &'static str,
    request_id: String,
    caller: Result<Caller, Status>,
    source: Option<SocketAddr>,
    /// `keyraft-grpc/<certificate identity>`.
    user_agent: String,
    received_ms: u64,
    started: Instant,
}

impl Call {
    /// The mapped caller, or the refusal the call answers.
    fn caller(&self) -> Result<&Caller, Status> {
        self.caller.as_ref().map_err(Clone::clone)
    }
}

impl KmsGrpc {
    pub fn new(kms: Arc<Kms>, principals: Arc<Principals>, observers: Vec<Arc<dyn Observer>>) -> Self {
        KmsGrpc { kms, principals, observers }
    }

    /// The tonic server, ready for `Server::add_service`; `observers` are the node's (the AWS
    /// API's `ApiState::observers`).
    pub fn server(kms: Arc<Kms>, principals: Arc<Principals>, observers: Vec<Arc<dyn Observer>>) -> KmsServer<Self> {
        KmsServer::new(KmsGrpc::new(kms, principals, observers))
    }

    /// A call arriving: its caller (or why there is none), peer and time.
    fn call<T>(&self, operation: &'static str, req: &Request<T>) -> Call {
        let peer = req.extensions().get::<PeerInfo>();
        Call {
            operation,
            request_id: uuid::Uuid::new_v4().to_string(),
            caller: self.caller(peer),
            source: peer.map(|p| p.remote),
            user_agent: match peer {
                Some(p) => format!("keyraft-grpc/{}", p.identity),
                None => "keyraft-grpc".to_owned(),
            },
            received_ms: self.kms.node().clock().now_ms(),
            started: Instant::now(),
        }
    }

    /// Who is calling: the client certificate's identity, mapped to a configured principal.
    fn caller(&self, peer: Option<&PeerInfo>) -> Result<Caller, Status> {
        let refuse = |code: Code, why: String| {
            tracing::warn!(%why, "refused a gRPC KMS call");
            status(code, "UnrecognizedClientException", why)
        };
        let Some(peer) = peer else {
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

    /// [`KmsGrpc::observed`] around a mutating operation's work, which runs with the request's
    /// idempotency key (so its proposals carry ids derived from it).
    async fn mutating<T, F>(&self, call: &Call, request: Map<String, Value>, key: &str, f: F) -> Answer<T>
    where
        F: Future<Output = Result<(T, Value), Status>>,
    {
        self.observed(call, request, idempotent(call, key, f)).await
    }

    /// Runs one call's work `f` (which answers the message and its outcome as the AWS API's
    /// response members, secrets left out) and tells the observers about it, `request` being
    /// the call's non-secret request members under their AWS names. `f` runs inside
    /// [`keyraft_service::committed::track`], so the record carries the Raft index of its writes.
    /// Fail-closed: an observer's error answers KMSInternalException instead of the result.
    async fn observed<T, F>(&self, call: &Call, request: Map<String, Value>, f: F) -> Answer<T>
    where
        F: Future<Output = Result<(T, Value), Status>>,
    {
        let (out, raft_index) = keyraft_service::committed::track(f).await;
        let refused: AwsError;
        let outcome = match &out {
            Ok((_, v)) => Ok(v),
            Err(s) => {
                refused = aws_error(s);
                Err(&refused)
            }
        };
        let event_id = uuid::Uuid::new_v4().to_string();
        let exchange = Exchange {
            request_id: &call.request_id,
            event_id: &event_id,
            operation: Some(call.operation),
            caller: call.caller.as_ref().ok(),
            access_key_id: None,
            source: call.source,
            user_agent: Some(&call.user_agent),
            request: Some(&request),
            outcome,
            received_ms: call.received_ms,
            elapsed: call.started.elapsed(),
            raft_index,
        };
        let observed = self.observers.iter().try_for_each(|o| o.observe(&exchange));
        let id = MetadataValue::try_from(call.request_id.as_str()).ok();
        let answer = match (out, observed) {
            (_, Err(why)) => {
                tracing::error!(request_id = %call.request_id, error = %why, "gRPC call not recorded; refusing it");
                Err(status(Code::Internal, "KMSInternalException", "The request could not be recorded"))
            }
            (Ok((t, _)), Ok(())) => Ok(Response::new(t)),
            (Err(s), Ok(())) => Err(s),
        };
        match (answer, id) {
            (Ok(mut r), Some(id)) => {
                r.metadata_mut().insert(REQUEST_ID_HEADER, id);
                Ok(r)
            }
            (Err(mut s), Some(id)) => {
                s.metadata_mut().insert(REQUEST_ID_HEADER, id);
                Err(s)
            }
            (a, None) => a,
        }
    }
}

/// Runs a mutating operation's work with the request's idempotency key (required).
async fn idempotent<T, F>(call: &Call, key: &str, f: F) -> Result<T, Status>
where
    F: Future<Output = Result<T, Status>>,
{
    let caller = call.caller()?;
    let key = idempotency::check(key)?;
    let derive = idempotency::derivation(caller.account.as_str(), &caller.principal, call.operation, key);
    keyraft_service::committed::idempotent(derive, f).await
}

/// Request members under their AWS names, for the observers: absent (null), empty strings,
/// maps and lists left out. Never a blob (plaintext, ciphertext, message, signature, MAC).
fn members(v: Value) -> Map<String, Value> {
    let Value::Object(m) = v else { return Map::new() };
    m.into_iter()
        .filter(|(_, v)| match v {
            Value::Null => false,
            Value::String(s) => !s.is_empty(),
            Value::Object(o) => !o.is_empty(),
            Value::Array(a) => !a.is_empty(),
            _ => true,
        })
        .collect()
}

/// Tags as the AWS API sends them.
fn tag_members(tags: &[pb::Tag]) -> Value {
    tags.iter().map(|t| json!({ "TagKey": t.key, "TagValue": t.value })).collect()
}

/// DescribeKey's and CreateKey's response, as the AWS API answers it.
fn key_metadata(k: &KeyRecord) -> (KeyMetadataResponse, Value) {
    (wire::key_metadata(k), json!({ "KeyMetadata": keyraft_aws::wire::key_metadata(k, None) }))
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
        let call = self.call("CreateKey", &req);
        let r = req.into_inner();
        let params = members(json!({
            "Description": r.description,
            "KeyUsage": r.key_usage,
            "KeySpec": r.key_spec,
            "Origin": r.origin,
            "MultiRegion": r.multi_region,
            "Tags": tag_members(&r.tags),
            "Policy": r.policy,
            "BypassPolicyLockoutSafetyCheck": r.bypass_policy_lockout_safety_check,
        }));
        self.mutating(&call, params, &r.idempotency_key, async {
            let caller = call.caller()?;
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
            let key = self.kms.create_key(caller, input).await.or_status()?;
            Ok(key_metadata(&key))
        })
        .await
    }

    async fn describe_key(&self, req: Request<KeyRequest>) -> Answer<KeyMetadataResponse> {
        let call = self.call("DescribeKey", &req);
        let r = req.into_inner();
        self.observed(&call, members(json!({ "KeyId": r.key_id })), async {
            let caller = call.caller()?;
            let key = wire::key_ref("key_id", &r.key_id)?;
            let k = self.kms.describe_key(caller, &key).await.or_status()?;
            Ok(key_metadata(&k))
        })
        .await
    }

    async fn list_keys(&self, req: Request<ListRequest>) -> Answer<ListKeysResponse> {
        let call = self.call("ListKeys", &req);
        let r = req.into_inner();
        self.observed(&call, members(json!({ "Limit": r.limit, "Marker": r.marker })), async {
            let caller = call.caller()?;
            let page = self.kms.list_keys(caller, wire::limit(r.limit)?, wire::marker(&r.marker)?).await.or_status()?;
            let keys = page
                .items
                .iter()
                .map(|a| KeyListEntry { key_id: a.key_id.as_str().to_owned(), key_arn: a.to_string() });
            let out = json!({ "Truncated": page.next_marker.is_some(), "NextMarker": page.next_marker });
            Ok((
                ListKeysResponse {
                    keys: keys.collect(),
                    truncated: page.next_marker.is_some(),
                    next_marker: page.next_marker,
                },
                out,
            ))
        })
        .await
    }

    async fn enable_key(&self, req: Request<KeyMutation>) -> Answer<Empty> {
        let call = self.call("EnableKey", &req);
        let r = req.into_inner();
        self.mutating(&call, members(json!({ "KeyId": r.key_id })), &r.idempotency_key, async {
            self.kms.enable_key(call.caller()?, &wire::key_ref("key_id", &r.key_id)?).await.or_status()?;
            Ok((Empty {}, json!({})))
        })
        .await
    }

    async fn disable_key(&self, req: Request<KeyMutation>) -> Answer<Empty> {
        let call = self.call("DisableKey", &req);
        let r = req.into_inner();
        self.mutating(&call, members(json!({ "KeyId": r.key_id })), &r.idempotency_key, async {
            self.kms.disable_key(call.caller()?, &wire::key_ref("key_id", &r.key_id)?).await.or_status()?;
            Ok((Empty {}, json!({})))
        })
        .await
    }

    async fn schedule_key_deletion(
        &self,
        req: Request<ScheduleKeyDeletionRequest>,
    ) -> Answer<ScheduleKeyDeletionResponse> {
        let call = self.call("ScheduleKeyDeletion", &req);
        let r = req.into_inner();
        let params = members(json!({ "KeyId": r.key_id, "PendingWindowInDays": r.pending_window_in_days }));
        self.mutating(&call, params, &r.idempotency_key, async {
            let key = wire::key_ref("key_id", &r.key_id)?;
            let k = self.kms.schedule_key_deletion(call.caller()?, &key, r.pending_window_in_days).await.or_status()?;
            let out = members(json!({
                "KeyId": k.arn().to_string(),
                "KeyState": k.state.as_aws(),
                "PendingWindowInDays": k.pending_window_days,
                "DeletionDate": k.deletion_ms.map(keyraft_aws::wire::epoch),
            }));
            Ok((
                ScheduleKeyDeletionResponse {
                    key_id: k.arn().to_string(),
                    key_state: k.state.as_aws().to_owned(),
                    pending_window_in_days: k.pending_window_days.unwrap_or_default(),
                    // A multi-region primary with replicas (PendingReplicaDeletion) has no date yet.
                    deletion_date_ms: k.deletion_ms.map(wire::ms),
                },
                Value::Object(out),
            ))
        })
        .await
    }

    async fn cancel_key_deletion(&self, req: Request<KeyMutation>) -> Answer<KeyIdResponse> {
        let call = self.call("CancelKeyDeletion", &req);
        let r = req.into_inner();
        self.mutating(&call, members(json!({ "KeyId": r.key_id })), &r.idempotency_key, async {
            let key = wire::key_ref("key_id", &r.key_id)?;
            let k = self.kms.cancel_key_deletion(call.caller()?, &key).await.or_status()?;
            let arn = k.arn().to_string();
            Ok((KeyIdResponse { key_id: arn.clone() }, json!({ "KeyId": arn })))
        })
        .await
    }

    async fn update_key_description(&self, req: Request<UpdateKeyDescriptionRequest>) -> Answer<Empty> {
        let call = self.call("UpdateKeyDescription", &req);
        let r = req.into_inner();
        self.mutating(
            &call,
            members(json!({ "KeyId": r.key_id, "Description": r.description })),
            &r.idempotency_key,
            async {
                let key = wire::key_ref("key_id", &r.key_id)?;
                let d = wire::text("description", &r.description, 0, 8192)?.to_owned();
                self.kms.update_key_description(call.caller()?, &key, d).await.or_status()?;
                Ok((Empty {}, json!({})))
            },
        )
        .await
    }

    async fn create_alias(&self, req: Request<AliasRequest>) -> Answer<Empty> {
        let call = self.call("CreateAlias", &req);
        let r = req.into_inner();
        let params = members(json!({ "AliasName": r.alias_name, "TargetKeyId": r.target_key_id }));
        self.mutating(&call, params, &r.idempotency_key, async {
            let name = wire::text("alias_name", &r.alias_name, 1, 256)?;
            let target = wire::key_ref("target_key_id", &r.target_key_id)?;
            self.kms.create_alias(call.caller()?, name, &target).await.or_status()?;
            Ok((Empty {}, json!({})))
        })
        .await
    }

    async fn update_alias(&self, req: Request<AliasRequest>) -> Answer<Empty> {
        let call = self.call("UpdateAlias", &req);
        let r = req.into_inner();
        let params = members(json!({ "AliasName": r.alias_name, "TargetKeyId": r.target_key_id }));
        self.mutating(&call, params, &r.idempotency_key, async {
            let name = wire::text("alias_name", &r.alias_name, 1, 256)?;
            let target = wire::key_ref("target_key_id", &r.target_key_id)?;
            self.kms.update_alias(call.caller()?, name, &target).await.or_status()?;
            Ok((Empty {}, json!({})))
        })
        .await
    }

    async fn delete_alias(&self, req: Request<DeleteAliasRequest>) -> Answer<Empty> {
        let call = self.call("DeleteAlias", &req);
        let r = req.into_inner();
        self.mutating(&call, members(json!({ "AliasName": r.alias_name })), &r.idempotency_key, async {
            let name = wire::text("alias_name", &r.alias_name, 1, 256)?;
            self.kms.delete_alias(call.caller()?, name).await.or_status()?;
            Ok((Empty {}, json!({})))
        })
        .await
    }

    async fn list_aliases(&self, req: Request<ListAliasesRequest>) -> Answer<ListAliasesResponse> {
        let call = self.call("ListAliases", &req);
        let r = req.into_inner();
        let params = members(json!({ "KeyId": r.key_id, "Limit": r.limit, "Marker": r.marker }));
        self.observed(&call, params, async {
            let caller = call.caller()?;
            let key = wire::key_ref_opt("key_id", r.key_id.as_deref())?;
            let page = self
                .kms
                .list_aliases(caller, key.as_ref(), wire::limit(r.limit)?, wire::marker(&r.marker)?)
                .await
                .or_status()?;
            let aliases = page.items.iter().map(|a| AliasListEntry {
                alias_name: a.alias.name.as_str().to_owned(),
                alias_arn: a.arn.clone(),
                target_key_id: a.alias.target.as_str().to_owned(),
                creation_date_ms: wire::ms(a.alias.creation_ms),
                last_updated_date_ms: wire::ms(a.alias.last_updated_ms),
            });
            let out = json!({ "Truncated": page.next_marker.is_some(), "NextMarker": page.next_marker });
            Ok((
                ListAliasesResponse {
                    aliases: aliases.collect(),
                    truncated: page.next_marker.is_some(),
                    next_marker: page.next_marker,
                },
                out,
            ))
        })
        .await
    }

    async fn encrypt(&self, req: Request<EncryptRequest>) -> Answer<EncryptResponse> {
        let call = self.call("Encrypt", &req);
        let r = req.into_inner();
        let params = members(json!({
            "KeyId": r.key_id,
            "EncryptionContext": r.encryption_context,
            "EncryptionAlgorithm": r.encryption_algorithm,
        }));
        self.observed(&call, params, async {
            let caller = call.caller()?;
            let alg = encryption_algorithm("encryption_algorithm", r.encryption_algorithm.as_deref())?;
            let pt = wire::blob("plaintext", &r.plaintext, 1, 4096)?;
            let key = wire::key_ref("key_id", &r.key_id)?;
            let ctx = wire::context(r.encryption_context)?;
            let out = match is_rsa(alg) {
                true => self.kms.encrypt_asymmetric(caller, &key, pt, alg, &ctx).await,
                false => self.kms.encrypt(caller, &key, pt, &ctx).await,
            }
            .or_status()?;
            let key_id = out.key.to_string();
            let outcome = json!({ "KeyId": key_id, "EncryptionAlgorithm": alg.as_aws() });
            Ok((
                EncryptResponse {
                    ciphertext_blob: out.ciphertext,
                    key_id,
                    encryption_algorithm: alg.as_aws().to_owned(),
                },
                outcome,
            ))
        })
        .await
    }

    async fn decrypt(&self, req: Request<DecryptRequest>) -> Answer<DecryptResponse> {
        let call = self.call("Decrypt", &req);
        let r = req.into_inner();
        let params = members(json!({
            "KeyId": r.key_id,
            "EncryptionContext": r.encryption_context,
            "EncryptionAlgorithm": r.encryption_algorithm,
        }));
        self.observed(&call, params, async {
            let caller = call.caller()?;
            let alg = encryption_algorithm("encryption_algorithm", r.encryption_algorithm.as_deref())?;
            let ct = wire::blob("ciphertext_blob", &r.ciphertext_blob, 1, 6144)?;
            let key = wire::key_ref_opt("key_id", r.key_id.as_deref())?;
            let ctx = wire::context(r.encryption_context)?;
            let out = match is_rsa(alg) {
                true => self.kms.decrypt_asymmetric(caller, ct, alg, &ctx, key.as_ref()).await,
                false => self.kms.decrypt(caller, ct, &ctx, key.as_ref()).await,
            }
            .or_status()?;
            let key_id = out.key.to_string();
            let outcome = json!({ "KeyId": key_id, "EncryptionAlgorithm": alg.as_aws() });
            Ok((
                DecryptResponse {
                    // The service's copy is zeroized when `out` drops; the message's leaves with it.
                    plaintext: out.plaintext.to_vec(),
                    key_id,
                    encryption_algorithm: alg.as_aws().to_owned(),
                },
                outcome,
            ))
        })
        .await
    }

    async fn re_encrypt(&self, req: Request<ReEncryptRequest>) -> Answer<ReEncryptResponse> {
        let call = self.call("ReEncrypt", &req);
        let r = req.into_inner();
        let params = members(json!({
            "SourceKeyId": r.source_key_id,
            "DestinationKeyId": r.destination_key_id,
            "SourceEncryptionContext": r.source_encryption_context,
            "DestinationEncryptionContext": r.destination_encryption_context,
            "SourceEncryptionAlgorithm": r.source_encryption_algorithm,
            "DestinationEncryptionAlgorithm": r.destination_encryption_algorithm,
        }));
        self.observed(&call, params, async {
            let caller = call.caller()?;
            let src_alg =
                encryption_algorithm("source_encryption_algorithm", r.source_encryption_algorithm.as_deref())?;
            let dst_alg = encryption_algorithm(
                "destination_encryption_algorithm",
                r.destination_encryption_algorithm.as_deref(),
            )?;
            let ct = wire::blob("ciphertext_blob", &r.ciphertext_blob, 1, 6144)?;
            let src_key = wire::key_ref_opt("source_key_id", r.source_key_id.as_deref())?;
            let dst_key = wire::key_ref("destination_key_id", &r.destination_key_id)?;
            let out = self
                .kms
                .re_encrypt_with_algorithms(
                    caller,
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
            let (source_key_id, key_id) = (out.source_key.to_string(), out.destination_key.to_string());
            let outcome = json!({
                "SourceKeyId": source_key_id,
                "KeyId": key_id,
                "SourceEncryptionAlgorithm": src_alg.as_aws(),
                "DestinationEncryptionAlgorithm": dst_alg.as_aws(),
            });
            Ok((
                ReEncryptResponse {
                    ciphertext_blob: out.ciphertext,
                    source_key_id,
                    key_id,
                    source_encryption_algorithm: src_alg.as_aws().to_owned(),
                    destination_encryption_algorithm: dst_alg.as_aws().to_owned(),
                },
                outcome,
            ))
        })
        .await
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
        let call = self.call("GenerateRandom", &req);
        let n = req.get_ref().number_of_bytes;
        self.observed(&call, members(json!({ "NumberOfBytes": n })), async {
            let out = self.kms.generate_random(call.caller()?, n as usize).or_status()?;
            Ok((GenerateRandomResponse { plaintext: out.to_vec() }, json!({})))
        })
        .await
    }

    async fn sign(&self, req: Request<SignRequest>) -> Answer<SignResponse> {
        let call = self.call("Sign", &req);
        let r = req.into_inner();
        let params = members(json!({
            "KeyId": r.key_id,
            "MessageType": r.message_type,
            "SigningAlgorithm": r.signing_algorithm,
        }));
        self.observed(&call, params, async {
            let caller = call.caller()?;
            let key = wire::key_ref("key_id", &r.key_id)?;
            let message = wire::blob("message", &r.message, 1, 4096)?;
            let mt = wire::name_opt("message_type", r.message_type.as_deref(), MessageType::from_aws)?
                .unwrap_or(MessageType::Raw);
            let alg = wire::name("signing_algorithm", &r.signing_algorithm, SigningAlgorithm::from_aws)?;
            let out = self.kms.sign(caller, &key, message, mt, alg).await.or_status()?;
            let key_id = out.key.to_string();
            let outcome = json!({ "KeyId": key_id, "SigningAlgorithm": alg.as_aws() });
            Ok((SignResponse { key_id, signature: out.signature, signing_algorithm: alg.as_aws().to_owned() }, outcome))
        })
        .await
    }

    async fn verify(&self, req: Request<VerifyRequest>) -> Answer<VerifyResponse> {
        let call = self.call("Verify", &req);
        let r = req.into_inner();
        let params = members(json!({
            "KeyId": r.key_id,
            "MessageType": r.message_type,
            "SigningAlgorithm": r.signing_algorithm,
        }));
        self.observed(&call, params, async {
            let caller = call.caller()?;
            let key = wire::key_ref("key_id", &r.key_id)?;
            let message = wire::blob("message", &r.message, 1, 4096)?;
            let signature = wire::blob("signature", &r.signature, 1, 6144)?;
            let mt = wire::name_opt("message_type", r.message_type.as_deref(), MessageType::from_aws)?
                .unwrap_or(MessageType::Raw);
            let alg = wire::name("signing_algorithm", &r.signing_algorithm, SigningAlgorithm::from_aws)?;
            let arn = self.kms.verify(caller, &key, message, mt, signature, alg).await.or_status()?;
            let key_id = arn.to_string();
            let outcome = json!({ "KeyId": key_id, "SignatureValid": true, "SigningAlgorithm": alg.as_aws() });
            Ok((VerifyResponse { key_id, signature_valid: true, signing_algorithm: alg.as_aws().to_owned() }, outcome))
        })
        .await
    }

    async fn get_public_key(&self, req: Request<KeyRequest>) -> Answer<GetPublicKeyResponse> {
        let call = self.call("GetPublicKey", &req);
        let r = req.into_inner();
        self.observed(&call, members(json!({ "KeyId": r.key_id })), async {
            let caller = call.caller()?;
            let key = wire::key_ref("key_id", &r.key_id)?;
            let out = self.kms.get_public_key(caller, &key).await.or_status()?;
            let k = &out.key;
            let msg = GetPublicKeyResponse {
                key_id: k.arn().to_string(),
                public_key: out.public_key,
                key_spec: k.spec.as_aws().to_owned(),
                key_usage: k.usage.as_aws().to_owned(),
                encryption_algorithms: wire::names(encryption_algorithms(k.spec, k.usage)),
                signing_algorithms: wire::names(signing_algorithms(k.spec, k.usage)),
            };
            let outcome = members(json!({
                "KeyId": msg.key_id,
                "KeySpec": msg.key_spec,
                "KeyUsage": msg.key_usage,
                "EncryptionAlgorithms": msg.encryption_algorithms,
                "SigningAlgorithms": msg.signing_algorithms,
            }));
            Ok((msg, Value::Object(outcome)))
        })
        .await
    }

    async fn generate_mac(&self, req: Request<GenerateMacRequest>) -> Answer<GenerateMacResponse> {
        let call = self.call("GenerateMac", &req);
        let r = req.into_inner();
        self.observed(&call, members(json!({ "KeyId": r.key_id, "MacAlgorithm": r.mac_algorithm })), async {
            let caller = call.caller()?;
            let key = wire::key_ref("key_id", &r.key_id)?;
            let message = wire::blob("message", &r.message, 1, 4096)?;
            let alg = wire::name("mac_algorithm", &r.mac_algorithm, MacAlgorithm::from_aws)?;
            let out = self.kms.generate_mac(caller, &key, message, alg).await.or_status()?;
            let key_id = out.key.to_string();
            let outcome = json!({ "KeyId": key_id, "MacAlgorithm": alg.as_aws() });
            Ok((GenerateMacResponse { mac: out.mac, mac_algorithm: alg.as_aws().to_owned(), key_id }, outcome))
        })
        .await
    }

    async fn verify_mac(&self, req: Request<VerifyMacRequest>) -> Answer<VerifyMacResponse> {
        let call = self.call("VerifyMac", &req);
        let r = req.into_inner();
        self.observed(&call, members(json!({ "KeyId": r.key_id, "MacAlgorithm": r.mac_algorithm })), async {
            let caller = call.caller()?;
            let key = wire::key_ref("key_id", &r.key_id)?;
            let message = wire::blob("message", &r.message, 1, 4096)?;
            let mac = wire::blob("mac", &r.mac, 1, 6144)?;
            let alg = wire::name("mac_algorithm", &r.mac_algorithm, MacAlgorithm::from_aws)?;
            let arn = self.kms.verify_mac(caller, &key, message, mac, alg).await.or_status()?;
            let key_id = arn.to_string();
            let outcome = json!({ "KeyId": key_id, "MacValid": true, "MacAlgorithm": alg.as_aws() });
            Ok((VerifyMacResponse { key_id, mac_valid: true, mac_algorithm: alg.as_aws().to_owned() }, outcome))
        })
        .await
    }

    async fn tag_resource(&self, req: Request<TagResourceRequest>) -> Answer<Empty> {
        let call = self.call("TagResource", &req);
        let r = req.into_inner();
        self.mutating(
            &call,
            members(json!({ "KeyId": r.key_id, "Tags": tag_members(&r.tags) })),
            &r.idempotency_key,
            async {
                let key = wire::key_ref("key_id", &r.key_id)?;
                self.kms.tag_resource(call.caller()?, &key, wire::tags(r.tags)).await.or_status()?;
                Ok((Empty {}, json!({})))
            },
        )
        .await
    }

    async fn untag_resource(&self, req: Request<UntagResourceRequest>) -> Answer<Empty> {
        let call = self.call("UntagResource", &req);
        let r = req.into_inner();
        self.mutating(&call, members(json!({ "KeyId": r.key_id, "TagKeys": r.tag_keys })), &r.idempotency_key, async {
            let key = wire::key_ref("key_id", &r.key_id)?;
            self.kms.untag_resource(call.caller()?, &key, r.tag_keys).await.or_status()?;
            Ok((Empty {}, json!({})))
        })
        .await
    }

    async fn list_resource_tags(&self, req: Request<ListResourceTagsRequest>) -> Answer<ListResourceTagsResponse> {
        let call = self.call("ListResourceTags", &req);
        let r = req.into_inner();
        let params = members(json!({ "KeyId": r.key_id, "Limit": r.limit, "Marker": r.marker }));
        self.observed(&call, params, async {
            let caller = call.caller()?;
            let key = wire::key_ref("key_id", &r.key_id)?;
            let page = self
                .kms
                .list_resource_tags(caller, &key, wire::limit(r.limit)?, wire::marker(&r.marker)?)
                .await
                .or_status()?;
            let out = json!({ "Truncated": page.next_marker.is_some(), "NextMarker": page.next_marker });
            Ok((
                ListResourceTagsResponse {
                    tags: page.items.into_iter().map(|(key, value)| pb::Tag { key, value }).collect(),
                    truncated: page.next_marker.is_some(),
                    next_marker: page.next_marker,
                },
                out,
            ))
        })
        .await
    }

    async fn get_key_policy(&self, req: Request<GetKeyPolicyRequest>) -> Answer<GetKeyPolicyResponse> {
        let call = self.call("GetKeyPolicy", &req);
        let r = req.into_inner();
        self.observed(&call, members(json!({ "KeyId": r.key_id, "PolicyName": r.policy_name })), async {
            let caller = call.caller()?;
            let key = wire::key_ref("key_id", &r.key_id)?;
            let name = r.policy_name.as_deref().map(|n| wire::text("policy_name", n, 1, 128)).transpose()?;
            let (policy_name, policy) = self.kms.get_key_policy(caller, &key, name).await.or_status()?;
            let outcome = json!({ "PolicyName": policy_name });
            Ok((GetKeyPolicyResponse { policy, policy_name }, outcome))
        })
        .await
    }

    async fn put_key_policy(&self, req: Request<PutKeyPolicyRequest>) -> Answer<Empty> {
        let call = self.call("PutKeyPolicy", &req);
        let r = req.into_inner();
        let params = members(json!({
            "KeyId": r.key_id,
            "PolicyName": r.policy_name,
            "Policy": r.policy,
            "BypassPolicyLockoutSafetyCheck": r.bypass_policy_lockout_safety_check,
        }));
        self.mutating(&call, params, &r.idempotency_key, async {
            let key = wire::key_ref("key_id", &r.key_id)?;
            let name = r.policy_name.as_deref().map(|n| wire::text("policy_name", n, 1, 128)).transpose()?;
            let policy = wire::text("policy", &r.policy, 1, 32768)?.to_owned();
            let bypass = r.bypass_policy_lockout_safety_check;
            self.kms.put_key_policy(call.caller()?, &key, name, policy, bypass).await.or_status()?;
            Ok((Empty {}, json!({})))
        })
        .await
    }

    async fn enable_key_rotation(&self, req: Request<EnableKeyRotationRequest>) -> Answer<Empty> {
        let call = self.call("EnableKeyRotation", &req);
        let r = req.into_inner();
        let params = members(json!({ "KeyId": r.key_id, "RotationPeriodInDays": r.rotation_period_in_days }));
        self.mutating(&call, params, &r.idempotency_key, async {
            let key = wire::key_ref("key_id", &r.key_id)?;
            self.kms.enable_key_rotation(call.caller()?, &key, r.rotation_period_in_days).await.or_status()?;
            Ok((Empty {}, json!({})))
        })
        .await
    }

    async fn disable_key_rotation(&self, req: Request<KeyMutation>) -> Answer<Empty> {
        let call = self.call("DisableKeyRotation", &req);
        let r = req.into_inner();
        self.mutating(&call, members(json!({ "KeyId": r.key_id })), &r.idempotency_key, async {
            let key = wire::key_ref("key_id", &r.key_id)?;
            self.kms.disable_key_rotation(call.caller()?, &key).await.or_status()?;
            Ok((Empty {}, json!({})))
        })
        .await
    }

    async fn get_key_rotation_status(&self, req: Request<KeyRequest>) -> Answer<GetKeyRotationStatusResponse> {
        let call = self.call("GetKeyRotationStatus", &req);
        let r = req.into_inner();
        self.observed(&call, members(json!({ "KeyId": r.key_id })), async {
            let caller = call.caller()?;
            let key = wire::key_ref("key_id", &r.key_id)?;
            let s = self.kms.get_key_rotation_status(caller, &key).await.or_status()?;
            let key_id = s.key.to_string();
            let outcome = members(json!({
                "KeyId": key_id,
                "KeyRotationEnabled": s.period_days.is_some(),
                "RotationPeriodInDays": s.period_days,
                "NextRotationDate": s.next_rotation_ms.map(keyraft_aws::wire::epoch),
            }));
            Ok((
                GetKeyRotationStatusResponse {
                    key_id,
                    key_rotation_enabled: s.period_days.is_some(),
                    rotation_period_in_days: s.period_days,
                    next_rotation_date_ms: s.next_rotation_ms.map(wire::ms),
                },
                Value::Object(outcome),
            ))
        })
        .await
    }

    async fn rotate_key_on_demand(&self, req: Request<KeyMutation>) -> Answer<KeyIdResponse> {
        let call = self.call("RotateKeyOnDemand", &req);
        let r = req.into_inner();
        self.mutating(&call, members(json!({ "KeyId": r.key_id })), &r.idempotency_key, async {
            let key = wire::key_ref("key_id", &r.key_id)?;
            let arn = self.kms.rotate_key_on_demand(call.caller()?, &key).await.or_status()?.to_string();
            Ok((KeyIdResponse { key_id: arn.clone() }, json!({ "KeyId": arn })))
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
        let operation = match with_plaintext {
            true => "GenerateDataKey",
            false => "GenerateDataKeyWithoutPlaintext",
        };
        let call = self.call(operation, &req);
        let r = req.into_inner();
        let params = members(json!({
            "KeyId": r.key_id,
            "EncryptionContext": r.encryption_context,
            "KeySpec": r.key_spec,
            "NumberOfBytes": r.number_of_bytes,
        }));
        self.observed(&call, params, async {
            let caller = call.caller()?;
            let bytes = data_key_bytes(r.key_spec.as_deref(), r.number_of_bytes)?;
            let key = wire::key_ref("key_id", &r.key_id)?;
            let ctx = wire::context(r.encryption_context)?;
            let out = self.kms.generate_data_key(caller, &key, bytes, &ctx, with_plaintext).await.or_status()?;
            let key_id = out.key.to_string();
            let outcome = json!({ "KeyId": key_id });
            Ok((
                GenerateDataKeyResponse {
                    plaintext: out.plaintext.as_ref().map(|p| p.to_vec()).unwrap_or_default(),
                    ciphertext_blob: out.ciphertext,
                    key_id,
                },
                outcome,
            ))
        })
        .await
    }
}
