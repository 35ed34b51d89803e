//! Import of key material (BYOK) through the unmodified `aws-sdk-kms` client against a
//! three-node region on a test clock, with the `openssl` command line as the independent
//! implementation that wraps the material (RSAES_OAEP_SHA_1/SHA_256 and RSA_AES_KEY_WRAP_SHA_256
//! with `openssl enc -id-aes256-wrap-pad`): import, Encrypt/Decrypt on every node, re-import of
//! the same material only, token errors (another key's, tampered, expired after 24 h),
//! DeleteImportedKeyMaterial and re-import (old ciphertexts decrypt again), and expiry at ValidTo
//! driven by the test clock (exactly once); no imported material in plaintext on disk.
//!
//! Asymmetric and HMAC keys (`import_asymmetric_and_hmac_key_material_interop_with_openssl`):
//! RSA_2048, ECC_NIST_P256/P521 private keys made by `openssl genpkey` as DER PKCS#8 and an
//! HMAC_256 key, wrapped by openssl; GetPublicKey equals openssl's public key, Sign verifies with
//! `openssl dgst -verify`, RSA Decrypt of an openssl ciphertext, DeriveSharedSecret equals
//! `openssl pkeyutl -derive`, GenerateMac equals `openssl dgst -mac HMAC`; AWS's wrapping rules
//! per spec; re-import of the same key (also in another PKCS#8 encoding), other or mismatched
//! material refused; no private key or HMAC key in plaintext on disk.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use aws_sdk_kms::primitives::{Blob, DateTime};
use aws_sdk_kms::types::{
    AlgorithmSpec, EncryptionAlgorithmSpec, ExpirationModelType, KeyAgreementAlgorithmSpec, KeySpec, KeyState,
    KeyUsageType, MacAlgorithmSpec, MessageType, OriginType, SigningAlgorithmSpec, WrappingKeySpec,
};
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
        .key_spec(KeySpec::EccNistEdwards25519)
        .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
        .send()
        .await;
    assert_code(r, "UnsupportedOperationException", "Ed25519 import");
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

/// Runs openssl with `args` and returns its stdout.
fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl").args(args).output().expect("run openssl (is it installed?)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A private key made by `openssl genpkey` (`-algorithm …` options in `gen`), as PEM, DER PKCS#8
/// (`openssl pkcs8 -topk8`) and its public key as DER SPKI, all derived by openssl.
struct OpensslKey {
    pem: String,
    pkcs8: Vec<u8>,
    public_der: Vec<u8>,
}

fn openssl_key(dir: &Path, name: &str, gen: &[&str]) -> OpensslKey {
    let p = |n: &str| dir.join(format!("{name}.{n}")).to_str().expect("path").to_owned();
    let mut args = vec!["genpkey"];
    args.extend_from_slice(gen);
    let pem = p("pem");
    args.extend_from_slice(&["-out", &pem]);
    openssl(&args);
    openssl(&["pkcs8", "-topk8", "-nocrypt", "-in", &pem, "-outform", "DER", "-out", &p("p8")]);
    openssl(&["pkey", "-in", &pem, "-pubout", "-outform", "DER", "-out", &p("pub")]);
    OpensslKey { pem, pkcs8: std::fs::read(p("p8")).expect("read"), public_der: std::fs::read(p("pub")).expect("read") }
}

async fn create_external_spec(client: &Client, spec: KeySpec, usage: KeyUsageType) -> String {
    let out = client
        .create_key()
        .origin(OriginType::External)
        .key_spec(spec.clone())
        .key_usage(usage)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create {spec:?}: {e:?}"));
    let md = out.key_metadata().expect("metadata");
    assert_eq!(md.key_state(), Some(&KeyState::PendingImport), "{spec:?}");
    md.key_id().to_owned()
}

/// GetParametersForImport, wrap `material` with openssl, ImportKeyMaterial (does not expire).
async fn import_with(
    client: &Client,
    dir: &Path,
    key: &str,
    alg: &str,
    spec: &str,
    material: &[u8],
    clock: &TestClock,
) -> Result<(), aws_sdk_kms::error::SdkError<aws_sdk_kms::operation::import_key_material::ImportKeyMaterialError>> {
    let (token, public) = params(client, key, alg, spec, clock).await;
    let wrapped = openssl_wrap(dir, &public, alg, material);
    import(client, key, &token, &wrapped, None).await
}

async fn public_key(client: &Client, key: &str) -> Vec<u8> {
    let out = client.get_public_key().key_id(key).send().await.expect("GetPublicKey");
    out.public_key().expect("public key").as_ref().to_vec()
}

/// Signs `msg` with keyraft and verifies the signature with `openssl dgst -verify` under the
/// public key openssl derived from the imported private key.
async fn sign_verified_by_openssl(client: &Client, dir: &Path, key: &str, k: &OpensslKey, alg: SigningAlgorithmSpec) {
    let msg = b"signed by an imported key";
    let out = client
        .sign()
        .key_id(key)
        .message(Blob::new(&msg[..]))
        .message_type(MessageType::Raw)
        .signing_algorithm(alg.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("sign {alg:?}: {e:?}"));
    let p = |n: &str| dir.join(n).to_str().expect("path").to_owned();
    std::fs::write(p("msg"), msg).expect("write");
    std::fs::write(p("sig"), out.signature().expect("signature").as_ref()).expect("write");
    std::fs::write(p("verify.pub"), &k.public_der).expect("write");
    let (kf, pss) = (p("verify.pub"), alg == SigningAlgorithmSpec::RsassaPssSha256);
    let mut args = vec!["dgst", "-sha256", "-keyform", "DER", "-verify", &kf];
    if pss {
        args.extend_from_slice(&["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"]);
    }
    let (sig, m) = (p("sig"), p("msg"));
    args.extend_from_slice(&["-signature", &sig, &m]);
    let verified = openssl(&args);
    assert!(String::from_utf8_lossy(&verified).contains("Verified OK"), "{alg:?}: {verified:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn import_asymmetric_and_hmac_key_material_interop_with_openssl() {
    let clock = TestClock::new();
    let c = Cluster::start_with_clock(&[R], Cluster::test_timings(), clock.clone()).await.expect("cluster");
    c.wait_leader(R, Duration::from_secs(20)).await.expect("leader");
    let (n1, n2, n3) = (c.client(R, 1), c.client(R, 2), c.client(R, 3));
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let rsa = openssl_key(dir, "rsa", &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]);
    let rsa_other = openssl_key(dir, "rsa-other", &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]);
    let ec = |name: &str, curve: &str| {
        let curve = format!("ec_paramgen_curve:{curve}");
        openssl_key(dir, name, &["-algorithm", "EC", "-pkeyopt", &curve, "-pkeyopt", "ec_param_enc:named_curve"])
    };
    let (p256, p256_other, p384) = (ec("p256", "P-256"), ec("p256-other", "P-256"), ec("p384", "P-384"));

    // RSA_2048 (SIGN_VERIFY): RSA private keys need RSA_AES_KEY_WRAP_*.
    let rsa_key = create_external_spec(&n1, KeySpec::Rsa2048, KeyUsageType::SignVerify).await;
    let r = n2
        .get_parameters_for_import()
        .key_id(&rsa_key)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa4096)
        .send()
        .await;
    assert_code(r, "UnsupportedOperationException", "RSA key material with RSAES_OAEP");
    assert_code(
        import_with(&n2, dir, &rsa_key, "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048", &p256.pkcs8, &clock).await,
        "IncorrectKeyMaterialException",
        "an ECC key into an RSA key",
    );
    // A 3072-bit RSA key is not RSA_2048 material.
    let rsa3072 = openssl_key(dir, "rsa3072", &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"]);
    assert_code(
        import_with(&n2, dir, &rsa_key, "RSA_AES_KEY_WRAP_SHA_1", "RSA_3072", &rsa3072.pkcs8, &clock).await,
        "IncorrectKeyMaterialException",
        "RSA_3072 material into an RSA_2048 key",
    );
    import_with(&n2, dir, &rsa_key, "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048", &rsa.pkcs8, &clock)
        .await
        .expect("import RSA_2048");
    assert_eq!(state(&n3, &rsa_key).await, KeyState::Enabled);
    assert_eq!(public_key(&n3, &rsa_key).await, rsa.public_der, "GetPublicKey = openssl's public key");
    for alg in [SigningAlgorithmSpec::RsassaPkcs1V15Sha256, SigningAlgorithmSpec::RsassaPssSha256] {
        sign_verified_by_openssl(&n1, dir, &rsa_key, &rsa, alg).await;
    }
    // Re-import: the same key (RSA_AES_KEY_WRAP_SHA_1 this time) yes, another RSA key no.
    import_with(&n1, dir, &rsa_key, "RSA_AES_KEY_WRAP_SHA_1", "RSA_3072", &rsa.pkcs8, &clock)
        .await
        .expect("re-import the same RSA key");
    assert_code(
        import_with(&n1, dir, &rsa_key, "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048", &rsa_other.pkcs8, &clock).await,
        "IncorrectKeyMaterialException",
        "another RSA key",
    );
    // Asymmetric imported material does not expire.
    let (token, public) = params(&n1, &rsa_key, "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048", &clock).await;
    let wrapped = openssl_wrap(dir, &public, "RSA_AES_KEY_WRAP_SHA_256", &rsa.pkcs8);
    assert_code(
        import(&n1, &rsa_key, &token, &wrapped, Some(in_secs(&clock, 48 * HOUR))).await,
        "ValidationException",
        "ValidTo on an asymmetric key",
    );
    let md = n2.describe_key().key_id(&rsa_key).send().await.expect("describe");
    let md = md.key_metadata().expect("metadata");
    assert_eq!(md.expiration_model(), Some(&ExpirationModelType::KeyMaterialDoesNotExpire));
    assert_eq!(md.origin(), Some(&OriginType::External));

    // The same RSA material in an ENCRYPT_DECRYPT key: openssl encrypts, keyraft decrypts.
    let rsa_enc = create_external_spec(&n1, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    import_with(&n3, dir, &rsa_enc, "RSA_AES_KEY_WRAP_SHA_256", "RSA_4096", &rsa.pkcs8, &clock)
        .await
        .expect("import RSA_2048 for encryption");
    let ct = openssl_wrap(dir, &rsa.public_der, "RSAES_OAEP_SHA_256", b"for the imported key");
    let out = n2
        .decrypt()
        .key_id(&rsa_enc)
        .ciphertext_blob(Blob::new(ct))
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .send()
        .await
        .expect("decrypt");
    assert_eq!(out.plaintext().expect("plaintext").as_ref(), b"for the imported key");

    // ECC_NIST_P256 (SIGN_VERIFY), wrapped with RSAES_OAEP_SHA_256 (it fits) and RSA_AES.
    let ec_key = create_external_spec(&n1, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    assert_code(
        import_with(&n2, dir, &ec_key, "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048", &p384.pkcs8, &clock).await,
        "IncorrectKeyMaterialException",
        "a P-384 key into a P-256 key",
    );
    assert_code(
        import_with(&n2, dir, &ec_key, "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048", &rsa.pkcs8, &clock).await,
        "IncorrectKeyMaterialException",
        "an RSA key into an ECC key",
    );
    assert_code(
        import_with(&n2, dir, &ec_key, "RSAES_OAEP_SHA_256", "RSA_2048", b"not a private key", &clock).await,
        "IncorrectKeyMaterialException",
        "not PKCS#8",
    );
    import_with(&n2, dir, &ec_key, "RSAES_OAEP_SHA_256", "RSA_2048", &p256.pkcs8, &clock).await.expect("import P-256");
    assert_eq!(public_key(&n1, &ec_key).await, p256.public_der, "GetPublicKey = openssl's public key");
    sign_verified_by_openssl(&n3, dir, &ec_key, &p256, SigningAlgorithmSpec::EcdsaSha256).await;
    // The same key in another encoding (PKCS#8 without the public key) re-imports; another
    // P-256 key does not.
    let sec1 = dir.join("p256-no-public.sec1").to_str().expect("path").to_owned();
    let no_public = dir.join("p256-no-public.p8").to_str().expect("path").to_owned();
    openssl(&["ec", "-in", &p256.pem, "-no_public", "-outform", "DER", "-out", &sec1]);
    let traditional = std::fs::read(&sec1).expect("read");
    openssl(&["pkcs8", "-topk8", "-nocrypt", "-inform", "DER", "-in", &sec1, "-outform", "DER", "-out", &no_public]);
    let p256_no_public = std::fs::read(&no_public).expect("read");
    assert_ne!(p256_no_public, p256.pkcs8);
    assert_ne!(p256_no_public, traditional);
    import_with(&n1, dir, &ec_key, "RSA_AES_KEY_WRAP_SHA_1", "RSA_3072", &p256_no_public, &clock)
        .await
        .expect("re-import the same P-256 key, other encoding");
    assert_code(
        import_with(&n1, dir, &ec_key, "RSAES_OAEP_SHA_1", "RSA_2048", &p256_other.pkcs8, &clock).await,
        "IncorrectKeyMaterialException",
        "another P-256 key",
    );
    // DeleteImportedKeyMaterial and re-import: the key signs again with the same public key.
    n2.delete_imported_key_material().key_id(&ec_key).send().await.expect("delete material");
    assert_eq!(state(&n1, &ec_key).await, KeyState::PendingImport);
    assert_code(
        n3.get_public_key().key_id(&ec_key).send().await,
        "KMSInvalidStateException",
        "GetPublicKey without material",
    );
    import_with(&n3, dir, &ec_key, "RSAES_OAEP_SHA_256", "RSA_2048", &p256.pkcs8, &clock)
        .await
        .expect("re-import after delete");
    sign_verified_by_openssl(&n1, dir, &ec_key, &p256, SigningAlgorithmSpec::EcdsaSha256).await;

    // The same P-256 material as a KEY_AGREEMENT key: DeriveSharedSecret = openssl's ECDH.
    let ka_key = create_external_spec(&n1, KeySpec::EccNistP256, KeyUsageType::KeyAgreement).await;
    import_with(&n1, dir, &ka_key, "RSAES_OAEP_SHA_256", "RSA_3072", &p256.pkcs8, &clock)
        .await
        .expect("import P-256 for key agreement");
    let out = n2
        .derive_shared_secret()
        .key_id(&ka_key)
        .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
        .public_key(Blob::new(p256_other.public_der.clone()))
        .send()
        .await
        .expect("DeriveSharedSecret");
    let kms_pub = dir.join("ka.pub").to_str().expect("path").to_owned();
    std::fs::write(&kms_pub, public_key(&n3, &ka_key).await).expect("write");
    let shared = openssl(&["pkeyutl", "-derive", "-inkey", &p256_other.pem, "-peerkey", &kms_pub, "-peerform", "DER"]);
    assert_eq!(out.shared_secret().expect("shared secret").as_ref(), shared.as_slice());

    // ECC_NIST_P521: not under RSAES_OAEP_* with an RSA_2048 wrapping key (AWS's rule).
    let p521_key = create_external_spec(&n1, KeySpec::EccNistP521, KeyUsageType::SignVerify).await;
    let r = n1
        .get_parameters_for_import()
        .key_id(&p521_key)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha1)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await;
    assert_code(r, "UnsupportedOperationException", "P-521 under RSAES_OAEP with RSA_2048");
    let p521 = ec("p521", "P-521");
    import_with(&n1, dir, &p521_key, "RSAES_OAEP_SHA_256", "RSA_3072", &p521.pkcs8, &clock)
        .await
        .expect("import P-521");
    assert_eq!(public_key(&n2, &p521_key).await, p521.public_der);

    // HMAC_256: raw key bytes of 32 to 64; GenerateMac = openssl's HMAC.
    let mac_key = create_external_spec(&n1, KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac).await;
    let hmac: Vec<u8> = [random32(), random32()].concat()[..40].to_vec();
    assert_code(
        import_with(&n2, dir, &mac_key, "RSAES_OAEP_SHA_256", "RSA_2048", &hmac[..16], &clock).await,
        "IncorrectKeyMaterialException",
        "a 16-byte HMAC_256 key",
    );
    assert_code(
        import_with(&n2, dir, &mac_key, "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048", &[7u8; 65], &clock).await,
        "IncorrectKeyMaterialException",
        "a 65-byte HMAC_256 key",
    );
    import_with(&n2, dir, &mac_key, "RSAES_OAEP_SHA_256", "RSA_2048", &hmac, &clock).await.expect("import HMAC_256");
    let msg = b"mac me";
    let mac = n3
        .generate_mac()
        .key_id(&mac_key)
        .message(Blob::new(&msg[..]))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .expect("GenerateMac");
    let hex_key: String = hmac.iter().map(|b| format!("{b:02x}")).collect();
    let msg_file = dir.join("mac.msg").to_str().expect("path").to_owned();
    std::fs::write(&msg_file, msg).expect("write");
    let expected =
        openssl(&["dgst", "-sha256", "-mac", "HMAC", "-macopt", &format!("hexkey:{hex_key}"), "-binary", &msg_file]);
    assert_eq!(mac.mac().expect("mac").as_ref(), expected.as_slice(), "GenerateMac = openssl dgst -mac HMAC");
    import_with(&n1, dir, &mac_key, "RSAES_OAEP_SHA_1", "RSA_2048", &hmac, &clock).await.expect("re-import HMAC");
    assert_code(
        import_with(&n1, dir, &mac_key, "RSAES_OAEP_SHA_256", "RSA_2048", &random32(), &clock).await,
        "IncorrectKeyMaterialException",
        "another HMAC key",
    );

    // No imported private key or HMAC key in plaintext anywhere in the data dir: the EC
    // scalars, a stretch of the RSA private exponent, the HMAC key.
    let scalar = |pkcs8: &[u8]| -> Vec<u8> {
        // ECPrivateKey: SEQUENCE { INTEGER 1, OCTET STRING (the scalar) … }
        let at = pkcs8.windows(4).position(|w| w == [0x02, 0x01, 0x01, 0x04]).expect("ECPrivateKey");
        let len = pkcs8[at + 4] as usize;
        pkcs8[at + 5..at + 5 + len].to_vec()
    };
    let secrets: Vec<Vec<u8>> =
        vec![scalar(&p256.pkcs8), scalar(&p521.pkcs8), rsa.pkcs8[400..432].to_vec(), hmac.clone()];
    for s in &secrets {
        assert!(s.len() >= 32);
    }
    let mut all = Vec::new();
    files(c.data_dir(), &mut all);
    assert!(!all.is_empty());
    for f in all {
        let bytes = std::fs::read(&f).unwrap_or_default();
        for s in &secrets {
            assert!(!bytes.windows(s.len()).any(|w| w == s.as_slice()), "imported key material in plaintext in {f:?}");
        }
    }
    c.shutdown().await;
}
