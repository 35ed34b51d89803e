//! aws-sdk-kms against the compose deployment over HTTPS, trusting only the deployment CA: run by
//! `scripts/compose-smoke` with `KEYRAFT_COMPOSE_DEV_JSON` naming the deployment's dev.json
//! (`cargo test -p keyraft-server --test compose_sdk -- --ignored`). Ignored otherwise: it needs
//! the containers.

use aws_sdk_kms::primitives::Blob;
use keyraft_testkit::https_sdk_client;

fn client(endpoint: &str, region: &str, dev: &serde_json::Value, ca: &[u8]) -> aws_sdk_kms::Client {
    let ak = dev["access_key_id"].as_str().expect("access_key_id");
    let sk = dev["secret_access_key"].as_str().expect("secret_access_key");
    https_sdk_client(endpoint, region, ak, sk, ca)
}

#[tokio::test]
#[ignore = "needs a compose deployment: run by scripts/compose-smoke"]
async fn aws_sdk_kms_over_https_against_every_compose_node() {
    let path = std::env::var("KEYRAFT_COMPOSE_DEV_JSON").expect("KEYRAFT_COMPOSE_DEV_JSON");
    let dev: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).expect("dev.json")).expect("json");
    let ca = std::fs::read(dev["ca_bundle"].as_str().expect("ca_bundle")).expect("CA bundle");
    let regions = dev["regions"].as_object().expect("regions");
    assert!(regions.len() >= 2, "{path}: {} regions", regions.len());
    for (region, r) in regions {
        let endpoints: Vec<&str> =
            r["endpoints"].as_array().expect("endpoints").iter().map(|e| e.as_str().expect("endpoint")).collect();
        assert!(endpoints.iter().all(|e| e.starts_with("https://")), "{endpoints:?}");
        let clients: Vec<_> = endpoints.iter().map(|e| client(e, region, &dev, &ca)).collect();
        // CreateKey on the first node, Encrypt on each node, Decrypt every ciphertext on another.
        let key = clients[0]
            .create_key()
            .description("compose_sdk")
            .send()
            .await
            .expect("CreateKey")
            .key_metadata
            .expect("metadata")
            .key_id;
        for (i, c) in clients.iter().enumerate() {
            let plain = format!("aws-sdk-kms to {} node {}", region, i + 1).into_bytes();
            let blob = c
                .encrypt()
                .key_id(&key)
                .plaintext(Blob::new(plain.clone()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{region} node {}: Encrypt: {e:?}", i + 1))
                .ciphertext_blob
                .expect("blob");
            let other = &clients[(i + 1) % clients.len()];
            let out = other.decrypt().ciphertext_blob(blob).send().await.expect("Decrypt on the next node");
            assert_eq!(out.plaintext.expect("plaintext").as_ref(), plain.as_slice());
        }
        let listed = clients[clients.len() - 1].list_keys().limit(1000).send().await.expect("ListKeys");
        assert!(listed.keys().iter().any(|k| k.key_id() == Some(key.as_str())), "{region}: ListKeys has {key}");
        eprintln!("{region}: aws-sdk-kms over HTTPS: CreateKey, Encrypt/Decrypt on {} nodes, ListKeys", clients.len());
    }
}
