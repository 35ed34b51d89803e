//! Post-quantum keys through the unmodified Rust `aws-sdk-kms` client: ML-DSA (ML_DSA_44/65/87,
//! Sign/Verify with ML_DSA_SHAKE_256) and ML-KEM (ML_KEM_512/768/1024, Encapsulate/Decapsulate),
//! GetPublicKey and DescribeKey, the error cases — and interop with an independent
//! implementation: aws-lc-rs used directly (the `openssl` here is 3.0, without ML-DSA/ML-KEM),
//! given only the SubjectPublicKeyInfo GetPublicKey returns.

use aws_lc_rs::kem::{EncapsulationKey, ML_KEM_1024, ML_KEM_512, ML_KEM_768};
use aws_lc_rs::signature::{UnparsedPublicKey, ML_DSA_44, ML_DSA_65, ML_DSA_87};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{EncapsulationAlgorithmSpec, KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use aws_sdk_kms::Client;
use keyraft_testkit::check::{assert_code, outcome};
use keyraft_testkit::Cluster;

const R: &str = "us-east-1";

async fn create(client: &Client, spec: &str, usage: KeyUsageType) -> String {
    let out = client
        .create_key()
        .key_spec(KeySpec::from(spec))
        .key_usage(usage)
        .description(spec)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create {spec}: {e:?}"));
    out.key_metadata().expect("metadata").key_id().to_owned()
}

fn sign_req(
    kms: &Client,
    key: &str,
    msg: &[u8],
    mt: MessageType,
) -> aws_sdk_kms::operation::sign::builders::SignFluentBuilder {
    kms.sign()
        .key_id(key)
        .message(Blob::new(msg.to_vec()))
        .message_type(mt)
        .signing_algorithm(SigningAlgorithmSpec::MlDsaShake256)
}

fn verify_req(
    kms: &Client,
    key: &str,
    msg: &[u8],
    sig: &[u8],
) -> aws_sdk_kms::operation::verify::builders::VerifyFluentBuilder {
    kms.verify()
        .key_id(key)
        .message(Blob::new(msg.to_vec()))
        .message_type(MessageType::Raw)
        .signature(Blob::new(sig.to_vec()))
        .signing_algorithm(SigningAlgorithmSpec::MlDsaShake256)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ml_dsa_every_spec_sign_verify_and_interop() {
    let c = Cluster::ready(&[R]).await.expect("cluster");
    let kms = c.client(R, 1);
    let other_node = c.client(R, 2);
    for (spec, alg, sig_len) in
        [("ML_DSA_44", &ML_DSA_44, 2420), ("ML_DSA_65", &ML_DSA_65, 3309), ("ML_DSA_87", &ML_DSA_87, 4627)]
    {
        let key = create(&kms, spec, KeyUsageType::SignVerify).await;
        let meta = kms.describe_key().key_id(&key).send().await.expect("describe");
        let meta = meta.key_metadata().expect("metadata");
        assert_eq!(meta.key_spec(), Some(&KeySpec::from(spec)));
        assert_eq!(meta.key_usage(), Some(&KeyUsageType::SignVerify));
        assert_eq!(meta.signing_algorithms(), &[SigningAlgorithmSpec::MlDsaShake256]);
        assert!(meta.encryption_algorithms().is_empty() && meta.encapsulation_algorithms().is_empty());

        let pk = kms.get_public_key().key_id(&key).send().await.expect("get public key");
        assert_eq!(pk.key_usage(), Some(&KeyUsageType::SignVerify));
        assert_eq!(pk.signing_algorithms(), &[SigningAlgorithmSpec::MlDsaShake256]);
        let spki = pk.public_key().expect("public key").as_ref().to_vec();
        assert_eq!(spki[0], 0x30, "{spec}: DER SubjectPublicKeyInfo");

        for message in [b"hello post-quantum".to_vec(), vec![7u8; 4096]] {
            let out = sign_req(&kms, &key, &message, MessageType::Raw).send().await.expect("sign");
            assert_eq!(out.signing_algorithm(), Some(&SigningAlgorithmSpec::MlDsaShake256));
            let signature = out.signature().expect("signature").as_ref().to_vec();
            assert_eq!(signature.len(), sig_len, "{spec} signature length");
            // Verified by KMS on another node…
            let v = verify_req(&other_node, &key, &message, &signature).send().await.expect("verify");
            assert!(v.signature_valid());
            // …and independently, from GetPublicKey's SubjectPublicKeyInfo only.
            UnparsedPublicKey::new(alg, &spki).verify(&message, &signature).expect("independent ML-DSA verification");

            let mut bad_sig = signature.clone();
            bad_sig[10] ^= 1;
            assert_code(
                verify_req(&kms, &key, &message, &bad_sig).send().await,
                "KMSInvalidSignatureException",
                "tampered signature",
            );
            let mut bad_msg = message.clone();
            bad_msg[0] ^= 1;
            assert_code(
                verify_req(&kms, &key, &bad_msg, &signature).send().await,
                "KMSInvalidSignatureException",
                "tampered message",
            );
            assert!(UnparsedPublicKey::new(alg, &spki).verify(&bad_msg, &signature).is_err());
        }
    }
    c.shutdown().await;
}

/// The raw encapsulation key of an ML-KEM SubjectPublicKeyInfo, parsed here (not by keyraft):
/// SEQUENCE { SEQUENCE { OID id-alg-ml-kem-* }, BIT STRING { 0 unused bits, key } }.
fn ml_kem_key_from_spki(spki: &[u8], oid_last: u8, key_len: usize) -> Vec<u8> {
    let oid = [0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, oid_last];
    let alg_id: Vec<u8> = [&[0x30, 0x0b][..], &oid].concat();
    assert_eq!(spki[0], 0x30);
    let at = spki.windows(alg_id.len()).position(|w| w == alg_id).expect("ML-KEM AlgorithmIdentifier");
    let rest = &spki[at + alg_id.len()..];
    // BIT STRING, long-form length (0x82 hi lo), then the unused-bits octet.
    assert_eq!(rest[0], 0x03);
    assert_eq!(rest[1], 0x82);
    let len = ((rest[2] as usize) << 8) | rest[3] as usize;
    assert_eq!(len, key_len + 1);
    assert_eq!(rest[4], 0);
    assert_eq!(rest.len(), 5 + key_len);
    rest[5..].to_vec()
}

fn encapsulate_req(kms: &Client, key: &str) -> aws_sdk_kms::operation::encapsulate::builders::EncapsulateFluentBuilder {
    kms.encapsulate().key_id(key).encapsulation_algorithm(EncapsulationAlgorithmSpec::MlKem)
}

fn decapsulate_req(
    kms: &Client,
    key: &str,
    ct: &[u8],
) -> aws_sdk_kms::operation::decapsulate::builders::DecapsulateFluentBuilder {
    kms.decapsulate()
        .key_id(key)
        .shared_secret_ciphertext_blob(Blob::new(ct.to_vec()))
        .encapsulation_algorithm(EncapsulationAlgorithmSpec::MlKem)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ml_kem_every_spec_encapsulate_decapsulate_and_interop() {
    let c = Cluster::ready(&[R]).await.expect("cluster");
    let kms = c.client(R, 1);
    let other_node = c.client(R, 3);
    for (spec, alg, oid_last, ek_len, ct_len) in [
        ("ML_KEM_512", &ML_KEM_512, 1u8, 800, 768),
        ("ML_KEM_768", &ML_KEM_768, 2, 1184, 1088),
        ("ML_KEM_1024", &ML_KEM_1024, 3, 1568, 1568),
    ] {
        let key = create(&kms, spec, KeyUsageType::EncapsulateDecapsulate).await;
        let meta = kms.describe_key().key_id(&key).send().await.expect("describe");
        let meta = meta.key_metadata().expect("metadata");
        assert_eq!(meta.key_usage(), Some(&KeyUsageType::EncapsulateDecapsulate));
        assert_eq!(meta.encapsulation_algorithms(), &[EncapsulationAlgorithmSpec::MlKem]);
        assert!(meta.signing_algorithms().is_empty() && meta.encryption_algorithms().is_empty());

        let pk = kms.get_public_key().key_id(&key).send().await.expect("get public key");
        assert_eq!(pk.key_usage(), Some(&KeyUsageType::EncapsulateDecapsulate));
        assert_eq!(pk.encapsulation_algorithms(), &[EncapsulationAlgorithmSpec::MlKem]);
        let spki = pk.public_key().expect("public key").as_ref().to_vec();
        let ek = ml_kem_key_from_spki(&spki, oid_last, ek_len);

        // KMS encapsulates, KMS (another node) decapsulates.
        let out = encapsulate_req(&kms, &key).send().await.expect("encapsulate");
        assert_eq!(out.encapsulation_algorithm(), Some(&EncapsulationAlgorithmSpec::MlKem));
        assert!(out.key_id().expect("key id").ends_with(&key));
        let secret = out.shared_secret().expect("shared secret").as_ref().to_vec();
        let ct = out.shared_secret_ciphertext_blob().expect("ciphertext").as_ref().to_vec();
        assert_eq!(secret.len(), 32);
        assert_eq!(ct.len(), ct_len, "{spec} ciphertext length");
        let d = decapsulate_req(&other_node, &key, &ct).send().await.expect("decapsulate");
        assert_eq!(d.shared_secret().expect("secret").as_ref(), &secret[..]);
        assert_eq!(d.encapsulation_algorithm(), Some(&EncapsulationAlgorithmSpec::MlKem));

        // An independent encapsulation with only GetPublicKey's key decapsulates in KMS.
        let local = EncapsulationKey::new(alg, &ek).expect("encapsulation key");
        let (local_ct, local_secret) = local.encapsulate().expect("local encapsulate");
        let d = decapsulate_req(&kms, &key, local_ct.as_ref()).send().await.expect("decapsulate local");
        assert_eq!(d.shared_secret().expect("secret").as_ref(), local_secret.as_ref());

        // A modified ciphertext: ML-KEM's implicit rejection, a different (pseudo-random) secret,
        // the same for the same ciphertext.
        let mut bad = ct.clone();
        bad[5] ^= 1;
        let r1 = decapsulate_req(&kms, &key, &bad).send().await.expect("decapsulate tampered");
        let r2 = decapsulate_req(&other_node, &key, &bad).send().await.expect("decapsulate tampered");
        assert_ne!(r1.shared_secret().expect("secret").as_ref(), &secret[..]);
        assert_eq!(r1.shared_secret(), r2.shared_secret());
        // A ciphertext of the wrong length.
        assert_code(
            decapsulate_req(&kms, &key, &ct[1..]).send().await,
            "InvalidCiphertextException",
            "short ciphertext",
        );
    }
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn post_quantum_error_cases() {
    let c = Cluster::ready(&[R]).await.expect("cluster");
    let kms = c.client(R, 1);
    for (spec, usage, code) in [
        ("ML_DSA_44", None, "ValidationException"),
        ("ML_DSA_65", Some(KeyUsageType::EncryptDecrypt), "ValidationException"),
        ("ML_DSA_87", Some(KeyUsageType::EncapsulateDecapsulate), "ValidationException"),
        ("ML_KEM_512", None, "ValidationException"),
        ("ML_KEM_768", Some(KeyUsageType::SignVerify), "ValidationException"),
        ("ML_KEM_1024", Some(KeyUsageType::KeyAgreement), "ValidationException"),
        ("ECC_NIST_P256", Some(KeyUsageType::EncapsulateDecapsulate), "ValidationException"),
        ("SYMMETRIC_DEFAULT", Some(KeyUsageType::EncapsulateDecapsulate), "ValidationException"),
    ] {
        let mut req = kms.create_key().key_spec(KeySpec::from(spec));
        if let Some(u) = usage.clone() {
            req = req.key_usage(u);
        }
        assert_eq!(outcome(&req.send().await), code, "CreateKey {spec} {usage:?}");
    }

    let dsa = create(&kms, "ML_DSA_44", KeyUsageType::SignVerify).await;
    let kem = create(&kms, "ML_KEM_768", KeyUsageType::EncapsulateDecapsulate).await;
    let p256 = create(&kms, "ECC_NIST_P256", KeyUsageType::SignVerify).await;
    let sym = kms.create_key().send().await.expect("symmetric").key_metadata().expect("m").key_id().to_owned();

    // Wrong key usage.
    assert_code(encapsulate_req(&kms, &dsa).send().await, "InvalidKeyUsageException", "Encapsulate ML-DSA");
    assert_code(encapsulate_req(&kms, &sym).send().await, "InvalidKeyUsageException", "Encapsulate symmetric");
    assert_code(
        decapsulate_req(&kms, &p256, &[1u8; 1088]).send().await,
        "InvalidKeyUsageException",
        "Decapsulate P-256",
    );
    assert_code(sign_req(&kms, &kem, b"m", MessageType::Raw).send().await, "InvalidKeyUsageException", "Sign ML-KEM");
    assert_code(
        kms.encrypt().key_id(&kem).plaintext(Blob::new(b"x".to_vec())).send().await,
        "InvalidKeyUsageException",
        "Encrypt ML-KEM",
    );
    // Algorithm of another spec.
    assert_code(
        kms.sign()
            .key_id(&dsa)
            .message(Blob::new(b"m".to_vec()))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await,
        "InvalidKeyUsageException",
        "ML-DSA with ECDSA_SHA_256",
    );
    assert_code(sign_req(&kms, &p256, b"m", MessageType::Raw).send().await, "InvalidKeyUsageException", "P-256 ML-DSA");
    // Message types: DIGEST is not for ML-DSA; EXTERNAL_MU is 64 bytes (ml_dsa_external_mu).
    assert_code(sign_req(&kms, &dsa, &[1u8; 64], MessageType::Digest).send().await, "ValidationException", "DIGEST");
    assert_code(sign_req(&kms, &dsa, &[1u8; 32], MessageType::ExternalMu).send().await, "ValidationException", "mu 32");
    // DryRun.
    assert_code(
        encapsulate_req(&kms, &kem).dry_run(true).send().await,
        "DryRunOperationException",
        "Encapsulate DryRun",
    );
    let ct = encapsulate_req(&kms, &kem).send().await.expect("encapsulate");
    let ct = ct.shared_secret_ciphertext_blob().expect("ct").as_ref().to_vec();
    assert_code(
        decapsulate_req(&kms, &kem, &ct).dry_run(true).send().await,
        "DryRunOperationException",
        "Decapsulate DryRun",
    );
    assert_code(
        sign_req(&kms, &dsa, b"m", MessageType::Raw).dry_run(true).send().await,
        "DryRunOperationException",
        "Sign DryRun",
    );
    // Key states: disabled, pending deletion, missing.
    kms.disable_key().key_id(&kem).send().await.expect("disable");
    assert_code(encapsulate_req(&kms, &kem).send().await, "DisabledException", "Encapsulate disabled");
    assert_code(decapsulate_req(&kms, &kem, &ct).send().await, "DisabledException", "Decapsulate disabled");
    kms.enable_key().key_id(&kem).send().await.expect("enable");
    let d = decapsulate_req(&kms, &kem, &ct).send().await.expect("decapsulate after enable");
    assert_eq!(d.shared_secret().expect("secret").as_ref().len(), 32);
    kms.schedule_key_deletion().key_id(&dsa).pending_window_in_days(7).send().await.expect("schedule");
    assert_code(sign_req(&kms, &dsa, b"m", MessageType::Raw).send().await, "KMSInvalidStateException", "Sign pending");
    assert_code(kms.get_public_key().key_id(&dsa).send().await, "KMSInvalidStateException", "GetPublicKey pending");
    let missing = "11111111-2222-3333-4444-555555555555";
    assert_code(encapsulate_req(&kms, missing).send().await, "NotFoundException", "Encapsulate missing key");
    // A missing EncapsulationAlgorithm reaches the service (the SDK does not check required
    // members) and is a ValidationException, as in AWS.
    assert_code(kms.encapsulate().key_id(&kem).send().await, "ValidationException", "no EncapsulationAlgorithm");
    assert_code(
        kms.decapsulate().key_id(&kem).shared_secret_ciphertext_blob(Blob::new(ct.clone())).send().await,
        "ValidationException",
        "no EncapsulationAlgorithm",
    );
    c.shutdown().await;
}

/// The raw decapsulation key of an ML-KEM PKCS#8, parsed here (not by keyraft), expecting the
/// IETF LAMPS `expandedKey` form: SEQUENCE { INTEGER 0, SEQUENCE { OID id-alg-ml-kem-* },
/// OCTET STRING { OCTET STRING dk } }.
fn ml_kem_dk_from_pkcs8(p8: &[u8], oid_last: u8, dk_len: usize) -> Vec<u8> {
    let long = |n: usize| [0x82, (n >> 8) as u8, n as u8];
    let inner = [&[0x04][..], &long(dk_len)].concat();
    let outer = [&[0x04][..], &long(dk_len + 4)].concat();
    let alg = [0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, oid_last];
    let body = [&[0x02, 0x01, 0x00][..], &alg, &outer, &inner].concat();
    let head = [&[0x30][..], &long(body.len() + dk_len)].concat();
    let prefix = [head, body].concat();
    assert_eq!(&p8[..prefix.len()], &prefix[..], "PKCS#8 structure");
    assert_eq!(p8.len(), prefix.len() + dk_len);
    p8[prefix.len()..].to_vec()
}

/// GenerateDataKeyPair with the ML-KEM specs: the private key comes as PKCS#8 whose key
/// decapsulates what an independent encapsulation to the returned public key made, and the
/// encrypted copy decrypts to the same PKCS#8.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ml_kem_data_key_pairs() {
    use aws_lc_rs::kem::DecapsulationKey;
    use aws_sdk_kms::types::DataKeyPairSpec;
    let c = Cluster::ready(&[R]).await.expect("cluster");
    let kms = c.client(R, 1);
    let sym = kms.create_key().send().await.expect("create").key_metadata().expect("md").key_id().to_owned();
    for (spec, alg, oid_last, ek_len, dk_len) in [
        ("ML_KEM_512", &ML_KEM_512, 1u8, 800, 1632),
        ("ML_KEM_768", &ML_KEM_768, 2, 1184, 2400),
        ("ML_KEM_1024", &ML_KEM_1024, 3, 1568, 3168),
    ] {
        let out = kms
            .generate_data_key_pair()
            .key_id(&sym)
            .key_pair_spec(DataKeyPairSpec::from(spec))
            .encryption_context("purpose", "pq")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{spec}: {e:?}"));
        assert_eq!(out.key_pair_spec(), Some(&DataKeyPairSpec::from(spec)));
        let p8 = out.private_key_plaintext().expect("private key").as_ref().to_vec();
        let spki = out.public_key().expect("public key").as_ref().to_vec();
        let dk = ml_kem_dk_from_pkcs8(&p8, oid_last, dk_len);
        let ek = ml_kem_key_from_spki(&spki, oid_last, ek_len);
        let (ct, secret) = EncapsulationKey::new(alg, &ek).expect("ek").encapsulate().expect("encapsulate");
        let mine = DecapsulationKey::new(alg, &dk).expect("dk").decapsulate(ct.as_ref().into()).expect("decapsulate");
        assert_eq!(mine.as_ref(), secret.as_ref(), "{spec}: the private key belongs to the public key");
        let blob = out.private_key_ciphertext_blob().expect("ciphertext").clone();
        let back =
            kms.decrypt().ciphertext_blob(blob).encryption_context("purpose", "pq").send().await.expect("decrypt");
        assert_eq!(back.plaintext().expect("plaintext").as_ref(), &p8[..]);

        let np = kms
            .generate_data_key_pair_without_plaintext()
            .key_id(&sym)
            .key_pair_spec(DataKeyPairSpec::from(spec))
            .send()
            .await
            .expect("without plaintext");
        assert!(np.private_key_ciphertext_blob().is_some());
        assert_ne!(np.public_key().expect("public key").as_ref(), &spki[..]);
    }
    c.shutdown().await;
}

/// FIPS 204's μ for `message` under a raw ML-DSA public key, pure mode, empty context, computed
/// here with an independent SHAKE256: μ = SHAKE256(SHAKE256(pk, 64) ‖ 0 ‖ 0 ‖ M, 64).
fn ml_dsa_mu(raw_pk: &[u8], message: &[u8]) -> [u8; 64] {
    use sha3::digest::{ExtendableOutput, Update, XofReader};
    let mut tr = [0u8; 64];
    let mut h = sha3::Shake256::default();
    h.update(raw_pk);
    h.finalize_xof().read(&mut tr);
    let mut mu = [0u8; 64];
    let mut h = sha3::Shake256::default();
    h.update(&tr);
    h.update(&[0, 0]);
    h.update(message);
    h.finalize_xof().read(&mut mu);
    mu
}

/// Sign and Verify with MessageType EXTERNAL_MU: KMS signs a μ computed by the client, and the
/// signature verifies as an ordinary ML-DSA signature over the message (aws-lc-rs, given only
/// GetPublicKey's SPKI); a RAW signature verifies through its μ.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ml_dsa_external_mu() {
    let c = Cluster::ready(&[R]).await.expect("cluster");
    let kms = c.client(R, 1);
    let other = c.client(R, 2);
    for (spec, alg, pk_len) in
        [("ML_DSA_44", &ML_DSA_44, 1312), ("ML_DSA_65", &ML_DSA_65, 1952), ("ML_DSA_87", &ML_DSA_87, 2592)]
    {
        let key = create(&kms, spec, KeyUsageType::SignVerify).await;
        let spki = kms.get_public_key().key_id(&key).send().await.expect("public key");
        let spki = spki.public_key().expect("spki").as_ref().to_vec();
        let raw_pk = &spki[spki.len() - pk_len..];
        let message = format!("signed through mu with {spec}").into_bytes();
        let mu = ml_dsa_mu(raw_pk, &message);

        let signed = sign_req(&kms, &key, &mu, MessageType::ExternalMu).send().await.expect("sign mu");
        let sig = signed.signature().expect("signature").as_ref().to_vec();
        UnparsedPublicKey::new(alg, &spki).verify(&message, &sig).expect("verifies over the message itself");
        let v = verify_req(&other, &key, &mu, &sig).message_type(MessageType::ExternalMu).send().await.expect("verify");
        assert!(v.signature_valid(), "{spec}");

        let raw = sign_req(&kms, &key, &message, MessageType::Raw).send().await.expect("sign raw");
        let raw_sig = raw.signature().expect("signature").as_ref().to_vec();
        let v = verify_req(&other, &key, &mu, &raw_sig).message_type(MessageType::ExternalMu).send().await;
        assert!(v.expect("verify raw signature through mu").signature_valid(), "{spec}");
        let mut other_mu = mu;
        other_mu[7] ^= 1;
        assert_code(
            verify_req(&other, &key, &other_mu, &sig).message_type(MessageType::ExternalMu).send().await,
            "KMSInvalidSignatureException",
            "another mu",
        );
    }
    c.shutdown().await;
}
