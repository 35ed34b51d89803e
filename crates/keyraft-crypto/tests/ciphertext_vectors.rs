//! Frozen test vectors for ciphertext format v1. The vectors were generated once by this file with
//! `KEYRAFT_REGEN_VECTORS=1`; a change to the format that breaks them breaks every stored
//! ciphertext, so they must never be regenerated for a released format.

use keyraft_crypto::ciphertext::{decrypt, encrypt_with_nonce, CiphertextBlob};
use keyraft_crypto::KeyMaterial;
use serde_json::{json, Value};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/ciphertext-v1.json");

/// (material, key id, version, canonical context, plaintext, nonce)
type Case = (Vec<u8>, String, u32, Vec<u8>, Vec<u8>, [u8; 12]);

fn cases() -> Vec<Case> {
    let ctx_empty = keyraft_core::EncryptionContext::default().canonical_bytes();
    let ctx = keyraft_core::EncryptionContext::new(
        [("purpose".to_string(), "test".to_string()), ("ünïcödé".to_string(), "✓".to_string())].into(),
    )
    .unwrap()
    .canonical_bytes();
    vec![
        ((0u8..32).collect(), "1234abcd-12ab-34cd-56ef-1234567890ab".into(), 1, ctx_empty, b"hello".to_vec(), [0; 12]),
        ([0xa5u8; 32].to_vec(), "mrk-1234abcd12ab34cd56ef1234567890ab".into(), 7, ctx, vec![0u8; 64], [9; 12]),
        (
            (32u8..64).collect(),
            "0f0f0f0f-0000-4000-8000-000000000000".into(),
            4096,
            vec![0, 0, 0, 0],
            (0..=255).collect(),
            [0xff; 12],
        ),
    ]
}

#[test]
fn ciphertext_v1_vectors() {
    if std::env::var("KEYRAFT_REGEN_VECTORS").is_ok() {
        let out: Vec<Value> = cases()
            .into_iter()
            .map(|(m, id, v, ctx, pt, nonce)| {
                let key = KeyMaterial::from_slice(&m).unwrap();
                let blob = encrypt_with_nonce(&key, &id, v, &ctx, &pt, nonce).unwrap();
                json!({"material": hex::encode(&m), "key_id": id, "version": v, "context": hex::encode(&ctx),
                       "plaintext": hex::encode(&pt), "nonce": hex::encode(nonce), "ciphertext": hex::encode(blob)})
            })
            .collect();
        std::fs::write(PATH, serde_json::to_string_pretty(&out).unwrap()).unwrap();
    }
    let vectors: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    assert_eq!(vectors.len(), cases().len());
    for v in vectors {
        let h = |k: &str| hex::decode(v[k].as_str().unwrap()).unwrap();
        let key = KeyMaterial::from_slice(&h("material")).unwrap();
        let id = v["key_id"].as_str().unwrap();
        let version = v["version"].as_u64().unwrap() as u32;
        let nonce: [u8; 12] = h("nonce").try_into().unwrap();
        let blob = encrypt_with_nonce(&key, id, version, &h("context"), &h("plaintext"), nonce).unwrap();
        assert_eq!(hex::encode(&blob), v["ciphertext"].as_str().unwrap(), "encrypt of {id}");
        let expected = h("ciphertext");
        let parsed = CiphertextBlob::parse(&expected).unwrap();
        assert_eq!((parsed.key_id, parsed.version), (id, version));
        assert_eq!(&decrypt(&key, &parsed, &h("context")).unwrap()[..], &h("plaintext")[..]);
    }
}
