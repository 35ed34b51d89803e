//! The AWS Encryption SDK for Rust (`aws-esdk`, its keyrings from the Material Providers Library)
//! against keyraft: the ESDK's AWS KMS keyrings are given the unmodified `aws-sdk-kms` client of
//! a keyraft node, encrypt a message with an encryption context and decrypt it again.
//!
//! The ESDK calls KMS synchronously from inside its async API (`block_in_place` on the current
//! runtime), so these tests need a multi-threaded runtime with room for the in-process nodes.

use std::collections::HashMap;

use aws_esdk::client::Client as Esdk;
use aws_esdk::material_providers::client::Client as Mpl;
use aws_esdk::material_providers::types::keyring::KeyringRef;
use aws_esdk::material_providers::types::material_providers_config::MaterialProvidersConfig;
use aws_esdk::material_providers::types::DiscoveryFilter;
use aws_esdk::types::aws_encryption_sdk_config::AwsEncryptionSdkConfig;
use keyraft_testkit::Cluster;

const US: &str = "us-east-1";
const EU: &str = "eu-west-1";
const ACCOUNT: &str = "111122223333";

fn arn(region: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{region}:{ACCOUNT}:key/{key_id}")
}

fn esdk() -> Esdk {
    let config = AwsEncryptionSdkConfig::builder().build().expect("ESDK config");
    Esdk::from_conf(config).expect("ESDK client")
}

fn mpl() -> Mpl {
    let config = MaterialProvidersConfig::builder().build().expect("MPL config");
    Mpl::from_conf(config).expect("MPL client")
}

fn context(purpose: &str) -> HashMap<String, String> {
    HashMap::from([
        ("purpose".to_owned(), purpose.to_owned()),
        ("tenant".to_owned(), "acme".to_owned()),
        ("not".to_owned(), "secret".to_owned()),
    ])
}

/// Creates a symmetric key in the client's region and returns its ARN.
async fn create_key(kms: &aws_sdk_kms::Client, multi_region: bool) -> String {
    let out = kms.create_key().multi_region(multi_region).send().await.expect("create key");
    let meta = out.key_metadata().expect("key metadata");
    assert_eq!(meta.multi_region(), Some(multi_region), "{meta:?}");
    assert_eq!(meta.key_id().starts_with("mrk-"), multi_region, "{meta:?}");
    meta.arn().expect("key ARN").to_owned()
}

async fn kms_keyring(mpl: &Mpl, kms: aws_sdk_kms::Client, key_arn: &str) -> KeyringRef {
    mpl.create_aws_kms_keyring().kms_key_id(key_arn).kms_client(kms).send().await.expect("AWS KMS keyring")
}

async fn mrk_keyring(mpl: &Mpl, kms: aws_sdk_kms::Client, key_arn: &str) -> KeyringRef {
    mpl.create_aws_kms_mrk_keyring().kms_key_id(key_arn).kms_client(kms).send().await.expect("AWS KMS MRK keyring")
}

/// An MRK discovery keyring in `region` that accepts only keys of keyraft's dev account.
async fn mrk_discovery_keyring(mpl: &Mpl, kms: aws_sdk_kms::Client, region: &str, account: &str) -> KeyringRef {
    let filter = DiscoveryFilter::builder()
        .account_ids(vec![account.to_owned()])
        .partition("aws")
        .build()
        .expect("discovery filter");
    mpl.create_aws_kms_mrk_discovery_keyring()
        .kms_client(kms)
        .region(region)
        .discovery_filter(filter)
        .send()
        .await
        .expect("AWS KMS MRK discovery keyring")
}

/// Encrypts `plaintext` under `keyring` with `ctx`; returns the ESDK message.
async fn encrypt(esdk: &Esdk, keyring: KeyringRef, plaintext: &[u8], ctx: &HashMap<String, String>) -> Vec<u8> {
    let out = esdk
        .encrypt()
        .plaintext(plaintext)
        .keyring(keyring)
        .encryption_context(ctx.clone())
        .send()
        .await
        .expect("ESDK encrypt");
    let message = out.ciphertext.expect("ESDK ciphertext").into_inner();
    assert_ne!(message, plaintext);
    assert!(!message.windows(plaintext.len()).any(|w| w == plaintext), "plaintext inside the message");
    message
}

/// Decrypts `message` with `keyring`, requiring `ctx`; checks that plaintext and context round
/// trip.
async fn decrypt_expecting(
    esdk: &Esdk,
    keyring: KeyringRef,
    message: &[u8],
    ctx: &HashMap<String, String>,
    plaintext: &[u8],
    what: &str,
) {
    let out = esdk
        .decrypt()
        .ciphertext(message)
        .keyring(keyring)
        .encryption_context(ctx.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("ESDK decrypt ({what}): {e:?}"));
    let got = out.plaintext.expect("ESDK plaintext").into_inner();
    assert_eq!(got, plaintext, "{what}: plaintext");
    let stored = out.encryption_context.expect("ESDK encryption context");
    for (k, v) in ctx {
        assert_eq!(stored.get(k), Some(v), "{what}: context {k} in {stored:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kms_keyrings_round_trip() {
    let c = Cluster::ready(&[US, EU]).await.expect("cluster");
    let us = c.client(US, 1);
    let esdk = esdk();
    let mpl = mpl();

    let single = create_key(&us, false).await;
    let mrk = create_key(&us, true).await;
    assert_eq!(single, arn(US, single.rsplit('/').next().expect("key id")));
    assert_eq!(mrk, arn(US, mrk.rsplit('/').next().expect("key id")));

    // The plain AWS KMS keyring on a single-region key: GenerateDataKey on encrypt, Decrypt on
    // decrypt, through another node of the region.
    let plaintext = b"keyraft speaks the ESDK's dialect of KMS".to_vec();
    let ctx = context("single-region");
    let message = encrypt(&esdk, kms_keyring(&mpl, us.clone(), &single).await, &plaintext, &ctx).await;
    let keyring = kms_keyring(&mpl, c.client(US, 2), &single).await;
    decrypt_expecting(&esdk, keyring, &message, &ctx, &plaintext, "KMS keyring, single-region key").await;

    // The MRK keyring on the multi-region key, decrypted by MRK keyring and MRK discovery keyring
    // in the key's own region.
    let ctx = context("multi-region");
    let message = encrypt(&esdk, mrk_keyring(&mpl, us.clone(), &mrk).await, &plaintext, &ctx).await;
    // The encrypted data key's provider info is the key's keyraft ARN.
    assert!(message.windows(mrk.len()).any(|w| w == mrk.as_bytes()), "no {mrk} in the message");
    let keyring = mrk_keyring(&mpl, c.client(US, 3), &mrk).await;
    decrypt_expecting(&esdk, keyring, &message, &ctx, &plaintext, "MRK keyring").await;
    let keyring = mrk_discovery_keyring(&mpl, c.client(US, 2), US, ACCOUNT).await;
    decrypt_expecting(&esdk, keyring, &message, &ctx, &plaintext, "MRK discovery keyring").await;
    // A plain KMS keyring naming the MRK takes its message too (same ARN).
    let keyring = kms_keyring(&mpl, us.clone(), &mrk).await;
    decrypt_expecting(&esdk, keyring, &message, &ctx, &plaintext, "KMS keyring, MRK").await;

    // A larger message spanning several ESDK frames (4 KiB each by default).
    let big: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let message = encrypt(&esdk, mrk_keyring(&mpl, us.clone(), &mrk).await, &big, &ctx).await;
    let keyring = mrk_keyring(&mpl, us.clone(), &mrk).await;
    decrypt_expecting(&esdk, keyring, &message, &ctx, &big, "MRK keyring, framed").await;

    // What must not decrypt: a different required encryption context, a keyring naming the other
    // key, a discovery keyring filtering on another account.
    let mut wrong = ctx.clone();
    wrong.insert("tenant".to_owned(), "mallory".to_owned());
    let keyring = mrk_keyring(&mpl, us.clone(), &mrk).await;
    let r = esdk.decrypt().ciphertext(message.clone()).keyring(keyring).encryption_context(wrong).send().await;
    assert!(r.is_err(), "decrypted with a wrong encryption context");
    let keyring = kms_keyring(&mpl, us.clone(), &single).await;
    let r = esdk.decrypt().ciphertext(message.clone()).keyring(keyring).send().await;
    assert!(r.is_err(), "decrypted with a keyring of another key");
    let keyring = mrk_discovery_keyring(&mpl, us.clone(), US, "444455556666").await;
    let r = esdk.decrypt().ciphertext(message).keyring(keyring).send().await;
    assert!(r.is_err(), "decrypted with a discovery filter of another account");

    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mrk_keyring_across_regions() {
    let c = Cluster::ready(&[US, EU]).await.expect("cluster");
    let us = c.client(US, 1);
    let eu = c.client(EU, 1);
    let esdk = esdk();
    let mpl = mpl();

    let us_arn = create_key(&us, true).await;
    let key_id = us_arn.rsplit('/').next().expect("key id").to_owned();
    let eu_arn = arn(EU, &key_id);
    let out = us.replicate_key().key_id(&key_id).replica_region(EU).send().await.expect("ReplicateKey");
    let replica = out.replica_key_metadata().expect("replica key metadata");
    assert_eq!(replica.arn(), Some(eu_arn.as_str()), "{replica:?}");
    assert_eq!(replica.key_id(), key_id, "{replica:?}");

    let plaintext = b"sealed in us-east-1, opened in eu-west-1".to_vec();
    let ctx = context("cross-region");
    let message = encrypt(&esdk, mrk_keyring(&mpl, us.clone(), &us_arn).await, &plaintext, &ctx).await;

    // (a) The MRK keyring naming the replica's ARN, on a eu-west-1 client: the replica decrypts
    // what the primary encrypted.
    let keyring = mrk_keyring(&mpl, eu.clone(), &eu_arn).await;
    decrypt_expecting(&esdk, keyring, &message, &ctx, &plaintext, "MRK keyring, eu-west-1 replica").await;
    let keyring = mrk_keyring(&mpl, c.client(EU, 2), &eu_arn).await;
    decrypt_expecting(&esdk, keyring, &message, &ctx, &plaintext, "MRK keyring, another eu-west-1 node").await;

    // (b) The MRK discovery keyring in eu-west-1, filtering on the dev account in partition aws.
    let keyring = mrk_discovery_keyring(&mpl, eu.clone(), EU, ACCOUNT).await;
    decrypt_expecting(&esdk, keyring, &message, &ctx, &plaintext, "MRK discovery keyring, eu-west-1").await;

    // And back: the replica encrypts, the primary decrypts.
    let message = encrypt(&esdk, mrk_keyring(&mpl, eu.clone(), &eu_arn).await, &plaintext, &ctx).await;
    let keyring = mrk_keyring(&mpl, us.clone(), &us_arn).await;
    decrypt_expecting(&esdk, keyring, &message, &ctx, &plaintext, "MRK keyring, us-east-1 primary").await;

    c.shutdown().await;
}
