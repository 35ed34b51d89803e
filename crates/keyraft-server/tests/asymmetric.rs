//! Asymmetric keys through the unmodified Rust `aws-sdk-kms` client: every key spec × signing
//! algorithm (RAW and DIGEST), GetPublicKey, RSA-OAEP Encrypt/Decrypt/ReEncrypt, the error
//! cases — and interop with an independent implementation, the `openssl` command line: it
//! verifies keyraft's signatures and encrypts to keyraft's public keys.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{EncryptionAlgorithmSpec, KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use keyraft_testkit::check::{assert_code, outcome, OK};
use keyraft_testkit::disk::{count, files};
use keyraft_testkit::{create_key_spec, Cluster};

const R: &str = "us-east-1";
const ACCOUNT: &str = "111122223333";

/// Runs `openssl` and reports whether it succeeded.
fn openssl(args: &[&str]) -> bool {
    let out = Command::new("openssl").args(args).output().expect("run openssl (is it installed?)");
    out.status.success()
}

fn openssl_digest(dir: &Path, hash: &str, data: &[u8]) -> Vec<u8> {
    let input = dir.join("digest-in");
    std::fs::write(&input, data).expect("write");
    let out = Command::new("openssl")
        .args(["dgst", &format!("-{hash}"), "-binary", input.to_str().expect("path")])
        .output()
        .expect("openssl dgst");
    assert!(out.status.success(), "openssl dgst: {out:?}");
    out.stdout
}

/// The hash of a signing algorithm, in openssl's names.
fn hash_of(alg: &str) -> &'static str {
    if alg.ends_with("256") {
        "sha256"
    } else if alg.ends_with("384") {
        "sha384"
    } else {
        "sha512"
    }
}

/// Verifies `signature` over `message` with the DER SubjectPublicKeyInfo in `public_key` using
/// openssl, never keyraft.
fn openssl_verify(dir: &Path, public_key: &Path, alg: &str, message: &[u8], signature: &[u8]) -> bool {
    let sig = dir.join("sig");
    std::fs::write(&sig, signature).expect("write sig");
    let (pk, sig) = (public_key.to_str().expect("path"), sig.to_str().expect("path"));
    if alg == "ED25519_SHA_512" {
        let msg = dir.join("msg");
        std::fs::write(&msg, message).expect("write msg");
        let msg = msg.to_str().expect("path");
        return openssl(&[
            "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", pk, "-rawin", "-in", msg, "-sigfile", sig,
        ]);
    }
    let hash = hash_of(alg);
    let digest = dir.join("digest");
    std::fs::write(&digest, openssl_digest(dir, hash, message)).expect("write digest");
    let md = format!("digest:{hash}");
    let mut args = vec![
        "pkeyutl",
        "-verify",
        "-pubin",
        "-keyform",
        "DER",
        "-inkey",
        pk,
        "-in",
        digest.to_str().expect("path"),
        "-sigfile",
        sig,
        "-pkeyopt",
        &md,
    ];
    if alg.starts_with("RSASSA_PSS") {
        args.extend(["-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:digest"]);
    } else if alg.starts_with("RSASSA_PKCS1") {
        args.extend(["-pkeyopt", "rsa_padding_mode:pkcs1"]);
    }
    openssl(&args)
}

/// Every key spec × signing algorithm: Sign RAW and DIGEST, Verify (valid, and tampered →
/// KMSInvalidSignatureException), DescribeKey/GetPublicKey fields, openssl verifies each signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sign_and_verify_every_spec_and_algorithm_interop_with_openssl() {
    let c = Cluster::ready(&[R]).await.expect("cluster");
    let kms = c.client(R, 1);
    let other_node = c.client(R, 2);
    let dir = tempfile::tempdir().expect("tempdir");
    let rsa = [
        "RSASSA_PKCS1_V1_5_SHA_256",
        "RSASSA_PKCS1_V1_5_SHA_384",
        "RSASSA_PKCS1_V1_5_SHA_512",
        "RSASSA_PSS_SHA_256",
        "RSASSA_PSS_SHA_384",
        "RSASSA_PSS_SHA_512",
    ];
    let specs: &[(&str, &[&str])] = &[
        ("RSA_2048", &rsa),
        ("RSA_3072", &rsa),
        ("RSA_4096", &rsa),
        ("ECC_NIST_P256", &["ECDSA_SHA_256"]),
        ("ECC_NIST_P384", &["ECDSA_SHA_384"]),
        ("ECC_NIST_P521", &["ECDSA_SHA_512"]),
        ("ECC_SECG_P256K1", &["ECDSA_SHA_256"]),
        ("ECC_NIST_EDWARDS25519", &["ED25519_SHA_512", "ED25519_PH_SHA_512"]),
    ];
    let message = b"keyraft asymmetric interop message".to_vec();
    for (spec, algs) in specs {
        let id = create_key_spec(&kms, spec, Some(KeyUsageType::SignVerify)).await;
        let arn = format!("arn:aws:kms:{R}:{ACCOUNT}:key/{id}");

        let md = kms.describe_key().key_id(&id).send().await.expect("describe");
        let md = md.key_metadata().expect("metadata");
        assert_eq!(md.key_spec().map(|s| s.as_str()), Some(*spec));
        assert_eq!(md.key_usage(), Some(&KeyUsageType::SignVerify));
        let listed: Vec<&str> = md.signing_algorithms().iter().map(|a| a.as_str()).collect();
        assert_eq!(&listed, algs, "{spec} SigningAlgorithms");
        assert!(md.encryption_algorithms().is_empty(), "{spec} lists EncryptionAlgorithms");

        let pk = other_node.get_public_key().key_id(&id).send().await.expect("get public key");
        assert_eq!(pk.key_id(), Some(arn.as_str()));
        assert_eq!(pk.key_spec().map(|s| s.as_str()), Some(*spec));
        #[allow(deprecated)]
        let cmk_spec = pk.customer_master_key_spec().map(|s| s.as_str().to_owned());
        assert_eq!(cmk_spec.as_deref(), Some(*spec));
        assert_eq!(pk.key_usage(), Some(&KeyUsageType::SignVerify));
        let listed: Vec<&str> = pk.signing_algorithms().iter().map(|a| a.as_str()).collect();
        assert_eq!(&listed, algs, "{spec} GetPublicKey SigningAlgorithms");
        assert!(pk.encryption_algorithms().is_empty());
        let der = pk.public_key().expect("public key").as_ref().to_vec();
        let pk_path = dir.path().join(format!("{spec}.der"));
        std::fs::write(&pk_path, &der).expect("write public key");
        // openssl parses it as a SubjectPublicKeyInfo.
        assert!(openssl(&["pkey", "-pubin", "-inform", "DER", "-in", pk_path.to_str().expect("p"), "-noout"]));

        for alg in *algs {
            let what = format!("{spec} {alg}");
            let sa = SigningAlgorithmSpec::from(*alg);
            if *alg == "ED25519_PH_SHA_512" {
                // Ed25519ph signs a SHA-512 digest (AWS-LC directly; its RFC 8032 vector is a unit
                // test of keyraft-crypto; openssl 3.0 here has no Ed25519ph to check against).
                let digest = openssl_digest(dir.path(), "sha512", &message);
                let sign_ph = |m: Vec<u8>, t: MessageType| {
                    kms.sign().key_id(&id).message(Blob::new(m)).message_type(t).signing_algorithm(sa.clone()).send()
                };
                let signed = sign_ph(digest.clone(), MessageType::Digest).await.expect("Ed25519ph sign");
                let sig = signed.signature().expect("signature").as_ref().to_vec();
                assert_eq!(sig.len(), 64);
                let verify_ph = |d: Vec<u8>, s: Vec<u8>| {
                    other_node
                        .verify()
                        .key_id(&id)
                        .message(Blob::new(d))
                        .message_type(MessageType::Digest)
                        .signature(Blob::new(s))
                        .signing_algorithm(sa.clone())
                        .send()
                };
                let ok = verify_ph(digest.clone(), sig.clone()).await.expect("Ed25519ph verify");
                assert!(ok.signature_valid(), "{what}");
                let mut bad = sig.clone();
                bad[10] ^= 1;
                assert_code(verify_ph(digest.clone(), bad).await, "KMSInvalidSignatureException", &what);
                assert_code(sign_ph(message.clone(), MessageType::Raw).await, "ValidationException", "Ed25519ph RAW");
                continue;
            }
            // RAW.
            let signed = kms
                .sign()
                .key_id(&id)
                .message(Blob::new(message.clone()))
                .message_type(MessageType::Raw)
                .signing_algorithm(sa.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{what} sign: {e:?}"));
            assert_eq!(signed.key_id(), Some(arn.as_str()));
            assert_eq!(signed.signing_algorithm(), Some(&sa));
            let sig = signed.signature().expect("signature").as_ref().to_vec();
            let verified = other_node
                .verify()
                .key_id(&id)
                .message(Blob::new(message.clone()))
                .signature(Blob::new(sig.clone()))
                .signing_algorithm(sa.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{what} verify: {e:?}"));
            assert!(verified.signature_valid(), "{what}");
            assert_eq!(verified.key_id(), Some(arn.as_str()));
            assert_eq!(verified.signing_algorithm(), Some(&sa));
            let mut tampered = message.clone();
            tampered[0] ^= 1;
            let bad = kms
                .verify()
                .key_id(&id)
                .message(Blob::new(tampered.clone()))
                .signature(Blob::new(sig.clone()))
                .signing_algorithm(sa.clone())
                .send()
                .await;
            assert_code(bad, "KMSInvalidSignatureException", &format!("{what} tampered message"));
            assert!(openssl_verify(dir.path(), &pk_path, alg, &message, &sig), "openssl rejects {what} RAW");
            assert!(!openssl_verify(dir.path(), &pk_path, alg, &tampered, &sig), "openssl accepts tampered {what}");
            if *alg == "ED25519_SHA_512" {
                let r = kms
                    .sign()
                    .key_id(&id)
                    .message(Blob::new(vec![0u8; 64]))
                    .message_type(MessageType::Digest)
                    .signing_algorithm(sa)
                    .send()
                    .await;
                assert_code(r, "ValidationException", "ED25519_SHA_512 with DIGEST");
                continue;
            }
            // DIGEST: the same signature as over RAW (verifiable either way).
            let digest = openssl_digest(dir.path(), hash_of(alg), &message);
            let signed = kms
                .sign()
                .key_id(&id)
                .message(Blob::new(digest.clone()))
                .message_type(MessageType::Digest)
                .signing_algorithm(sa.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{what} sign digest: {e:?}"));
            let dsig = signed.signature().expect("signature").as_ref().to_vec();
            assert!(openssl_verify(dir.path(), &pk_path, alg, &message, &dsig), "openssl rejects {what} DIGEST");
            for (msg, mt) in [(message.clone(), MessageType::Raw), (digest.clone(), MessageType::Digest)] {
                let v = kms
                    .verify()
                    .key_id(&id)
                    .message(Blob::new(msg))
                    .message_type(mt.clone())
                    .signature(Blob::new(dsig.clone()))
                    .signing_algorithm(sa.clone())
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{what} verify digest signature as {mt:?}: {e:?}"));
                assert!(v.signature_valid());
            }
            let mut bad_sig = dsig.clone();
            let last = bad_sig.len() - 1;
            bad_sig[last] ^= 0x55;
            let bad = kms
                .verify()
                .key_id(&id)
                .message(Blob::new(digest.clone()))
                .message_type(MessageType::Digest)
                .signature(Blob::new(bad_sig))
                .signing_algorithm(sa.clone())
                .send()
                .await;
            assert_code(bad, "KMSInvalidSignatureException", &format!("{what} tampered signature"));
            // A digest of the wrong length.
            let short = kms
                .sign()
                .key_id(&id)
                .message(Blob::new(digest[..digest.len() - 1].to_vec()))
                .message_type(MessageType::Digest)
                .signing_algorithm(sa)
                .send()
                .await;
            assert_code(short, "ValidationException", &format!("{what} short digest"));
        }
    }
    c.shutdown().await;
}

/// RSA ENCRYPT_DECRYPT keys: OAEP-SHA-1 and OAEP-SHA-256 round trips, openssl encrypts to the
/// public key and keyraft decrypts, plaintext limits, ReEncrypt across symmetric and RSA keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rsa_encryption_interop_with_openssl() {
    let c = Cluster::ready(&[R]).await.expect("cluster");
    let kms = c.client(R, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    // No KeyUsage: AWS's default ENCRYPT_DECRYPT, valid for RSA.
    let id = create_key_spec(&kms, "RSA_2048", None).await;
    let id3072 = create_key_spec(&kms, "RSA_3072", Some(KeyUsageType::EncryptDecrypt)).await;
    let md = kms.describe_key().key_id(&id).send().await.expect("describe");
    let md = md.key_metadata().expect("metadata");
    assert_eq!(md.key_usage(), Some(&KeyUsageType::EncryptDecrypt));
    let algs: Vec<&str> = md.encryption_algorithms().iter().map(|a| a.as_str()).collect();
    assert_eq!(algs, ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]);
    assert!(md.signing_algorithms().is_empty());
    let pk = kms.get_public_key().key_id(&id).send().await.expect("public key");
    let algs: Vec<&str> = pk.encryption_algorithms().iter().map(|a| a.as_str()).collect();
    assert_eq!(algs, ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]);
    let pk_path = dir.path().join("rsa.der");
    std::fs::write(&pk_path, pk.public_key().expect("public key").as_ref()).expect("write");

    for (alg, md_name, max2048, max3072) in
        [("RSAES_OAEP_SHA_1", "sha1", 214usize, 342usize), ("RSAES_OAEP_SHA_256", "sha256", 190, 318)]
    {
        let ea = EncryptionAlgorithmSpec::from(alg);
        let pt = b"attack at dawn".to_vec();
        let enc = kms
            .encrypt()
            .key_id(&id)
            .plaintext(Blob::new(pt.clone()))
            .encryption_algorithm(ea.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{alg} encrypt: {e:?}"));
        assert_eq!(enc.encryption_algorithm(), Some(&ea));
        let ct = enc.ciphertext_blob().expect("blob").as_ref().to_vec();
        assert_eq!(ct.len(), 256, "bare RSA-2048 OAEP ciphertext");
        let dec = c
            .client(R, 3)
            .decrypt()
            .key_id(&id)
            .ciphertext_blob(Blob::new(ct.clone()))
            .encryption_algorithm(ea.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{alg} decrypt: {e:?}"));
        assert_eq!(dec.plaintext().map(|p| p.as_ref()), Some(&pt[..]));
        assert_eq!(dec.encryption_algorithm(), Some(&ea));

        // openssl encrypts to the public key; keyraft decrypts.
        let pt_path = dir.path().join("pt");
        let ct_path = dir.path().join("ct");
        std::fs::write(&pt_path, b"from openssl").expect("write");
        let oaep_md = format!("rsa_oaep_md:{md_name}");
        let mgf1_md = format!("rsa_mgf1_md:{md_name}");
        assert!(openssl(&[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-keyform",
            "DER",
            "-inkey",
            pk_path.to_str().expect("p"),
            "-in",
            pt_path.to_str().expect("p"),
            "-out",
            ct_path.to_str().expect("p"),
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            &oaep_md,
            "-pkeyopt",
            &mgf1_md,
        ]));
        let ext = std::fs::read(&ct_path).expect("read ct");
        let dec = kms
            .decrypt()
            .key_id(&id)
            .ciphertext_blob(Blob::new(ext.clone()))
            .encryption_algorithm(ea.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{alg} decrypt openssl's ciphertext: {e:?}"));
        assert_eq!(dec.plaintext().map(|p| p.as_ref()), Some(&b"from openssl"[..]));

        // Plaintext limits (AWS's table).
        for (key, max) in [(&id, max2048), (&id3072, max3072)] {
            let at = kms.encrypt().key_id(key).plaintext(Blob::new(vec![7u8; max])).encryption_algorithm(ea.clone());
            assert_code(at.send().await, OK, &format!("{alg} {max} bytes"));
            let over =
                kms.encrypt().key_id(key).plaintext(Blob::new(vec![7u8; max + 1])).encryption_algorithm(ea.clone());
            assert_code(over.send().await, "ValidationException", &format!("{alg} {} bytes", max + 1));
        }
    }
    let sha1 = EncryptionAlgorithmSpec::RsaesOaepSha1;
    let sha256 = EncryptionAlgorithmSpec::RsaesOaepSha256;
    let ct = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("x"))
        .encryption_algorithm(sha1.clone())
        .send()
        .await
        .expect("encrypt")
        .ciphertext_blob()
        .expect("blob")
        .as_ref()
        .to_vec();
    // Decrypt with the other OAEP hash, without KeyId, without the algorithm, with context.
    let d = kms.decrypt().key_id(&id).ciphertext_blob(Blob::new(ct.clone())).encryption_algorithm(sha256.clone());
    assert_code(d.send().await, "InvalidCiphertextException", "wrong OAEP hash");
    let d = kms.decrypt().ciphertext_blob(Blob::new(ct.clone())).encryption_algorithm(sha1.clone());
    assert_code(d.send().await, "ValidationException", "RSA decrypt without KeyId");
    let d = kms.decrypt().ciphertext_blob(Blob::new(ct.clone()));
    assert_code(d.send().await, "InvalidCiphertextException", "RSA ciphertext as a symmetric blob");
    let e = kms.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await;
    // AWS: "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048."
    let message = e.as_ref().err().and_then(|e| e.message()).map(str::to_owned);
    assert_code(e, "InvalidKeyUsageException", "RSA key without EncryptionAlgorithm");
    assert_eq!(message.as_deref(), Some("Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048."));
    let e = kms.encrypt().key_id(&id).plaintext(Blob::new("x")).encryption_algorithm(sha1.clone());
    assert_code(e.encryption_context("a", "b").send().await, "ValidationException", "context with RSA");
    let g = kms.generate_data_key().key_id(&id).key_spec(aws_sdk_kms::types::DataKeySpec::Aes256);
    assert_code(g.send().await, "InvalidKeyUsageException", "GenerateDataKey with an RSA key");
    let s = kms
        .sign()
        .key_id(&id)
        .message(Blob::new("m"))
        .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
        .send()
        .await;
    assert_code(s, "InvalidKeyUsageException", "Sign with an ENCRYPT_DECRYPT key");

    // ReEncrypt: symmetric → RSA → symmetric.
    let sym = kms.create_key().send().await.expect("symmetric key");
    let sym = sym.key_metadata().expect("md").key_id().to_owned();
    let e = kms.encrypt().key_id(&sym).plaintext(Blob::new("re-encrypt me")).encryption_algorithm(sha1.clone());
    assert_code(e.send().await, "InvalidKeyUsageException", "RSA algorithm with a symmetric key");
    let blob = kms.encrypt().key_id(&sym).plaintext(Blob::new("re-encrypt me")).send().await.expect("encrypt");
    let to_rsa = kms
        .re_encrypt()
        .ciphertext_blob(blob.ciphertext_blob().expect("blob").clone())
        .destination_key_id(&id)
        .destination_encryption_algorithm(sha256.clone())
        .send()
        .await
        .expect("re-encrypt to RSA");
    assert_eq!(to_rsa.destination_encryption_algorithm(), Some(&sha256));
    let rsa_ct = to_rsa.ciphertext_blob().expect("blob").clone();
    let back = kms
        .re_encrypt()
        .ciphertext_blob(rsa_ct.clone())
        .source_key_id(&id)
        .source_encryption_algorithm(sha256.clone())
        .destination_key_id(&sym)
        .send()
        .await
        .expect("re-encrypt from RSA");
    assert_eq!(back.source_encryption_algorithm(), Some(&sha256));
    let plain = kms.decrypt().ciphertext_blob(back.ciphertext_blob().expect("blob").clone()).send().await;
    assert_eq!(plain.expect("decrypt").plaintext().map(|p| p.as_ref()), Some(&b"re-encrypt me"[..]));
    c.shutdown().await;
}

/// CreateKey spec/usage rules, algorithm/spec mismatches, message limits, the key-state matrix.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn asymmetric_error_cases() {
    let c = Cluster::ready(&[R]).await.expect("cluster");
    let kms = c.client(R, 1);
    let create_code = |spec: &'static str, usage: Option<KeyUsageType>| {
        let kms = kms.clone();
        async move {
            let mut req = kms.create_key().key_spec(KeySpec::from(spec));
            if let Some(u) = usage {
                req = req.key_usage(u);
            }
            outcome(&req.send().await)
        }
    };
    for (spec, usage, code) in [
        ("ECC_NIST_P256", None, "ValidationException"),
        ("ECC_NIST_P256", Some(KeyUsageType::EncryptDecrypt), "ValidationException"),
        ("ECC_NIST_P384", Some(KeyUsageType::KeyAgreement), OK),
        ("ECC_SECG_P256K1", Some(KeyUsageType::KeyAgreement), "ValidationException"),
        ("ECC_NIST_EDWARDS25519", Some(KeyUsageType::EncryptDecrypt), "ValidationException"),
        ("RSA_2048", Some(KeyUsageType::GenerateVerifyMac), "ValidationException"),
        ("SYMMETRIC_DEFAULT", Some(KeyUsageType::SignVerify), "ValidationException"),
        ("HMAC_256", Some(KeyUsageType::GenerateVerifyMac), OK),
        ("HMAC_256", None, "ValidationException"),
        ("SM2", Some(KeyUsageType::SignVerify), "UnsupportedOperationException"),
        ("ML_DSA_44", Some(KeyUsageType::SignVerify), OK),
    ] {
        assert_eq!(create_code(spec, usage.clone()).await, code, "CreateKey {spec} {usage:?}");
    }

    let p256 = create_key_spec(&kms, "ECC_NIST_P256", Some(KeyUsageType::SignVerify)).await;
    let sign = |key: &str, msg: Vec<u8>, mt: MessageType, alg: SigningAlgorithmSpec| {
        kms.sign().key_id(key).message(Blob::new(msg)).message_type(mt).signing_algorithm(alg).send()
    };
    let digest = vec![1u8; 32];
    assert_code(
        sign(&p256, digest.clone(), MessageType::Digest, SigningAlgorithmSpec::EcdsaSha384).await,
        "InvalidKeyUsageException",
        "P-256 with ECDSA_SHA_384",
    );
    assert_code(
        sign(&p256, b"m".to_vec(), MessageType::Raw, SigningAlgorithmSpec::RsassaPssSha256).await,
        "InvalidKeyUsageException",
        "P-256 with an RSA algorithm",
    );
    assert_code(
        sign(&p256, vec![0u8; 4096], MessageType::Raw, SigningAlgorithmSpec::EcdsaSha256).await,
        OK,
        "4096-byte message",
    );
    assert_code(
        sign(&p256, vec![0u8; 4097], MessageType::Raw, SigningAlgorithmSpec::EcdsaSha256).await,
        "ValidationException",
        "4097-byte message",
    );
    assert_code(
        sign(&p256, vec![0u8; 48], MessageType::Digest, SigningAlgorithmSpec::EcdsaSha256).await,
        "ValidationException",
        "SHA-384-sized digest for ECDSA_SHA_256",
    );
    let enc = kms
        .encrypt()
        .key_id(&p256)
        .plaintext(Blob::new("x"))
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .send()
        .await;
    assert_code(enc, "InvalidKeyUsageException", "Encrypt with a SIGN_VERIFY key");
    let v = kms
        .verify()
        .key_id(&p256)
        .message(Blob::new("m"))
        .signature(Blob::new(vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]))
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await;
    assert_code(v, "KMSInvalidSignatureException", "garbage signature");

    // GetPublicKey of a symmetric key.
    let sym = kms.create_key().send().await.expect("symmetric");
    let sym = sym.key_metadata().expect("md").key_id().to_owned();
    assert_code(kms.get_public_key().key_id(&sym).send().await, "UnsupportedOperationException", "symmetric");
    assert_code(
        sign(&sym, b"m".to_vec(), MessageType::Raw, SigningAlgorithmSpec::EcdsaSha256).await,
        "InvalidKeyUsageException",
        "Sign with a symmetric key",
    );

    // The key-state matrix: disabled → DisabledException for Sign, Verify and GetPublicKey.
    let good = sign(&p256, b"m".to_vec(), MessageType::Raw, SigningAlgorithmSpec::EcdsaSha256).await.expect("sign");
    let sig = good.signature().expect("sig").clone();
    kms.disable_key().key_id(&p256).send().await.expect("disable");
    for node in 1..=3 {
        let k = c.client(R, node);
        assert_code(
            k.sign()
                .key_id(&p256)
                .message(Blob::new("m"))
                .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
                .send()
                .await,
            "DisabledException",
            "Sign on a disabled key",
        );
        assert_code(
            k.verify()
                .key_id(&p256)
                .message(Blob::new("m"))
                .signature(sig.clone())
                .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
                .send()
                .await,
            "DisabledException",
            "Verify on a disabled key",
        );
        assert_code(k.get_public_key().key_id(&p256).send().await, "DisabledException", "GetPublicKey disabled");
    }
    kms.enable_key().key_id(&p256).send().await.expect("enable");
    let v = kms
        .verify()
        .key_id(&p256)
        .message(Blob::new("m"))
        .signature(sig)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .expect("verify after enable");
    assert!(v.signature_valid());
    kms.schedule_key_deletion().key_id(&p256).pending_window_in_days(7).send().await.expect("schedule");
    assert_code(kms.get_public_key().key_id(&p256).send().await, "KMSInvalidStateException", "pending deletion");
    c.shutdown().await;
}

/// Private keys never reach the disk in plaintext: each key pair's PKCS#8 (opened here with the
/// node's root key) is looked for, whole and in 32-byte pieces not shared with the public key,
/// in every file under the data dir after the log, state machine and snapshots were written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_private_key_in_plaintext_under_the_data_dir() {
    fn snapshot_often(cfg: &mut keyraft_server::NodeConfig) {
        cfg.heartbeat_ms = Some(50);
        cfg.snapshot_every = Some(5);
    }
    let c = Cluster::start_with(&[R], snapshot_often).await.expect("cluster");
    c.wait_leader(R, Duration::from_secs(20)).await.expect("leader");
    let kms = c.client(R, 2);
    let mut ids = Vec::new();
    for (spec, usage) in [
        ("RSA_2048", KeyUsageType::SignVerify),
        ("RSA_2048", KeyUsageType::EncryptDecrypt),
        ("ECC_NIST_P256", KeyUsageType::SignVerify),
        ("ECC_SECG_P256K1", KeyUsageType::SignVerify),
        ("ECC_NIST_EDWARDS25519", KeyUsageType::SignVerify),
    ] {
        ids.push(create_key_spec(&kms, spec, Some(usage)).await);
    }
    for n in 1..=3 {
        c.node(R, n).region_node.raft().trigger().snapshot().await.expect("snapshot");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for n in 1..=3 {
        c.node(R, n).region_node.state().flush().await.expect("flush");
    }
    let root = keyraft_server::secrets::read_root_key(&c.node(R, 1).config.root_key_file).expect("root key");
    let mut needles: Vec<Vec<u8>> = Vec::new();
    let mut publics: Vec<Vec<u8>> = Vec::new();
    for id in &ids {
        let (wrapped, public) = c.node(R, 1).region_node.state().read(|s| {
            let k = s.keys.values().find(|k| k.id.as_str() == id).expect("key");
            (k.material[0].wrapped.clone(), k.material[0].public_key.clone().expect("public key"))
        });
        assert_eq!(wrapped.first(), Some(&2), "private keys use wrap format v2");
        let private =
            keyraft_crypto::asymmetric::unwrap_private_key(&root, id, 1, &wrapped).expect("unwrap with the root key");
        let der = private.expose_for_test();
        publics.push(public.clone());
        needles.push(der.to_vec());
        needles.extend(der.chunks_exact(32).filter(|piece| count(&public, piece) == 0).map(<[u8]>::to_vec));
    }
    let mut paths = Vec::new();
    files(c.data_dir(), &mut paths);
    assert!(!paths.is_empty());
    let mut public_hits = 0;
    for p in &paths {
        let data = std::fs::read(p).expect("read");
        for n in &needles {
            assert_eq!(count(&data, n), 0, "plaintext private key material in {}", p.display());
        }
        public_hits += publics.iter().filter(|pk| count(&data, pk) > 0).count();
    }
    // The scan does see stored key state: the public keys (stored in the clear) are on disk.
    assert!(public_hits >= publics.len(), "public keys found only {public_hits} times");
    c.shutdown().await;
}
