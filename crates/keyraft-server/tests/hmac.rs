//! HMAC keys through the unmodified Rust `aws-sdk-kms` client: every HMAC key spec with its MAC
//! algorithm (GenerateMac, VerifyMac, DescribeKey), consistency across the three nodes of a
//! region, the error cases, and no plaintext HMAC key under the data dir. The MAC itself is
//! checked against an independent implementation, the `openssl` command line, with the HMAC_256
//! keys the service generated (learned from the testkit's recording RNG); the crypto module is
//! unit-tested against RFC 4231.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeySpec, KeyUsageType, MacAlgorithmSpec, MessageType, SigningAlgorithmSpec};
use aws_sdk_kms::Client;
use keyraft_testkit::check::{assert_code, OK};
use keyraft_testkit::disk::{count, files};
use keyraft_testkit::Cluster;

const R: &str = "us-east-1";

async fn create_hmac(client: &Client, spec: &str, multi_region: bool) -> String {
    let out = client
        .create_key()
        .key_spec(KeySpec::from(spec))
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .multi_region(multi_region)
        .description(spec)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create {spec}: {e:?}"));
    out.key_metadata().expect("metadata").key_id().to_owned()
}

async fn mac(client: &Client, key: &str, message: &[u8], alg: &MacAlgorithmSpec) -> Vec<u8> {
    let out = client
        .generate_mac()
        .key_id(key)
        .message(Blob::new(message))
        .mac_algorithm(alg.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("GenerateMac {alg:?}: {e:?}"));
    assert_eq!(out.mac_algorithm(), Some(alg));
    out.mac().expect("mac").as_ref().to_vec()
}

/// The MAC algorithm and tag length of each HMAC key spec.
const SPECS: [(&str, &str, usize); 4] = [
    ("HMAC_224", "HMAC_SHA_224", 28),
    ("HMAC_256", "HMAC_SHA_256", 32),
    ("HMAC_384", "HMAC_SHA_384", 48),
    ("HMAC_512", "HMAC_SHA_512", 64),
];

/// Every spec × algorithm: DescribeKey lists the one MAC algorithm, GenerateMac gives the same MAC
/// on every node, VerifyMac accepts it on another node and refuses a tampered one; single- and
/// multi-region keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_hmac_spec_generates_and_verifies() {
    let c = Cluster::ready(&[R]).await.expect("cluster");
    let clients: Vec<Client> = (1..=3).map(|n| c.client(R, n)).collect();
    let kms = &clients[0];
    for (spec, alg_name, tag_len) in SPECS {
        let alg = MacAlgorithmSpec::from(alg_name);
        for multi_region in [false, true] {
            let id = create_hmac(kms, spec, multi_region).await;
            assert_eq!(id.starts_with("mrk-"), multi_region);
            let md = kms.describe_key().key_id(&id).send().await.expect("describe");
            let md = md.key_metadata().expect("metadata");
            assert_eq!(md.key_spec(), Some(&KeySpec::from(spec)));
            assert_eq!(md.key_usage(), Some(&KeyUsageType::GenerateVerifyMac));
            assert_eq!(md.mac_algorithms(), std::slice::from_ref(&alg), "{spec} MacAlgorithms");
            assert!(md.encryption_algorithms().is_empty(), "{spec} lists EncryptionAlgorithms");
            assert!(md.signing_algorithms().is_empty(), "{spec} lists SigningAlgorithms");
            assert_eq!(md.multi_region(), Some(multi_region));
            let arn = md.arn().expect("arn").to_owned();

            let message = format!("message for {spec}").into_bytes();
            let tag = mac(kms, &id, &message, &alg).await;
            assert_eq!(tag.len(), tag_len, "{spec} MAC length");
            // The same message gives the same MAC on every node of the region (one key, wrapped
            // once, replicated through Raft); another message another MAC.
            for other in &clients {
                assert_eq!(mac(other, &id, &message, &alg).await, tag, "{spec}: MAC differs between nodes");
            }
            assert_ne!(mac(kms, &id, b"another message", &alg).await, tag);
            // 1 and 4096-byte messages are accepted.
            mac(kms, &id, b"x", &alg).await;
            mac(kms, &id, &[7u8; 4096], &alg).await;

            let verify = |client: &Client, message: Vec<u8>, tag: Vec<u8>, alg: MacAlgorithmSpec| {
                client
                    .verify_mac()
                    .key_id(&id)
                    .message(Blob::new(message))
                    .mac(Blob::new(tag))
                    .mac_algorithm(alg)
                    .send()
            };
            let ok = verify(&clients[1], message.clone(), tag.clone(), alg.clone()).await.expect("VerifyMac");
            assert!(ok.mac_valid());
            assert_eq!(ok.key_id(), Some(arn.as_str()));
            assert_eq!(ok.mac_algorithm(), Some(&alg));
            let out = kms
                .generate_mac()
                .key_id(&arn)
                .message(Blob::new(message.clone()))
                .mac_algorithm(alg.clone())
                .grant_tokens("a-grant-token")
                .send()
                .await
                .expect("GenerateMac by ARN with grant tokens");
            assert_eq!(out.key_id(), Some(arn.as_str()));

            let mut tampered = tag.clone();
            tampered[tag_len / 2] ^= 0x01;
            assert_code(
                verify(&clients[2], message.clone(), tampered, alg.clone()).await,
                "KMSInvalidMacException",
                "tampered MAC",
            );
            assert_code(
                verify(kms, message.clone(), tag[..tag_len - 1].to_vec(), alg.clone()).await,
                "KMSInvalidMacException",
                "truncated MAC",
            );
            assert_code(
                verify(kms, b"another message".to_vec(), tag.clone(), alg.clone()).await,
                "KMSInvalidMacException",
                "MAC of another message",
            );
            // Every other MAC algorithm is InvalidKeyUsage for this spec.
            for (_, other_alg, _) in SPECS.iter().filter(|(s, _, _)| *s != spec) {
                let other_alg = MacAlgorithmSpec::from(*other_alg);
                assert_code(
                    kms.generate_mac()
                        .key_id(&id)
                        .message(Blob::new(message.clone()))
                        .mac_algorithm(other_alg.clone())
                        .send()
                        .await,
                    "InvalidKeyUsageException",
                    "GenerateMac with another spec's algorithm",
                );
                assert_code(
                    verify(kms, message.clone(), tag.clone(), other_alg).await,
                    "InvalidKeyUsageException",
                    "VerifyMac with another spec's algorithm",
                );
            }
            // DryRun: every check applies, then DryRunOperationException instead of the result.
            assert_code(
                kms.generate_mac()
                    .key_id(&id)
                    .message(Blob::new(message.clone()))
                    .mac_algorithm(alg.clone())
                    .dry_run(true)
                    .send()
                    .await,
                "DryRunOperationException",
                "GenerateMac DryRun",
            );
            assert_code(
                kms.verify_mac()
                    .key_id(&id)
                    .message(Blob::new(message.clone()))
                    .mac(Blob::new(tag.clone()))
                    .mac_algorithm(alg.clone())
                    .dry_run(true)
                    .send()
                    .await,
                "DryRunOperationException",
                "VerifyMac DryRun",
            );
        }
    }
    c.shutdown().await;
}

/// Message limits, key usage both ways, CreateKey rules, rotation, the key-state matrix.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hmac_error_cases() {
    let c = Cluster::ready(&[R]).await.expect("cluster");
    let kms = c.client(R, 1);
    let sha256 = MacAlgorithmSpec::HmacSha256;
    let gen = |key: &str, message: Vec<u8>| {
        kms.generate_mac().key_id(key).message(Blob::new(message)).mac_algorithm(MacAlgorithmSpec::HmacSha256).send()
    };

    // CreateKey: GENERATE_VERIFY_MAC is the only usage of an HMAC spec, and it must be given.
    for (spec, usage, code) in [
        ("HMAC_256", None, "ValidationException"),
        ("HMAC_384", Some(KeyUsageType::EncryptDecrypt), "ValidationException"),
        ("HMAC_512", Some(KeyUsageType::SignVerify), "ValidationException"),
        ("HMAC_224", Some(KeyUsageType::KeyAgreement), "ValidationException"),
        ("SYMMETRIC_DEFAULT", Some(KeyUsageType::GenerateVerifyMac), "ValidationException"),
        ("ECC_NIST_P256", Some(KeyUsageType::GenerateVerifyMac), "ValidationException"),
    ] {
        let mut req = kms.create_key().key_spec(KeySpec::from(spec));
        if let Some(u) = usage.clone() {
            req = req.key_usage(u);
        }
        assert_code(req.send().await, code, &format!("CreateKey {spec} {usage:?}"));
    }

    let hmac = create_hmac(&kms, "HMAC_256", false).await;
    // Messages of 0 and 4097 bytes.
    assert_code(gen(&hmac, vec![]).await, "ValidationException", "empty message");
    assert_code(gen(&hmac, vec![0u8; 4097]).await, "ValidationException", "4097-byte message");
    let tag = gen(&hmac, b"m".to_vec()).await.expect("mac").mac().expect("mac").clone();
    let verify = |key: &str, message: Vec<u8>, tag: Blob| {
        kms.verify_mac().key_id(key).message(Blob::new(message)).mac(tag).mac_algorithm(sha256.clone()).send()
    };
    assert_code(verify(&hmac, vec![], tag.clone()).await, "ValidationException", "VerifyMac empty message");
    assert_code(
        verify(&hmac, vec![0u8; 4097], tag.clone()).await,
        "ValidationException",
        "VerifyMac 4097-byte message",
    );
    assert_code(verify(&hmac, b"m".to_vec(), Blob::new(vec![])).await, "ValidationException", "empty MAC");
    assert_code(verify(&hmac, b"m".to_vec(), tag.clone()).await, OK, "VerifyMac");

    // An HMAC key does not encrypt, make data keys, sign or give a public key.
    assert_code(
        kms.encrypt().key_id(&hmac).plaintext(Blob::new("p")).send().await,
        "InvalidKeyUsageException",
        "Encrypt with an HMAC key",
    );
    assert_code(
        kms.generate_data_key().key_id(&hmac).key_spec(DataKeySpec::Aes256).send().await,
        "InvalidKeyUsageException",
        "GenerateDataKey with an HMAC key",
    );
    assert_code(
        kms.generate_data_key_without_plaintext().key_id(&hmac).key_spec(DataKeySpec::Aes256).send().await,
        "InvalidKeyUsageException",
        "GenerateDataKeyWithoutPlaintext with an HMAC key",
    );
    assert_code(
        kms.sign()
            .key_id(&hmac)
            .message(Blob::new("m"))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await,
        "InvalidKeyUsageException",
        "Sign with an HMAC key",
    );
    assert_code(
        kms.get_public_key().key_id(&hmac).send().await,
        "UnsupportedOperationException",
        "GetPublicKey of an HMAC key",
    );
    // Symmetric and asymmetric keys do not make MACs.
    let sym = kms.create_key().send().await.expect("create").key_metadata().expect("md").key_id().to_owned();
    let rsa = kms
        .create_key()
        .key_spec(KeySpec::Rsa2048)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .expect("create RSA")
        .key_metadata()
        .expect("md")
        .key_id()
        .to_owned();
    for (key, what) in [(&sym, "symmetric"), (&rsa, "RSA")] {
        assert_code(gen(key, b"m".to_vec()).await, "InvalidKeyUsageException", &format!("GenerateMac {what}"));
        assert_code(
            verify(key, b"m".to_vec(), tag.clone()).await,
            "InvalidKeyUsageException",
            &format!("VerifyMac {what}"),
        );
    }

    // Rotation is for symmetric encryption keys only.
    assert_code(
        kms.enable_key_rotation().key_id(&hmac).send().await,
        "UnsupportedOperationException",
        "EnableKeyRotation of an HMAC key",
    );
    assert_code(
        kms.rotate_key_on_demand().key_id(&hmac).send().await,
        "UnsupportedOperationException",
        "RotateKeyOnDemand of an HMAC key",
    );

    // Key states: disabled → DisabledException, pending deletion → KMSInvalidStateException.
    kms.disable_key().key_id(&hmac).send().await.expect("disable");
    assert_code(gen(&hmac, b"m".to_vec()).await, "DisabledException", "GenerateMac disabled");
    assert_code(verify(&hmac, b"m".to_vec(), tag.clone()).await, "DisabledException", "VerifyMac disabled");
    kms.enable_key().key_id(&hmac).send().await.expect("enable");
    assert_code(gen(&hmac, b"m".to_vec()).await, OK, "GenerateMac re-enabled");
    kms.schedule_key_deletion().key_id(&hmac).pending_window_in_days(7).send().await.expect("schedule deletion");
    assert_code(gen(&hmac, b"m".to_vec()).await, "KMSInvalidStateException", "GenerateMac pending deletion");
    assert_code(
        verify(&hmac, b"m".to_vec(), tag.clone()).await,
        "KMSInvalidStateException",
        "VerifyMac pending deletion",
    );
    kms.cancel_key_deletion().key_id(&hmac).send().await.expect("cancel deletion");
    // A cancelled deletion leaves the key disabled, as in AWS.
    assert_code(gen(&hmac, b"m".to_vec()).await, "DisabledException", "GenerateMac after cancel");
    c.shutdown().await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// HMAC-SHA-256 of `message` under `key` by `openssl`, never keyraft.
fn openssl_hmac_sha256(dir: &Path, key: &[u8], message: &[u8]) -> Vec<u8> {
    let input = dir.join("hmac-in");
    std::fs::write(&input, message).expect("write");
    let out = Command::new("openssl")
        .args([
            "dgst",
            "-sha256",
            "-mac",
            "HMAC",
            "-macopt",
            &format!("hexkey:{}", hex(key)),
            "-binary",
            input.to_str().expect("path"),
        ])
        .output()
        .expect("run openssl (is it installed?)");
    assert!(out.status.success(), "openssl dgst -mac HMAC: {out:?}");
    out.stdout
}

fn snapshot_often(cfg: &mut keyraft_server::NodeConfig) {
    cfg.heartbeat_ms = Some(50);
    cfg.snapshot_every = Some(10);
}

/// The HMAC_256 keys the service generated (recorded by the testkit's RNG, which records every
/// 32-byte fill) are the keys `openssl` computes KMS's MACs with, and none of them appears in
/// plaintext in any file under the data dir once the log, state machine and snapshots are written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hmac_keys_match_openssl_and_never_reach_the_disk_in_plaintext() {
    let c = Cluster::ready_with(&[R], snapshot_often).await.expect("cluster");
    let kms = c.client(R, 2);
    let mut keys = Vec::new();
    for i in 0..8 {
        let id = create_hmac(&kms, "HMAC_256", i % 2 == 0).await;
        let m = mac(&kms, &id, b"interop message", &MacAlgorithmSpec::HmacSha256).await;
        keys.push((id, m));
    }
    for n in 1..=3 {
        c.node(R, n).region_node.raft().trigger().snapshot().await.expect("snapshot");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for n in 1..=3 {
        c.node(R, n).region_node.state().flush().await.expect("flush");
    }

    let secrets = c.entropy.secrets();
    let tmp = tempfile::tempdir().expect("tempdir");
    // Each key's MAC is HMAC-SHA-256 under exactly one recorded secret: so the recorded secrets
    // are the HMAC keys, and keyraft's HMAC is openssl's.
    let openssl_macs: Vec<Vec<u8>> =
        secrets.iter().map(|s| openssl_hmac_sha256(tmp.path(), s, b"interop message")).collect();
    for (id, m) in &keys {
        let hits = openssl_macs.iter().filter(|o| *o == m).count();
        assert_eq!(hits, 1, "{id}: its MAC is openssl's HMAC-SHA-256 under {hits} recorded secrets");
    }

    let mut paths = Vec::new();
    files(c.data_dir(), &mut paths);
    let mut wrapped_hits = 0usize;
    let wrapped: Vec<Vec<u8>> = keys
        .iter()
        .map(|(id, _)| {
            c.node(R, 1).region_node.state().read(|s| {
                s.keys.values().find(|k| k.id.as_str() == id).map(|k| k.material[0].wrapped.clone()).expect("key")
            })
        })
        .collect();
    assert!(wrapped.iter().all(|w| w[0] == 2), "HMAC keys are wrapped in format v2");
    for p in &paths {
        let data = std::fs::read(p).expect("read");
        for s in &secrets {
            assert_eq!(count(&data, s), 0, "plaintext HMAC key found in {}", p.display());
        }
        wrapped_hits += wrapped.iter().map(|w| count(&data, w)).sum::<usize>();
    }
    // The scan does see stored key state: the wrapped form of every key is on disk.
    assert!(wrapped_hits >= wrapped.len(), "the scan found only {wrapped_hits} copies of wrapped material");
    c.shutdown().await;
}
