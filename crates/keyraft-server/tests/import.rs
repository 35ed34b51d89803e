//! Import of key material (BYOK) through the unmodified `aws-sdk-kms` client against a
//! three-node region on a test clock, with the `openssl` command line as the independent
//! implementation that wraps the material (RSAES_OAEP_SHA_1/SHA_256 and RSA_AES_KEY_WRAP_SHA_256
//! with `openssl enc -id-aes256-wrap-pad`): import, Encrypt/Decrypt on every node, re-import of
//! the same material only, token errors (another key's, tampered, expired after 24 h),
//! DeleteImportedKeyMaterial and re-import (old ciphertexts decrypt again), and expiry at ValidTo
//! driven by the test clock (exactly once); no imported material in plaintext on disk.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use aws_sdk_kms::primitives::{Blob, DateTime};
use aws_sdk_kms::types::{AlgorithmSpec, ExpirationModelType, KeySpec, KeyState, OriginType, WrappingKeySpec};
use aws_sdk_kms::Client;
use keyraft_core::command::RequestId;
use keyraft_core::{Clock, Command as RaftCommand, CoreError, KeyId};
use keyraft_testkit::check::assert_code;
use keyraft_testkit::disk::files;
use keyraft_testkit::{Cluster, TestClock};

const R: &str = "us-east-1";
const HOUR: Duration = Duration::from_secs(60 * 60);

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run openssl (is it installed?)");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn random32() -> Vec<u8> {
    let mut b = vec![0u8; 32];
    aws_lc_rs::rand::fill(&mut b).expect("random");
    b
}

/// Wraps `material` for `alg` under the DER public key, with openssl only.
fn openssl_wrap(dir: &Path, public_key: &[u8], alg: &str, material: &[u8]) -> Vec<u8> {
    let p = |n: &str| dir.join(n).to_str().expect("path").to_owned();
    std::fs::write(p("pub.der"), public_key).expect("write");
    std::fs::write(p("material"), material).expect("write");
    let md = if alg.ends_with("SHA_1") { "sha1" } else { "sha256" };
    let oaep = |input: &str, output: &str| {
        run(Command::new("openssl").args([
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-keyform",
            "DER",
            "-inkey",
            &p("pub.der"),
            "-in",
            input,
            "-out",
            output,
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            &format!("rsa_oaep_md:{md}"),
            "-pkeyopt",
            &format!("rsa_mgf1_md:{md}"),
        ]));
    };
    if alg.starts_with("RSAES_OAEP") {
        oaep(&p("material"), &p("wrapped"));
        return std::fs::read(p("wrapped")).expect("read");
    }
    // RSA_AES_KEY_WRAP_*: OAEP(ephemeral AES-256 key) | RFC 5649 KWP(material).
    let kek: String = random32().iter().map(|b| format!("{b:02x}")).collect();
    let kek_bytes: Vec<u8> = (0..32).map(|i| u8::from_str_radix(&kek[2 * i..2 * i + 2], 16).expect("hex")).collect();
    std::fs::write(p("kek"), kek_bytes).expect("write");
    run(Command::new("openssl").args([
        "enc",
        "-id-aes256-wrap-pad",
        "-K",
        &kek,
        "-iv",
        "A65959A6",
        "-in",
        &p("material"),
        "-out",
        &p("kwp"),
    ]));
    oaep(&p("kek"), &p("wrapped-kek"));
    let mut out = std::fs::read(p("wrapped-kek")).expect("read");
    out.extend(std::fs::read(p("kwp")).expect("read"));
    out
}

async fn create_external(client: &Client) -> String {
    let out = client.create_key().origin(OriginType::External).description("byok").send().await.expect("create");
    let md = out.key_metadata().expect("metadata");
    assert_eq!(md.origin(), Some(&OriginType::External));
    assert_eq!(md.key_state(), Some(&KeyState::PendingImport));
    assert!(!md.enabled());
    assert!(md.expiration_model().is_none());
    md.key_id().to_owned()
}

/// GetParametersForImport → (token, public key).
async fn params(client: &Client, key: &str, alg: &str, spec: &str, clock: &TestClock) -> (Vec<u8>, Vec<u8>) {
    let out = client
        .get_parameters_for_import()
        .key_id(key)
        .wrapping_algorithm(AlgorithmSpec::from(alg))
        .wrapping_key_spec(WrappingKeySpec::from(spec))
        .send()
        .await
        .unwrap_or_else(|e| panic!("params {alg} {spec}: {e:?}"));
    assert!(out.key_id().expect("KeyId").ends_with(&format!(":key/{key}")));
    let valid_to = out.parameters_valid_to().expect("ParametersValidTo").secs();
    let expect = (clock.now_ms() / 1000) as i64 + 24 * 3600;
    assert!((valid_to - expect).abs() <= 60, "ParametersValidTo {valid_to}, want about {expect}");
    (out.import_token().expect("token").as_ref().to_vec(), out.public_key().expect("public key").as_ref().to_vec())
}

async fn import(
    client: &Client,
    key: &str,
    token: &[u8],
    wrapped: &[u8],
    valid_to: Option<DateTime>,
) -> Result<(), aws_sdk_kms::error::SdkError<aws_sdk_kms::operation::import_key_material::ImportKeyMaterialError>> {
    let model = if valid_to.is_some() {
        ExpirationModelType::KeyMaterialExpires
    } else {
        ExpirationModelType::KeyMaterialDoesNotExpire
    };
    client
        .import_key_material()
        .key_id(key)
        .import_token(Blob::new(token))
        .encrypted_key_material(Blob::new(wrapped))
        .expiration_model(model)
        .set_valid_to(valid_to)
        .send()
        .await
        .map(|_| ())
}

async fn encrypt(client: &Client, key: &str, pt: &[u8]) -> Vec<u8> {
    let out = client.encrypt().key_id(key).plaintext(Blob::new(pt)).send().await.expect("encrypt");
    out.ciphertext_blob().expect("blob").as_ref().to_vec()
}

async fn decrypt(client: &Client, ct: &[u8]) -> Vec<u8> {
    let out = client.decrypt().ciphertext_blob(Blob::new(ct)).send().await.expect("decrypt");
    out.plaintext().expect("plaintext").as_ref().to_vec()
}

async fn state(client: &Client, key: &str) -> KeyState {
    let out = client.describe_key().key_id(key).send().await.expect("describe");
    out.key_metadata().expect("metadata").key_state().expect("state").clone()
}

fn in_secs(clock: &TestClock, d: Duration) -> DateTime {
    DateTime::from_secs(((clock.now_ms() / 1000) + d.as_secs()) as i64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn import_key_material_interop_with_openssl() {
    let clock = TestClock::new();
    let mut c = Cluster::start_with_clock(&[R], Cluster::test_timings(), clock.clone()).await.expect("cluster");
    c.wait_leader(R, Duration::from_secs(20)).await.expect("leader");
    let (n1, n2, n3) = (c.client(R, 1), c.client(R, 2), c.client(R, 3));
    let dir = tempfile::tempdir().expect("tempdir");

    // Import with each wrapping algorithm; the key works on every node.
    let mut keys = Vec::new();
    for (alg, spec) in
        [("RSAES_OAEP_SHA_256", "RSA_2048"), ("RSAES_OAEP_SHA_1", "RSA_3072"), ("RSA_AES_KEY_WRAP_SHA_256", "RSA_2048")]
    {
        let key = create_external(&n1).await;
        assert_code(
            n2.encrypt().key_id(&key).plaintext(Blob::new("x")).send().await,
            "KMSInvalidStateException",
            "encrypt before import",
        );
        let (token, public) = params(&n2, &key, alg, spec, &clock).await;
        let material = random32();
        let wrapped = openssl_wrap(dir.path(), &public, alg, &material);
        import(&n3, &key, &token, &wrapped, None).await.unwrap_or_else(|e| panic!("import {alg}: {e:?}"));
        let md = n1.describe_key().key_id(&key).send().await.expect("describe");
        let md = md.key_metadata().expect("metadata");
        assert_eq!(md.key_state(), Some(&KeyState::Enabled), "{alg}");
        assert_eq!(md.expiration_model(), Some(&ExpirationModelType::KeyMaterialDoesNotExpire));
        assert!(md.valid_to().is_none());
        let ct = encrypt(&n1, &key, b"bring your own key").await;
        assert_eq!(decrypt(&n2, &ct).await, b"bring your own key");
        keys.push((key, material, alg, spec));
    }
    let (a, material_a, alg_a, spec_a) = keys[0].clone();
    let (b, _, _, _) = keys[1].clone();

    // Re-import: the same material (and a new expiration) is accepted, other material is not.
    let (token, public) = params(&n1, &a, alg_a, spec_a, &clock).await;
    let same = openssl_wrap(dir.path(), &public, alg_a, &material_a);
    let vt = in_secs(&clock, 48 * HOUR);
    import(&n2, &a, &token, &same, Some(vt)).await.expect("re-import same material");
    let md = n3.describe_key().key_id(&a).send().await.expect("describe");
    let md = md.key_metadata().expect("metadata");
    assert_eq!(md.expiration_model(), Some(&ExpirationModelType::KeyMaterialExpires));
    assert_eq!(md.valid_to(), Some(&vt));
    let other = openssl_wrap(dir.path(), &public, alg_a, &random32());
    assert_code(import(&n2, &a, &token, &other, None).await, "IncorrectKeyMaterialException", "other material");

    // Token errors: another key's, tampered; wrong wrapping; bad expiration members.
    let (token_b, public_b) = params(&n1, &b, "RSAES_OAEP_SHA_256", "RSA_2048", &clock).await;
    let for_b = openssl_wrap(dir.path(), &public_b, "RSAES_OAEP_SHA_256", &material_a);
    assert_code(import(&n1, &a, &token_b, &for_b, None).await, "InvalidImportTokenException", "token of another key");
    let mut tampered = token.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_code(import(&n1, &a, &tampered, &same, None).await, "InvalidImportTokenException", "tampered token");
    assert_code(import(&n1, &a, &token, &for_b, None).await, "InvalidCiphertextException", "wrapped for another key");
    let r = n1
        .import_key_material()
        .key_id(&a)
        .import_token(Blob::new(token.clone()))
        .encrypted_key_material(Blob::new(same.clone()))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .valid_to(in_secs(&clock, HOUR))
        .send()
        .await;
    assert_code(r, "ValidationException", "DOES_NOT_EXPIRE with ValidTo");
    assert_code(
        import(&n1, &a, &token, &same, Some(in_secs(&clock, Duration::ZERO))).await,
        "ValidationException",
        "ValidTo now",
    );

    // Not an EXTERNAL key; an unsupported import spec; a key pending deletion.
    let aws = n1.create_key().send().await.expect("create").key_metadata().expect("md").key_id().to_owned();
    let r = n1
        .get_parameters_for_import()
        .key_id(&aws)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await;
    assert_code(r, "UnsupportedOperationException", "params for an AWS_KMS key");
    assert_code(
        n1.delete_imported_key_material().key_id(&aws).send().await,
        "UnsupportedOperationException",
        "delete for an AWS_KMS key",
    );
    let r = n1
        .create_key()
        .origin(OriginType::External)
        .key_spec(KeySpec::Rsa2048)
        .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
        .send()
        .await;
    assert_code(r, "UnsupportedOperationException", "asymmetric import");
    let doomed = create_external(&n1).await;
    n1.schedule_key_deletion().key_id(&doomed).pending_window_in_days(7).send().await.expect("schedule");
    let r = n1
        .get_parameters_for_import()
        .key_id(&doomed)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await;
    assert_code(r, "KMSInvalidStateException", "params for a key pending deletion");
    n1.cancel_key_deletion().key_id(&doomed).send().await.expect("cancel");
    assert_eq!(state(&n2, &doomed).await, KeyState::PendingImport, "cancelled deletion of a key without material");

    // DeleteImportedKeyMaterial: PendingImport, ciphertexts fail until the same material returns.
    let old = encrypt(&n1, &a, b"before deletion").await;
    n2.delete_imported_key_material().key_id(&a).send().await.expect("delete material");
    assert_eq!(state(&n3, &a).await, KeyState::PendingImport);
    assert_code(
        n1.encrypt().key_id(&a).plaintext(Blob::new("x")).send().await,
        "KMSInvalidStateException",
        "encrypt after delete",
    );
    assert_code(
        n3.decrypt().ciphertext_blob(Blob::new(old.clone())).send().await,
        "KMSInvalidStateException",
        "decrypt after delete",
    );
    let other = openssl_wrap(dir.path(), &public, alg_a, &random32());
    assert_code(
        import(&n2, &a, &token, &other, None).await,
        "IncorrectKeyMaterialException",
        "other material after delete",
    );
    import(&n2, &a, &token, &same, None).await.expect("re-import after delete");
    assert_eq!(decrypt(&n3, &old).await, b"before deletion");

    // An import token expires after 24 hours.
    let (token, public) = params(&n1, &a, alg_a, spec_a, &clock).await;
    let same = openssl_wrap(dir.path(), &public, alg_a, &material_a);
    clock.advance(25 * HOUR);
    assert_code(import(&n1, &a, &token, &same, None).await, "ExpiredImportTokenException", "expired token");

    // Expiry at ValidTo, driven by the clock: PendingImport on every node, exactly once.
    let (token, public) = params(&n1, &a, alg_a, spec_a, &clock).await;
    let same = openssl_wrap(dir.path(), &public, alg_a, &material_a);
    import(&n1, &a, &token, &same, Some(in_secs(&clock, 2 * HOUR))).await.expect("import expiring");
    let valid_to_ms = {
        let id = KeyId::parse(&a).expect("id");
        c.node(R, 1)
            .region_node
            .state()
            .read(|s| s.keys[&id].import.as_ref().and_then(|i| i.valid_to_ms))
            .expect("ValidTo")
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(state(&n2, &a).await, KeyState::Enabled, "not expired before ValidTo");
    // The leader goes away before ValidTo; the new leader expires the material, once, and the
    // old leader agrees when it returns.
    let old_leader = c.leader(R).expect("leader");
    let survivors: Vec<u64> = [1, 2, 3].into_iter().filter(|n| *n != old_leader).collect();
    let (s1, s2) = (c.client(R, survivors[0]), c.client(R, survivors[1]));
    c.stop_node(R, old_leader).await;
    c.wait_leader(R, Duration::from_secs(20)).await.expect("new leader");
    clock.advance(3 * HOUR);
    let id = KeyId::parse(&a).expect("id");
    wait_expired(&c, &survivors, &id).await;
    c.start_node(R, old_leader).await.expect("restart");
    wait_expired(&c, &[1, 2, 3], &id).await;
    let md = s1.describe_key().key_id(&a).send().await.expect("describe");
    assert!(md.key_metadata().expect("md").expiration_model().is_none());
    assert_code(
        s2.decrypt().ciphertext_blob(Blob::new(old.clone())).send().await,
        "KMSInvalidStateException",
        "decrypt after expiry",
    );
    // Re-imported at once; a second expiry for the same ValidTo (a retry, a new leader) is
    // refused by the apply, and later housekeeping rounds change nothing.
    let (token, public) = params(&s1, &a, alg_a, spec_a, &clock).await;
    let same = openssl_wrap(dir.path(), &public, alg_a, &material_a);
    import(&s2, &a, &token, &same, None).await.expect("re-import after expiry");
    let leader = c.wait_leader(R, Duration::from_secs(20)).await.expect("leader");
    let dup = RaftCommand::DeleteImportedKeyMaterial { key: id.clone(), expired_ms: Some(valid_to_ms) };
    let res = c.node(R, leader).region_node.write(RequestId([0xab; 16]), dup).await.expect("proposed");
    assert!(matches!(res, Err(CoreError::InvalidStateMessage(_))), "{res:?}");
    tokio::time::sleep(Duration::from_millis(2000)).await;
    for n in [1, 2, 3] {
        assert_eq!(state(&c.client(R, n), &a).await, KeyState::Enabled, "expired twice (node {n})");
    }
    assert_eq!(decrypt(&s1, &old).await, b"before deletion");

    // Imported material never reaches the disk in plaintext (sled, Raft log, snapshots).
    let materials: Vec<Vec<u8>> = keys.iter().map(|k| k.1.clone()).collect();
    let data_dir = c.data_dir().to_path_buf();
    let mut all = Vec::new();
    files(&data_dir, &mut all);
    assert!(!all.is_empty(), "no files under {data_dir:?}");
    for f in all {
        let bytes = std::fs::read(&f).unwrap_or_default();
        for m in &materials {
            assert!(!bytes.windows(32).any(|w| w == m.as_slice()), "imported material in plaintext in {f:?}");
        }
    }
    c.shutdown().await;
}

/// Waits until `nodes` all hold `key` in PendingImport without material.
async fn wait_expired(c: &Cluster, nodes: &[u64], key: &KeyId) {
    for _ in 0..300 {
        let expired = nodes.iter().all(|n| {
            c.node(R, *n).region_node.state().read(|s| {
                s.keys
                    .get(key)
                    .is_some_and(|k| k.state == keyraft_core::KeyState::PendingImport && k.material.is_empty())
            })
        });
        if expired {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the imported material of {key} did not expire on nodes {nodes:?}");
}
