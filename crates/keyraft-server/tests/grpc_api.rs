//! The gRPC KMS API (`keyraft.kms.v1`) over mutual TLS with the deployment PKI of `keyraft pki
//! init`: the operator's certificate calls as the account root on any node, with the AWS API's
//! semantics (a ciphertext of one API decrypts through the other, errors carry AWS's exception
//! names) and explicit idempotency keys; a client without a certificate, with another
//! deployment's, with a node's, with one not mapped to a principal, or mapped to an IAM user
//! without permissions is refused; `keyraft kms` drives it from the command line; every call is
//! seen by the node's observers like an AWS API request (audit trail, metrics, key last usage).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aws_sdk_kms::primitives::Blob;

use keyraft_core::{AccountId, Region};
use keyraft_grpc::pb::kms_client::KmsClient;
use keyraft_grpc::pb::{self};
use keyraft_grpc::{ClientTls, GrpcPrincipal};
use keyraft_server::pki::{self, PkiOptions};
use keyraft_server::NodeConfig;
use keyraft_testkit::{use_pki, Cluster};
use tonic::transport::Channel;
use tonic::Code;

const USE1: &str = "us-east-1";
const ACCOUNT: &str = "111122223333";

/// This deployment's PKI (with two more operator certificates, `nobody` and `stranger`, issued
/// by its CA) and another deployment's, made once per test binary (a `fn` tweak cannot capture
/// them).
fn pki_dirs() -> (&'static Path, &'static Path) {
    static DIRS: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    let d = DIRS.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tmp");
        let ours = tmp.path().join("pki");
        let theirs = tmp.path().join("other");
        let regions = vec![Region::parse(USE1).expect("region")];
        pki::init(&PkiOptions::new(&ours, regions.clone())).expect("pki init");
        pki::init(&PkiOptions::new(&theirs, regions)).expect("other pki init");
        for name in ["nobody", "stranger"] {
            issue_operator(&ours, name);
        }
        (tmp, ours, theirs)
    });
    (&d.1, &d.2)
}

/// `<dir>/<name>.pem` and `<name>-key.pem`: an operator certificate `keyraft://operator/<name>`
/// signed by the PKI's CA.
fn issue_operator(dir: &Path, name: &str) {
    let ca_pem = std::fs::read_to_string(dir.join("ca.pem")).expect("ca.pem");
    let ca_key = rcgen::KeyPair::from_pem(&std::fs::read_to_string(dir.join("ca-key.pem")).expect("ca-key.pem"))
        .expect("CA key");
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca_pem, ca_key).expect("CA");
    let mut p = rcgen::CertificateParams::default();
    p.subject_alt_names = vec![rcgen::SanType::URI(pki::operator_uri(name).try_into().expect("uri"))];
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    p.use_authority_key_identifier_extension = true;
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = p.signed_by(&key, &issuer).expect("sign");
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).expect("write cert");
    std::fs::write(dir.join(format!("{name}-key.pem")), key.serialize_pem()).expect("write key");
}

fn principal(identity: &str, principal: Option<&str>) -> GrpcPrincipal {
    GrpcPrincipal {
        identity: identity.into(),
        account_id: AccountId::parse(ACCOUNT).expect("account"),
        principal: principal.map(str::to_owned),
        policies: vec![],
    }
}

/// `[tls]` from our PKI, the gRPC API on a free port, the operator `admin` as the account root
/// and `nobody` as an IAM user without identity policies (`stranger` is not mapped).
fn with_grpc(cfg: &mut NodeConfig) {
    cfg.heartbeat_ms = Some(50);
    use_pki(cfg, pki_dirs().0);
    let port = keyraft_testkit::free_ports(1).first().copied().expect("a free port");
    cfg.grpc_addr = Some(format!("127.0.0.1:{port}"));
    cfg.grpc_principals = vec![
        principal("keyraft://operator/admin", None),
        principal("keyraft://operator/nobody", Some("arn:aws:iam::111122223333:user/nobody")),
    ];
}

fn endpoint(c: &Cluster, n: u64) -> String {
    format!("https://{}", c.node(USE1, n).config.grpc_addr.as_deref().expect("grpc_addr"))
}

/// A client presenting `<dir>/<cert>` with `<dir>/<key>`, trusting our CA.
fn client_as(c: &Cluster, n: u64, dir: &Path, cert: &str, key: &str) -> KmsClient<Channel> {
    let ca = pki_dirs().0.join("ca.pem");
    ClientTls::load(&dir.join(cert), &dir.join(key), &ca).expect("client TLS").client(&endpoint(c, n)).expect("client")
}

fn operator(c: &Cluster, n: u64) -> KmsClient<Channel> {
    client_as(c, n, pki_dirs().0, "operator.pem", "operator-key.pem")
}

fn https_client(c: &Cluster, n: u64) -> aws_sdk_kms::Client {
    c.https_client(USE1, n, &std::fs::read(pki_dirs().0.join("ca.pem")).expect("ca.pem"))
}

fn exception(s: &tonic::Status) -> Option<&str> {
    keyraft_grpc::error::exception(s)
}

async fn create_key(client: &mut KmsClient<Channel>, idempotency_key: &str) -> Result<String, tonic::Status> {
    let req = pb::CreateKeyRequest {
        idempotency_key: idempotency_key.into(),
        description: "grpc".into(),
        ..Default::default()
    };
    let out = client.create_key(req).await?.into_inner();
    Ok(out.key_metadata.expect("metadata").key_id)
}

async fn key_count(client: &mut KmsClient<Channel>) -> usize {
    let out = client.list_keys(pb::ListRequest { limit: Some(1000), marker: None }).await.expect("ListKeys");
    out.into_inner().keys.len()
}

fn context() -> HashMap<String, String> {
    HashMap::from([("purpose".to_owned(), "grpc-test".to_owned())])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operator_calls_any_node_with_the_aws_semantics_and_idempotency_keys() {
    let c = Cluster::ready_with(&[USE1], with_grpc).await.expect("a region over mutual TLS");
    let (mut n1, mut n2) = (operator(&c, 1), operator(&c, 2));

    // CreateKey → Encrypt on node 1 → Decrypt on node 2.
    let key = create_key(&mut n1, "first-key").await.expect("CreateKey");
    let described = n2.describe_key(pb::KeyRequest { key_id: key.clone() }).await.expect("DescribeKey").into_inner();
    let meta = described.key_metadata.expect("metadata");
    assert_eq!((meta.key_state.as_str(), meta.account_id.as_str(), meta.enabled), ("Enabled", ACCOUNT, true));
    let enc = n1
        .encrypt(pb::EncryptRequest {
            key_id: key.clone(),
            plaintext: b"over gRPC".to_vec(),
            encryption_context: context(),
            encryption_algorithm: None,
        })
        .await
        .expect("Encrypt")
        .into_inner();
    assert!(enc.key_id.ends_with(&key), "{}", enc.key_id);
    let dec = n2
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: enc.ciphertext_blob.clone(),
            encryption_context: context(),
            key_id: None,
            encryption_algorithm: None,
        })
        .await
        .expect("Decrypt on another node")
        .into_inner();
    assert_eq!(dec.plaintext, b"over gRPC");
    assert_eq!(dec.key_id, enc.key_id);

    // The same semantics as the AWS API: a wrong encryption context is InvalidCiphertext on both.
    let wrong = n2
        .decrypt(pb::DecryptRequest { ciphertext_blob: enc.ciphertext_blob.clone(), ..Default::default() })
        .await
        .expect_err("no context");
    assert_eq!((wrong.code(), exception(&wrong)), (Code::InvalidArgument, Some("InvalidCiphertextException")));

    // A gRPC ciphertext decrypts through the AWS API, and an AWS API ciphertext through gRPC.
    let aws = https_client(&c, 3);
    let out = aws
        .decrypt()
        .ciphertext_blob(Blob::new(enc.ciphertext_blob.clone()))
        .encryption_context("purpose", "grpc-test")
        .send()
        .await
        .expect("AWS Decrypt of a gRPC ciphertext");
    assert_eq!(out.plaintext.expect("plaintext").as_ref(), b"over gRPC");
    let blob = aws
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"over the AWS API".to_vec()))
        .send()
        .await
        .expect("AWS Encrypt")
        .ciphertext_blob
        .expect("blob");
    let dec = operator(&c, 3)
        .decrypt(pb::DecryptRequest { ciphertext_blob: blob.into_inner(), ..Default::default() })
        .await
        .expect("gRPC Decrypt of an AWS ciphertext")
        .into_inner();
    assert_eq!(dec.plaintext, b"over the AWS API");

    // Errors carry the AWS exception name: NotFound, Disabled.
    let missing = n1
        .describe_key(pb::KeyRequest { key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into() })
        .await
        .expect_err("an unknown key");
    assert_eq!((missing.code(), exception(&missing)), (Code::NotFound, Some("NotFoundException")));
    n1.disable_key(pb::KeyMutation { idempotency_key: "disable-1".into(), key_id: key.clone() })
        .await
        .expect("DisableKey");
    let disabled = n2
        .encrypt(pb::EncryptRequest { key_id: key.clone(), plaintext: b"x".to_vec(), ..Default::default() })
        .await
        .expect_err("a disabled key");
    assert_eq!((disabled.code(), exception(&disabled)), (Code::FailedPrecondition, Some("DisabledException")));
    n1.enable_key(pb::KeyMutation { idempotency_key: "enable-1".into(), key_id: key.clone() })
        .await
        .expect("EnableKey");

    // Aliases and scheduled deletion.
    n2.create_alias(pb::AliasRequest {
        idempotency_key: "alias-1".into(),
        alias_name: "alias/grpc".into(),
        target_key_id: key.clone(),
    })
    .await
    .expect("CreateAlias");
    let via_alias = n1
        .generate_data_key(pb::GenerateDataKeyRequest {
            key_id: "alias/grpc".into(),
            key_spec: Some("AES_256".into()),
            ..Default::default()
        })
        .await
        .expect("GenerateDataKey by alias")
        .into_inner();
    assert_eq!(via_alias.plaintext.len(), 32);

    // Idempotency: the same CreateKey twice (the retry on another node) is one key; another key
    // makes another.
    let before = key_count(&mut n1).await;
    let a = create_key(&mut n1, "create-once").await.expect("CreateKey");
    let again = create_key(&mut n2, "create-once").await.expect("CreateKey repeated");
    assert_eq!(a, again, "the same idempotency key answers the first key");
    assert_eq!(key_count(&mut n1).await, before + 1);
    let b = create_key(&mut n1, "create-twice").await.expect("CreateKey with another key");
    assert_ne!(a, b);
    assert_eq!(key_count(&mut n2).await, before + 2);

    // A mutating call without an idempotency key, or with one too long, is refused.
    for bad in [String::new(), "k".repeat(65)] {
        let e = create_key(&mut n1, &bad).await.expect_err("bad idempotency key");
        assert_eq!((e.code(), exception(&e)), (Code::InvalidArgument, Some("ValidationException")), "{bad:?}");
    }
    assert_eq!(key_count(&mut n1).await, before + 2);

    let deletion = n1
        .schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
            idempotency_key: "delete-b".into(),
            key_id: b.clone(),
            pending_window_in_days: Some(7),
        })
        .await
        .expect("ScheduleKeyDeletion")
        .into_inner();
    assert_eq!((deletion.key_state.as_str(), deletion.pending_window_in_days), ("PendingDeletion", 7));
    assert!(deletion.deletion_date_ms.is_some());
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_without_a_valid_mapped_certificate_are_refused() {
    let (ours, theirs) = pki_dirs();
    let c = Cluster::ready_with(&[USE1], with_grpc).await.expect("a region over mutual TLS");
    let ca = vec![rustls_ca(ours)];
    let list = |mut client: KmsClient<Channel>| async move {
        client.list_keys(pb::ListRequest::default()).await.map(|r| r.into_inner().keys.len())
    };

    // No client certificate: the handshake fails, no call is answered.
    let none = ClientTls::new(None, ca.clone()).expect("TLS").client(&endpoint(&c, 1)).expect("client");
    let e = list(none).await.expect_err("no client certificate");
    assert!(exception(&e).is_none() && e.code() != Code::Ok, "refused by the handshake: {e:?}");

    // Another deployment's operator certificate: likewise.
    let other = client_as(&c, 1, theirs, "operator.pem", "operator-key.pem");
    let e = list(other).await.expect_err("another deployment's certificate");
    assert!(exception(&e).is_none(), "refused by the handshake: {e:?}");

    // A node certificate of this deployment is not a caller.
    let node = client_as(&c, 1, ours, "us-east-1/node2.pem", "us-east-1/node2-key.pem");
    let e = list(node).await.expect_err("a node certificate");
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    assert!(e.message().contains("node certificate"), "{}", e.message());

    // An operator certificate of this CA that [[grpc_principals]] does not map.
    let stranger = client_as(&c, 2, ours, "stranger.pem", "stranger-key.pem");
    let e = list(stranger).await.expect_err("an unmapped identity");
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    assert!(e.message().contains("keyraft://operator/stranger is not mapped"), "{}", e.message());

    // Mapped to an IAM user without permissions: the service's own AccessDeniedException, for
    // an operation without a key and for a key the root made.
    let mut nobody = client_as(&c, 3, ours, "nobody.pem", "nobody-key.pem");
    let e = create_key(&mut nobody, "nobody-1").await.expect_err("CreateKey without permission");
    assert_eq!((e.code(), exception(&e)), (Code::PermissionDenied, Some("AccessDeniedException")), "{e:?}");
    let key = create_key(&mut operator(&c, 3), "root-key").await.expect("CreateKey as root");
    let e = nobody
        .encrypt(pb::EncryptRequest { key_id: key, plaintext: b"x".to_vec(), ..Default::default() })
        .await
        .expect_err("Encrypt without permission");
    assert_eq!((e.code(), exception(&e)), (Code::PermissionDenied, Some("AccessDeniedException")), "{e:?}");

    // The operator certificate works on the same node.
    assert_eq!(list(operator(&c, 1)).await.expect("ListKeys as the operator"), 1);
    c.shutdown().await;
}

/// Every gRPC call reaches the node's observers as an AWS API request does: one audit record per
/// call (refusals included, no plaintext), the request metrics, and GetKeyLastUsage.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grpc_calls_are_audited_metered_and_reported_as_key_usage() {
    let ours = pki_dirs().0;
    let c = Cluster::ready_with(&[USE1], with_grpc).await.expect("a region over mutual TLS");
    let mut admin = operator(&c, 1);
    const PLAINTEXT: &str = "gRPC-audit-plaintext-5f3a9c";
    let request_id =
        |m: &tonic::metadata::MetadataMap| m.get("x-kms-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);

    // CreateKey, Encrypt, Decrypt as the account root.
    let key = create_key(&mut admin, "audited-key").await.expect("CreateKey");
    let enc = admin
        .encrypt(pb::EncryptRequest {
            key_id: key.clone(),
            plaintext: PLAINTEXT.as_bytes().to_vec(),
            encryption_context: context(),
            encryption_algorithm: None,
        })
        .await
        .expect("Encrypt");
    let encrypt_id = request_id(enc.metadata()).expect("the Encrypt's request id");
    let enc = enc.into_inner();
    // GetKeyLastUsage on the same node knows the gRPC Encrypt at once.
    let usage = https_client(&c, 1).get_key_last_usage().key_id(&key).send().await.expect("GetKeyLastUsage");
    let encrypt_usage = usage.key_last_usage().expect("the key was used over gRPC").clone();
    assert_eq!(encrypt_usage.operation().map(|o| o.as_str()), Some("Encrypt"), "{encrypt_usage:?}");
    assert_eq!(encrypt_usage.kms_request_id(), Some(encrypt_id.as_str()));
    let dec = admin
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: enc.ciphertext_blob.clone(),
            encryption_context: context(),
            ..Default::default()
        })
        .await
        .expect("Decrypt")
        .into_inner();
    assert_eq!(dec.plaintext, PLAINTEXT.as_bytes());
    // Refused: an IAM user without permissions, an unknown key, an unmapped certificate.
    let mut nobody = client_as(&c, 1, ours, "nobody.pem", "nobody-key.pem");
    let e = nobody
        .encrypt(pb::EncryptRequest { key_id: key.clone(), plaintext: PLAINTEXT.into(), ..Default::default() })
        .await
        .expect_err("Encrypt without permission");
    assert_eq!(exception(&e), Some("AccessDeniedException"));
    assert!(request_id(e.metadata()).is_some(), "a refusal carries its request id too");
    let missing = "1234abcd-12ab-34cd-56ef-1234567890ab";
    let e = admin.describe_key(pb::KeyRequest { key_id: missing.into() }).await.expect_err("an unknown key");
    assert_eq!(exception(&e), Some("NotFoundException"));
    let mut stranger = client_as(&c, 1, ours, "stranger.pem", "stranger-key.pem");
    let e = stranger.list_keys(pb::ListRequest::default()).await.expect_err("an unmapped identity");
    assert_eq!(exception(&e), Some("UnrecognizedClientException"));

    // Node 1's audit trail: intact, one record per gRPC call, in order, without the plaintext.
    let path = c.node(USE1, 1).config.audit_path();
    let verified = keyraft_server::audit::verify_file(&path).expect("readable").expect("the hash chain verifies");
    let text = std::fs::read_to_string(&path).expect("audit file");
    assert_eq!(verified.records as usize, text.lines().count());
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(PLAINTEXT);
    assert!(!text.contains(PLAINTEXT) && !text.contains(&b64), "the plaintext reached the audit trail");
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON record"))
        .filter(|r| r["userAgent"].as_str().is_some_and(|a| a.starts_with("keyraft-grpc/")))
        .collect();
    let names: Vec<&str> = records.iter().map(|r| r["eventName"].as_str().unwrap_or("-")).collect();
    assert_eq!(names, ["CreateKey", "Encrypt", "Decrypt", "Encrypt", "DescribeKey", "ListKeys"], "{records:#?}");
    let root = "arn:aws:iam::111122223333:root";
    let arn = enc.key_id.clone();
    assert!(arn.starts_with("arn:aws:kms:us-east-1:111122223333:key/") && arn.ends_with(&key), "{arn}");

    let create = &records[0];
    assert_eq!(
        (create["userIdentity"]["arn"].as_str(), create["userIdentity"]["type"].as_str()),
        (Some(root), Some("Root"))
    );
    assert_eq!(create["userAgent"], "keyraft-grpc/keyraft://operator/admin");
    assert_eq!(create["sourceIPAddress"], "127.0.0.1");
    assert_eq!(create["requestParameters"]["description"], "grpc");
    assert_eq!(create["responseElements"]["keyMetadata"]["keyId"], key.as_str());
    assert_eq!(create["responseElements"]["keyMetadata"]["arn"], arn.as_str());
    assert!(create["additionalEventData"]["raftLogIndex"].as_u64().is_some_and(|i| i > 0), "{create}");
    assert_eq!(create["readOnly"], false);

    let encrypt = &records[1];
    assert_eq!(encrypt["userIdentity"]["arn"], root);
    assert_eq!(encrypt["requestParameters"]["keyId"], key.as_str());
    assert_eq!(encrypt["requestParameters"]["encryptionContext"]["purpose"], "grpc-test");
    assert_eq!(encrypt["resources"][0]["ARN"], arn.as_str());
    assert_eq!(encrypt["requestID"], encrypt_id.as_str());
    assert!(encrypt.get("errorCode").is_none() && encrypt["responseElements"].is_null(), "{encrypt}");
    assert!(encrypt.get("additionalEventData").is_none(), "a read commits nothing: {encrypt}");

    let decrypt = &records[2];
    assert_eq!(decrypt["resources"][0]["ARN"], arn.as_str());
    assert_eq!(decrypt["requestParameters"]["encryptionContext"]["purpose"], "grpc-test");
    assert!(decrypt.get("errorCode").is_none(), "{decrypt}");

    let denied = &records[3];
    assert_eq!(denied["userIdentity"]["arn"], "arn:aws:iam::111122223333:user/nobody");
    assert_eq!(
        (denied["userIdentity"]["type"].as_str(), denied["userIdentity"]["userName"].as_str()),
        (Some("IAMUser"), Some("nobody"))
    );
    assert_eq!(denied["userAgent"], "keyraft-grpc/keyraft://operator/nobody");
    assert_eq!(denied["errorCode"], "AccessDeniedException");
    assert_eq!(denied["requestParameters"]["keyId"], key.as_str());

    let not_found = &records[4];
    assert_eq!(not_found["userIdentity"]["arn"], root);
    assert_eq!(not_found["errorCode"], "NotFoundException");
    assert_eq!(not_found["requestParameters"]["keyId"], missing);

    let unmapped = &records[5];
    assert_eq!(unmapped["userIdentity"]["type"], "Unknown");
    assert_eq!(unmapped["errorCode"], "UnrecognizedClientException");
    assert_eq!(unmapped["userAgent"], "keyraft-grpc/keyraft://operator/stranger");

    // Node 1's request metrics count the gRPC calls.
    let admin_api = keyraft_server::admin_client::AdminClient::with_tls(&ours.join("ca.pem"), None).expect("TLS");
    let url = format!("{}/metrics", c.node(USE1, 1).admin_url);
    let scrape = admin_api.get(&url).await.expect("GET /metrics").ok(&url).expect("metrics");
    let scrape = String::from_utf8_lossy(&scrape);
    let counted = |op: &str, outcome: &str| {
        scrape.lines().any(|l| {
            l.starts_with("keyraft_requests_total{")
                && l.contains(&format!("operation=\"{op}\""))
                && l.contains(&format!("outcome=\"{outcome}\""))
                && l.ends_with(" 1")
        })
    };
    assert!(counted("Encrypt", "ok"), "the gRPC Encrypt is not counted:\n{scrape}");
    assert!(counted("Encrypt", "AccessDeniedException"), "the refused gRPC Encrypt is not counted");
    assert!(counted("DescribeKey", "NotFoundException"), "the gRPC NotFound is not counted");

    // GetKeyLastUsage reported the gRPC Encrypt under its audit record's ids.
    assert_eq!(encrypt_usage.cloud_trail_event_id(), encrypt["eventID"].as_str());
    c.shutdown().await;
}

/// Fail-closed: a gRPC call the audit trail cannot record is answered KMSInternalException, not
/// its result.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grpc_calls_that_cannot_be_audited_are_refused() {
    let c = Cluster::ready_with(&[USE1], |cfg| {
        with_grpc(cfg);
        // Every write(2) to /dev/full fails with ENOSPC.
        cfg.audit.path = Some(PathBuf::from("/dev/full"));
    })
    .await
    .expect("a region over mutual TLS");
    for n in 1..=3 {
        let e = create_key(&mut operator(&c, n), &format!("unrecorded-{n}")).await.expect_err("not recorded");
        assert_eq!((e.code(), exception(&e)), (Code::Internal, Some("KMSInternalException")), "{e:?}");
        assert_eq!(e.message(), "The request could not be recorded");
        let e = operator(&c, n).list_keys(pb::ListRequest::default()).await.expect_err("not recorded");
        assert_eq!((e.code(), exception(&e)), (Code::Internal, Some("KMSInternalException")), "{e:?}");
    }
    c.shutdown().await;
}

fn rustls_ca(dir: &Path) -> rustls::pki_types::CertificateDer<'static> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_file(dir.join("ca.pem")).expect("ca.pem")
}

/// `keyraft kms …` against the cluster: create-key, encrypt, decrypt.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keyraft_kms_cli_creates_encrypts_and_decrypts() {
    let c = Cluster::ready_with(&[USE1], with_grpc).await.expect("a region over mutual TLS");
    let dir = pki_dirs().0.to_owned();
    let kms = |n: u64, args: Vec<String>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_keyraft"));
        cmd.arg("kms").arg("--endpoint").arg(endpoint(&c, n));
        cmd.arg("--client-cert").arg(dir.join("operator.pem"));
        cmd.arg("--client-key").arg(dir.join("operator-key.pem"));
        cmd.arg("--ca").arg(dir.join("ca.pem"));
        cmd.args(args);
        async move {
            let out = tokio::task::spawn_blocking(move || cmd.output()).await.expect("join").expect("keyraft kms");
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            (out.status.success(), stdout, stderr)
        }
    };
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();

    let (ok, out, err) = kms(1, s(&["create-key", "--description", "from the CLI"])).await;
    assert!(ok, "create-key: {err}");
    assert!(err.contains("idempotency key: "), "a generated key is printed: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let key = v["KeyMetadata"]["KeyId"].as_str().expect("KeyId").to_owned();
    assert_eq!(v["KeyMetadata"]["Description"], "from the CLI");

    let (ok, out, err) =
        kms(2, s(&["encrypt", "--key-id", &key, "--plaintext", "hello from the CLI", "--context", "a=b"])).await;
    assert!(ok, "encrypt: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let blob = v["CiphertextBlob"].as_str().expect("CiphertextBlob").to_owned();

    let (ok, out, err) = kms(3, s(&["decrypt", "--ciphertext-blob", &blob, "--context", "a=b"])).await;
    assert!(ok, "decrypt: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    use base64::Engine;
    let plain =
        base64::engine::general_purpose::STANDARD.decode(v["Plaintext"].as_str().expect("Plaintext")).expect("b64");
    assert_eq!(plain, b"hello from the CLI");

    // A failure names the exception and exits non-zero.
    let (ok, _, err) = kms(1, s(&["describe-key", "--key-id", "1234abcd-12ab-34cd-56ef-1234567890ab"])).await;
    assert!(!ok);
    assert!(err.contains("NotFoundException"), "{err}");

    // The same explicit idempotency key twice is one key.
    let args = s(&["--idempotency-key", "cli-once", "create-key"]);
    let (first, second) = (kms(1, args.clone()).await, kms(2, args).await);
    assert!(first.0 && second.0, "{} {}", first.2, second.2);
    let id = |o: &str| serde_json::from_str::<serde_json::Value>(o).expect("JSON")["KeyMetadata"]["KeyId"].clone();
    assert_eq!(id(&first.1), id(&second.1));
    c.shutdown().await;
}

/// A node refuses `grpc_addr` without `[tls]`: the gRPC API is mutual TLS only.
#[test]
fn grpc_addr_needs_tls() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../cluster-config/us-east-1/node1.toml");
    let mut cfg: NodeConfig = toml::from_str(&std::fs::read_to_string(root).expect("config")).expect("parses");
    cfg.grpc_addr = Some("127.0.0.1:0".into());
    cfg.validate().expect("with [tls]");
    cfg.tls = None;
    cfg.plaintext = true;
    let err = cfg.validate().expect_err("grpc_addr without [tls]");
    assert!(err.to_string().contains("grpc_addr needs [tls]"), "{err}");
    cfg.grpc_addr = None;
    cfg.grpc_principals = vec![principal("keyraft://us-east-1/1", None)];
    assert!(cfg.validate().is_err(), "a node identity cannot be a principal");
}
