//! Data key pairs (GenerateDataKeyPair, GenerateDataKeyPairWithoutPlaintext) and key agreement
//! (DeriveSharedSecret with KEY_AGREEMENT keys) through the unmodified Rust `aws-sdk-kms` client,
//! checked against an independent implementation, the `openssl` command line: it parses the
//! private keys, derives their public keys, signs with them, and computes the same ECDH secret.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    DataKeyPairSpec, KeyAgreementAlgorithmSpec, KeyEncryptionMechanism, KeySpec, KeyUsageType, OriginType,
    RecipientInfo,
};
use keyraft_testkit::check::{assert_code, OK};
use keyraft_testkit::{create_key_spec, Cluster};

const R: &str = "us-east-1";
const ACCOUNT: &str = "111122223333";

fn arn(id: &str) -> String {
    format!("arn:aws:kms:{R}:{ACCOUNT}:key/{id}")
}

/// Runs `openssl`, panicking with its output when it fails.
fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().expect("run openssl (is it installed?)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Runs `openssl` and reports whether it succeeded.
fn openssl_ok(args: &[&str]) -> bool {
    Command::new("openssl").args(args).output().expect("run openssl (is it installed?)").status.success()
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read")
}

/// The DER SubjectPublicKeyInfo openssl derives from a DER PKCS#8 private key.
fn openssl_public_of(dir: &Path, name: &str, pkcs8: &[u8]) -> Vec<u8> {
    let private = write(dir, &format!("{name}.p8.der"), pkcs8);
    let public = dir.join(format!("{name}.pub.der"));
    // `pkey -inform DER` parses it as an (unencrypted) PKCS#8 PrivateKeyInfo.
    openssl(&["pkey", "-inform", "DER", "-in", p(&private), "-noout"]);
    openssl(&["pkey", "-inform", "DER", "-in", p(&private), "-pubout", "-outform", "DER", "-out", p(&public)]);
    read(&public)
}

/// Signs a message with the private key and verifies it with the public key, both with openssl;
/// a tampered message must not verify.
fn openssl_sign_verify(dir: &Path, spec: &str, pkcs8: &[u8], spki: &[u8]) {
    let private = write(dir, &format!("{spec}.sign.p8.der"), pkcs8);
    let public = write(dir, &format!("{spec}.sign.pub.der"), spki);
    let message = write(dir, "message", b"signed with a keyraft data key pair");
    let tampered = write(dir, "tampered", b"signed with a keyraft data key pair!");
    let sig = dir.join(format!("{spec}.sig"));
    if spec == "ECC_NIST_EDWARDS25519" {
        openssl(&[
            "pkeyutl",
            "-sign",
            "-keyform",
            "DER",
            "-inkey",
            p(&private),
            "-rawin",
            "-in",
            p(&message),
            "-out",
            p(&sig),
        ]);
        let verify = |m: &Path| {
            openssl_ok(&[
                "pkeyutl",
                "-verify",
                "-pubin",
                "-keyform",
                "DER",
                "-inkey",
                p(&public),
                "-rawin",
                "-in",
                p(m),
                "-sigfile",
                p(&sig),
            ])
        };
        assert!(verify(&message), "{spec}: openssl rejects its own signature");
        assert!(!verify(&tampered), "{spec}: openssl accepts a tampered message");
        return;
    }
    openssl(&["dgst", "-sha256", "-keyform", "DER", "-sign", p(&private), "-out", p(&sig), p(&message)]);
    let verify = |m: &Path| {
        openssl_ok(&["dgst", "-sha256", "-keyform", "DER", "-verify", p(&public), "-signature", p(&sig), p(m)])
    };
    assert!(verify(&message), "{spec}: openssl rejects its own signature");
    assert!(!verify(&tampered), "{spec}: openssl accepts a tampered message");
}

const KEY_PAIR_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "ECC_NIST_EDWARDS25519",
];

/// Every supported KeyPairSpec: the private key is PKCS#8 that openssl parses and whose public key
/// is PublicKey; Decrypt of PrivateKeyCiphertextBlob (same encryption context, another node)
/// returns the private key; openssl signs with it; the WithoutPlaintext variant likewise.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn data_key_pairs_every_spec_interop_with_openssl() {
    let c = Cluster::ready(&[R]).await.expect("cluster");
    let kms = c.client(R, 1);
    let other_node = c.client(R, 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let id = kms.create_key().send().await.expect("create").key_metadata().expect("md").key_id().to_owned();
    kms.create_alias().alias_name("alias/pairs").target_key_id(&id).send().await.expect("alias");
    let context: HashMap<String, String> = [("purpose".to_owned(), "key-pairs".to_owned())].into();

    for spec in KEY_PAIR_SPECS {
        let out = kms
            .generate_data_key_pair()
            .key_id("alias/pairs")
            .key_pair_spec(DataKeyPairSpec::from(*spec))
            .set_encryption_context(Some(context.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GenerateDataKeyPair {spec}: {e:?}"));
        assert_eq!(out.key_id(), Some(arn(&id).as_str()), "{spec}");
        assert_eq!(out.key_pair_spec().map(|s| s.as_str()), Some(*spec));
        let public = out.public_key().expect("PublicKey").as_ref().to_vec();
        let private = out.private_key_plaintext().expect("PrivateKeyPlaintext").as_ref().to_vec();
        let blob = out.private_key_ciphertext_blob().expect("PrivateKeyCiphertextBlob").clone();

        assert_eq!(openssl_public_of(dir.path(), spec, &private), public, "{spec}: openssl's public key");
        openssl_sign_verify(dir.path(), spec, &private, &public);

        let dec = other_node
            .decrypt()
            .ciphertext_blob(blob.clone())
            .set_encryption_context(Some(context.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("Decrypt the {spec} private key: {e:?}"));
        assert_eq!(dec.plaintext().map(|b| b.as_ref()), Some(private.as_slice()), "{spec}");
        assert_eq!(dec.key_id(), Some(arn(&id).as_str()));
        assert_code(
            other_node.decrypt().ciphertext_blob(blob).send().await,
            "InvalidCiphertextException",
            "Decrypt without the encryption context",
        );

        let again = kms
            .generate_data_key_pair()
            .key_id(&id)
            .key_pair_spec(DataKeyPairSpec::from(*spec))
            .send()
            .await
            .expect("second pair");
        assert_ne!(again.public_key().map(|b| b.as_ref()), Some(public.as_slice()), "{spec}: a fresh pair each call");

        let np = other_node
            .generate_data_key_pair_without_plaintext()
            .key_id(arn(&id))
            .key_pair_spec(DataKeyPairSpec::from(*spec))
            .set_encryption_context(Some(context.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GenerateDataKeyPairWithoutPlaintext {spec}: {e:?}"));
        assert_eq!(np.key_id(), Some(arn(&id).as_str()));
        assert_eq!(np.key_pair_spec().map(|s| s.as_str()), Some(*spec));
        let np_public = np.public_key().expect("PublicKey").as_ref().to_vec();
        let dec = kms
            .decrypt()
            .ciphertext_blob(np.private_key_ciphertext_blob().expect("blob").clone())
            .set_encryption_context(Some(context.clone()))
            .send()
            .await
            .expect("Decrypt the WithoutPlaintext private key");
        let np_private = dec.plaintext().expect("plaintext").as_ref().to_vec();
        assert_eq!(openssl_public_of(dir.path(), spec, &np_private), np_public, "{spec} WithoutPlaintext");
    }
    c.shutdown().await;
}

/// GenerateDataKeyPair(WithoutPlaintext): unsupported specs, the KMS key's spec, usage and state,
/// DryRun, Recipient, missing and invalid members.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn data_key_pair_error_cases() {
    let c = Cluster::ready(&[R]).await.expect("cluster");
    let kms = c.client(R, 1);
    let sym = kms.create_key().send().await.expect("create").key_metadata().expect("md").key_id().to_owned();
    let pair = |key: &str, spec: &str| {
        kms.generate_data_key_pair().key_id(key).key_pair_spec(DataKeyPairSpec::from(spec)).send()
    };
    let pair_np = |key: &str, spec: &str| {
        kms.generate_data_key_pair_without_plaintext().key_id(key).key_pair_spec(DataKeyPairSpec::from(spec)).send()
    };
    // SM2 is China-regions-only in AWS (ML-KEM pairs: post_quantum.rs).
    for spec in ["SM2"] {
        assert_code(pair(&sym, spec).await, "UnsupportedOperationException", spec);
        assert_code(pair_np(&sym, spec).await, "UnsupportedOperationException", spec);
    }
    assert_code(pair(&sym, "RSA_1024").await, "ValidationException", "an unknown KeyPairSpec");
    assert_code(pair(&sym, "SYMMETRIC_DEFAULT").await, "ValidationException", "a KeySpec that is no KeyPairSpec");
    assert_code(kms.generate_data_key_pair().key_id(&sym).send().await, "ValidationException", "no KeyPairSpec");
    assert_code(
        kms.generate_data_key_pair_without_plaintext().key_pair_spec(DataKeyPairSpec::EccNistP256).send().await,
        "ValidationException",
        "no KeyId",
    );
    assert_code(
        pair("1234abcd-12ab-34cd-56ef-1234567890ab", "ECC_NIST_P256").await,
        "NotFoundException",
        "an unknown key",
    );

    let rsa = create_key_spec(&kms, "RSA_2048", Some(KeyUsageType::EncryptDecrypt)).await;
    let ecc = create_key_spec(&kms, "ECC_NIST_P256", Some(KeyUsageType::SignVerify)).await;
    let agree = create_key_spec(&kms, "ECC_NIST_P256", Some(KeyUsageType::KeyAgreement)).await;
    for (key, what) in [(&rsa, "an RSA ENCRYPT_DECRYPT key"), (&ecc, "an ECC key"), (&agree, "a KEY_AGREEMENT key")] {
        assert_code(pair(key, "ECC_NIST_P256").await, "InvalidKeyUsageException", what);
        assert_code(pair_np(key, "ECC_NIST_P256").await, "InvalidKeyUsageException", what);
    }

    // DryRun: every check applies, the answer is DryRunOperationException.
    let dry = kms
        .generate_data_key_pair()
        .key_id(&sym)
        .key_pair_spec(DataKeyPairSpec::EccNistP256)
        .dry_run(true)
        .send()
        .await;
    assert_code(dry, "DryRunOperationException", "DryRun");
    let dry = kms
        .generate_data_key_pair_without_plaintext()
        .key_id(&sym)
        .key_pair_spec(DataKeyPairSpec::EccNistP256)
        .dry_run(true)
        .send()
        .await;
    assert_code(dry, "DryRunOperationException", "DryRun WithoutPlaintext");
    let dry = kms
        .generate_data_key_pair()
        .key_id(&rsa)
        .key_pair_spec(DataKeyPairSpec::EccNistP256)
        .dry_run(true)
        .send()
        .await;
    assert_code(dry, "InvalidKeyUsageException", "DryRun with a wrong key");

    let recipient = RecipientInfo::builder()
        .key_encryption_algorithm(KeyEncryptionMechanism::RsaesOaepSha256)
        .attestation_document(Blob::new(vec![1u8; 16]))
        .build();
    let r = kms
        .generate_data_key_pair()
        .key_id(&sym)
        .key_pair_spec(DataKeyPairSpec::EccNistP256)
        .recipient(recipient)
        .send()
        .await;
    assert_code(r, "UnsupportedOperationException", "Recipient");

    // The key-state matrix, as for GenerateDataKey.
    kms.disable_key().key_id(&sym).send().await.expect("disable");
    assert_code(pair(&sym, "ECC_NIST_P256").await, "DisabledException", "a disabled key");
    assert_code(pair_np(&sym, "ECC_NIST_P256").await, "DisabledException", "a disabled key");
    kms.enable_key().key_id(&sym).send().await.expect("enable");
    assert_code(pair(&sym, "ECC_NIST_P256").await, OK, "enabled again");
    kms.schedule_key_deletion().key_id(&sym).pending_window_in_days(7).send().await.expect("schedule");
    assert_code(pair(&sym, "ECC_NIST_P256").await, "KMSInvalidStateException", "a key pending deletion");
    assert_code(pair_np(&sym, "ECC_NIST_P256").await, "KMSInvalidStateException", "a key pending deletion");
    c.shutdown().await;
}

/// (openssl curve name, KMS key spec, shared-secret length).
const CURVES: &[(&str, &str, usize)] =
    &[("P-256", "ECC_NIST_P256", 32), ("P-384", "ECC_NIST_P384", 48), ("P-521", "ECC_NIST_P521", 66)];

/// A peer key pair made by openssl: (PEM private key path, DER SubjectPublicKeyInfo).
fn openssl_peer(dir: &Path, curve: &str) -> (PathBuf, Vec<u8>) {
    let private = dir.join(format!("peer-{curve}.pem"));
    let public = dir.join(format!("peer-{curve}.pub.der"));
    openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", &format!("ec_paramgen_curve:{curve}"), "-out", p(&private)]);
    openssl(&["pkey", "-in", p(&private), "-pubout", "-outform", "DER", "-out", p(&public)]);
    (private, read(&public))
}

/// KEY_AGREEMENT keys on every NIST curve: metadata lists ECDH, DeriveSharedSecret with an
/// openssl peer key equals `openssl pkeyutl -derive` with KMS's public key.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn derive_shared_secret_interop_with_openssl() {
    let c = Cluster::ready(&[R]).await.expect("cluster");
    let kms = c.client(R, 1);
    let other_node = c.client(R, 2);
    let dir = tempfile::tempdir().expect("tempdir");
    for (curve, spec, len) in CURVES {
        let id = create_key_spec(&kms, spec, Some(KeyUsageType::KeyAgreement)).await;
        let md = kms.describe_key().key_id(&id).send().await.expect("describe");
        let md = md.key_metadata().expect("metadata");
        assert_eq!(md.key_usage(), Some(&KeyUsageType::KeyAgreement));
        assert_eq!(md.key_agreement_algorithms(), &[KeyAgreementAlgorithmSpec::Ecdh], "{spec}");
        assert!(md.signing_algorithms().is_empty(), "{spec} lists SigningAlgorithms");
        assert!(md.encryption_algorithms().is_empty(), "{spec} lists EncryptionAlgorithms");

        let pk = other_node.get_public_key().key_id(&id).send().await.expect("get public key");
        assert_eq!(pk.key_usage(), Some(&KeyUsageType::KeyAgreement));
        assert_eq!(pk.key_agreement_algorithms(), &[KeyAgreementAlgorithmSpec::Ecdh]);
        assert!(pk.signing_algorithms().is_empty());
        let kms_der = write(dir.path(), &format!("kms-{curve}.der"), pk.public_key().expect("public key").as_ref());
        let kms_pem = dir.path().join(format!("kms-{curve}.pem"));
        openssl(&["pkey", "-pubin", "-inform", "DER", "-in", p(&kms_der), "-outform", "PEM", "-out", p(&kms_pem)]);

        let (peer_private, peer_spki) = openssl_peer(dir.path(), curve);
        let out = kms
            .derive_shared_secret()
            .key_id(&id)
            .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
            .public_key(Blob::new(peer_spki.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("DeriveSharedSecret {spec}: {e:?}"));
        assert_eq!(out.key_id(), Some(arn(&id).as_str()));
        assert_eq!(out.key_agreement_algorithm(), Some(&KeyAgreementAlgorithmSpec::Ecdh));
        assert_eq!(out.key_origin(), Some(&OriginType::AwsKms));
        let secret = out.shared_secret().expect("SharedSecret").as_ref().to_vec();
        assert_eq!(secret.len(), *len, "{spec}");

        let theirs = dir.path().join(format!("secret-{curve}"));
        openssl(&["pkeyutl", "-derive", "-inkey", p(&peer_private), "-peerkey", p(&kms_pem), "-out", p(&theirs)]);
        assert_eq!(read(&theirs), secret, "{spec}: openssl derives another secret");

        // Any node, any key reference, the same secret.
        let again = other_node
            .derive_shared_secret()
            .key_id(arn(&id))
            .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
            .public_key(Blob::new(peer_spki))
            .send()
            .await
            .expect("derive on another node");
        assert_eq!(again.shared_secret().map(|b| b.as_ref()), Some(secret.as_slice()));
    }
    c.shutdown().await;
}

/// DeriveSharedSecret: peer keys on other curves or malformed, key usage and spec, CreateKey's
/// KEY_AGREEMENT rules, key state, DryRun, Recipient, missing and invalid members.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn derive_shared_secret_error_cases() {
    let c = Cluster::ready(&[R]).await.expect("cluster");
    let kms = c.client(R, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    for (spec, code) in [
        ("ECC_SECG_P256K1", "ValidationException"),
        ("ECC_NIST_EDWARDS25519", "ValidationException"),
        ("RSA_2048", "ValidationException"),
        ("SYMMETRIC_DEFAULT", "ValidationException"),
        ("ECC_NIST_P521", OK),
    ] {
        let r = kms.create_key().key_spec(KeySpec::from(spec)).key_usage(KeyUsageType::KeyAgreement).send().await;
        assert_code(r, code, &format!("CreateKey {spec} KEY_AGREEMENT"));
    }

    let p256 = create_key_spec(&kms, "ECC_NIST_P256", Some(KeyUsageType::KeyAgreement)).await;
    let (_, peer256) = openssl_peer(dir.path(), "P-256");
    let (_, peer384) = openssl_peer(dir.path(), "P-384");
    let k1 = dir.path().join("k1.pem");
    openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1", "-out", p(&k1)]);
    let k1_der = dir.path().join("k1.pub.der");
    openssl(&["pkey", "-in", p(&k1), "-pubout", "-outform", "DER", "-out", p(&k1_der)]);
    let rsa_spki = {
        let rsa = create_key_spec(&kms, "RSA_2048", Some(KeyUsageType::SignVerify)).await;
        kms.get_public_key().key_id(rsa).send().await.expect("rsa public").public_key().expect("pk").as_ref().to_vec()
    };
    let derive = |key: &str, public: Vec<u8>| {
        kms.derive_shared_secret()
            .key_id(key)
            .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
            .public_key(Blob::new(public))
            .send()
    };
    assert_code(derive(&p256, peer256.clone()).await, OK, "a P-256 peer");
    // The bare uncompressed point inside the SPKI (the last 65 bytes): AWS wants SPKI.
    let point = peer256[peer256.len() - 65..].to_vec();
    for (public, what) in [
        (peer384, "a P-384 peer key for a P-256 key"),
        (read(&k1_der), "a secp256k1 peer key"),
        (rsa_spki, "an RSA public key"),
        (point, "a bare EC point"),
        (b"not a public key".to_vec(), "garbage"),
        (peer256[..peer256.len() - 1].to_vec(), "a truncated SPKI"),
    ] {
        assert_code(derive(&p256, public).await, "ValidationException", what);
    }
    assert_code(derive(&p256, vec![1u8; 8193]).await, "ValidationException", "a public key over 8192 bytes");

    let signing = create_key_spec(&kms, "ECC_NIST_P256", Some(KeyUsageType::SignVerify)).await;
    let sym = kms.create_key().send().await.expect("create").key_metadata().expect("md").key_id().to_owned();
    assert_code(derive(&signing, peer256.clone()).await, "InvalidKeyUsageException", "a SIGN_VERIFY key");
    assert_code(derive(&sym, peer256.clone()).await, "InvalidKeyUsageException", "a symmetric key");
    assert_code(
        derive("1234abcd-12ab-34cd-56ef-1234567890ab", peer256.clone()).await,
        "NotFoundException",
        "an unknown key",
    );
    // A KEY_AGREEMENT key neither signs nor encrypts.
    let sign = kms
        .sign()
        .key_id(&p256)
        .message(Blob::new("m"))
        .signing_algorithm(aws_sdk_kms::types::SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await;
    assert_code(sign, "InvalidKeyUsageException", "Sign with a KEY_AGREEMENT key");
    assert_code(
        kms.encrypt().key_id(&p256).plaintext(Blob::new("m")).send().await,
        "InvalidKeyUsageException",
        "Encrypt with a KEY_AGREEMENT key",
    );

    let bad_alg = kms
        .derive_shared_secret()
        .key_id(&p256)
        .key_agreement_algorithm(KeyAgreementAlgorithmSpec::from("ECMQV"))
        .public_key(Blob::new(peer256.clone()))
        .send()
        .await;
    assert_code(bad_alg, "ValidationException", "an unknown KeyAgreementAlgorithm");
    let no_alg = kms.derive_shared_secret().key_id(&p256).public_key(Blob::new(peer256.clone())).send().await;
    assert_code(no_alg, "ValidationException", "no KeyAgreementAlgorithm");
    let no_key =
        kms.derive_shared_secret().key_id(&p256).key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh).send().await;
    assert_code(no_key, "ValidationException", "no PublicKey");

    let dry = kms
        .derive_shared_secret()
        .key_id(&p256)
        .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
        .public_key(Blob::new(peer256.clone()))
        .dry_run(true)
        .send()
        .await;
    assert_code(dry, "DryRunOperationException", "DryRun");
    let recipient = RecipientInfo::builder()
        .key_encryption_algorithm(KeyEncryptionMechanism::RsaesOaepSha256)
        .attestation_document(Blob::new(vec![1u8; 16]))
        .build();
    let r = kms
        .derive_shared_secret()
        .key_id(&p256)
        .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
        .public_key(Blob::new(peer256.clone()))
        .recipient(recipient)
        .send()
        .await;
    assert_code(r, "UnsupportedOperationException", "Recipient");

    kms.disable_key().key_id(&p256).send().await.expect("disable");
    assert_code(derive(&p256, peer256.clone()).await, "DisabledException", "a disabled key");
    kms.enable_key().key_id(&p256).send().await.expect("enable");
    kms.schedule_key_deletion().key_id(&p256).pending_window_in_days(7).send().await.expect("schedule");
    assert_code(derive(&p256, peer256).await, "KMSInvalidStateException", "a key pending deletion");
    c.shutdown().await;
}
