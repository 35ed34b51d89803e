//! The in-process floor of an Encrypt request (issue 10): the same request bytes a client sends,
//! through SigV4 verification, JSON parsing, AES-256-GCM and the JSON response, with no HTTP, no
//! Raft, no read barrier and no network. It is the least CPU work a keyraft node does per
//! Encrypt; `scripts/bench-compare` relates the served throughput to it.
//!
//! ```sh
//! cargo bench -p keyraft-aws --bench floor                      # every bench, under a minute after compiling
//! cargo bench -p keyraft-aws --bench floor -- floor/encrypt-32  # criterion's usual filters and flags
//! ```
//!
//! Benches (criterion group `floor`, one element = one request, so criterion reports elem/s):
//!
//! - `encrypt-32`, `encrypt-4k`: the whole floor for 32 B and 4 KiB of plaintext;
//! - its components, for the profile: `sigv4-verify-*` (including the SHA-256 of the body),
//!   `json-parse-*` (parse the body, read KeyId, Plaintext with base64 decoding,
//!   EncryptionContext and EncryptionAlgorithm), `aes-gcm-*` (`keyraft_crypto::encrypt`: OS RNG
//!   nonce, AES key schedule, AES-GCM, the frozen ciphertext format), `response-json-*` (base64
//!   of the ciphertext and the serialized response); and parts of those: `sha256-body-4k` (one
//!   SHA-256 of the 4 KiB request body, hex encoded), `sigv4-signing-key` (the four chained
//!   HMACs deriving the signing key), both done by `sigv4-verify-*` per request, and
//!   `os-rng-nonce` (the 12-byte nonce from the OS RNG, which `aes-gcm-*` includes).
//!
//! After criterion, when run by `cargo bench` (not `--list`, not `cargo test --benches`), it
//! prints one line per floor bench for scripts, from its own timed loop of
//! `KEYRAFT_FLOOR_SECS` seconds (default 1) on one thread, not from criterion's estimates
//! (those are in `target/criterion/floor/<bench>/new/estimates.json`):
//!
//! ```text
//! FLOOR encrypt-32 <ops_per_sec>
//! FLOOR encrypt-4k <ops_per_sec>
//! FLOOR policy-default <evaluations_per_sec>
//! FLOOR policy-conditions <evaluations_per_sec>
//! ```
//!
//! The `policy-*` benches are one Encrypt's authorization (condition context + compiled key
//! policy, `keyraft_service::authz`), for its share of the floor.
//!
//! `KEYRAFT_FLOOR_SUMMARY=0` skips those lines.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use keyraft_aws::sigv4::{self, Expected, SignedRequest, SigningParams};
use keyraft_aws::wire::Input;
use keyraft_core::{EncryptionContext, KeyRef};
use keyraft_crypto::{CiphertextBlob, KeyMaterial};
use rand::rngs::OsRng;
use rand::RngCore;
use serde_json::json;
use time::macros::datetime;
use time::OffsetDateTime;

const ACCESS_KEY_ID: &str = "AKIAKEYRAFTBENCH0001";
const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYKEYRAFTBENCH";
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "111122223333";
const KEY_ID: &str = "6f1c2e4a-8b3d-4e5f-9a0b-1c2d3e4f5a6b";
/// Request time and server time (the skew check passes; a fixed time keeps runs reproducible).
const NOW: OffsetDateTime = datetime!(2024-06-01 12:00:00 UTC);
const ENCRYPTION_ALGORITHM: &str = "SYMMETRIC_DEFAULT";

/// One signed Encrypt request of `size` bytes of plaintext, and what the node holds to serve it.
struct Fixture {
    /// `32`, `4k`: the suffix of the bench names.
    label: &'static str,
    headers: HeaderMap,
    body: Vec<u8>,
    secrets: HashMap<String, String>,
    material: KeyMaterial,
    arn: String,
    /// Precomputed intermediate values, for the component benches.
    plaintext: Vec<u8>,
    ciphertext: Vec<u8>,
}

impl Fixture {
    fn new(size: usize, label: &'static str) -> Self {
        let plaintext: Vec<u8> = (0..size).map(|i| u8::try_from(i % 251).unwrap_or(0)).collect();
        let body = format!(r#"{{"KeyId":"{KEY_ID}","Plaintext":"{}"}}"#, B64.encode(&plaintext)).into_bytes();
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("127.0.0.1:7001"));
        headers.insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
        headers.insert("content-length", HeaderValue::from(body.len()));
        headers.insert("x-amz-target", HeaderValue::from_static("TrentService.Encrypt"));
        // Sent by every SDK, never signed.
        headers.insert("user-agent", HeaderValue::from_static("keyraft-floor-bench/0.1"));
        sigv4::sign(
            "POST",
            "/",
            "",
            &mut headers,
            &body,
            &SigningParams {
                access_key_id: ACCESS_KEY_ID,
                secret_access_key: SECRET_ACCESS_KEY,
                region: REGION,
                service: "kms",
                now: NOW,
            },
        )
        .expect("sign the request");
        let mut fixture = Fixture {
            label,
            headers,
            body,
            secrets: HashMap::from([(ACCESS_KEY_ID.to_owned(), SECRET_ACCESS_KEY.to_owned())]),
            material: KeyMaterial::from_slice(&[7u8; 32]).expect("32-byte key material"),
            arn: format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"),
            plaintext,
            ciphertext: Vec::new(),
        };
        fixture.check();
        fixture
    }

    fn request(&self) -> SignedRequest<'_> {
        SignedRequest { method: "POST", path: "/", query: "", headers: &self.headers, body: &self.body }
    }

    /// SigV4 verification, as the server does it for every request.
    fn verify(&self) -> sigv4::Verified {
        sigv4::verify(&self.request(), &Expected { region: REGION, service: "kms", now: NOW }, &self.secrets)
            .expect("the request verifies")
    }

    /// The request body as `ops` reads an Encrypt: key, plaintext, context, algorithm.
    fn parse(&self) -> (KeyRef, Vec<u8>, EncryptionContext) {
        let input = Input::parse(&self.body).expect("JSON object");
        match input.str_opt("EncryptionAlgorithm").expect("string") {
            None | Some(ENCRYPTION_ALGORITHM) => {}
            Some(other) => panic!("unexpected algorithm {other}"),
        }
        let plaintext = input.blob_req("Plaintext", 1, 4096).expect("plaintext");
        let key = input.key_ref_req("KeyId").expect("key id");
        let context = input.context("EncryptionContext").expect("context");
        (key, plaintext, context)
    }

    /// `keyraft_crypto::encrypt` with the OS RNG, as `keyraft-service` calls it.
    fn encrypt(&self, key_id: &str, plaintext: &[u8], context: &EncryptionContext) -> Vec<u8> {
        keyraft_crypto::encrypt(&self.material, key_id, 1, &context.canonical_bytes(), plaintext, &mut OsRng)
            .expect("encrypt")
    }

    /// The Encrypt response body.
    fn respond(&self, ciphertext: &[u8]) -> String {
        json!({
            "CiphertextBlob": B64.encode(ciphertext),
            "KeyId": self.arn,
            "EncryptionAlgorithm": ENCRYPTION_ALGORITHM,
        })
        .to_string()
    }

    /// The whole floor: request bytes in, response bytes out.
    fn serve(&self) -> String {
        let verified = self.verify();
        black_box(&verified);
        let (key, plaintext, context) = self.parse();
        let key_id = match &key {
            KeyRef::Id(id) => id.as_str(),
            other => panic!("unexpected key reference {other:?}"),
        };
        let ciphertext = self.encrypt(key_id, &plaintext, &context);
        self.respond(&ciphertext)
    }

    /// Checks once that every step succeeds (a failing step would be measured as a fast error)
    /// and that the response decrypts to the plaintext sent.
    fn check(&mut self) {
        assert_eq!(self.verify().access_key_id, ACCESS_KEY_ID);
        let (_, plaintext, _) = self.parse();
        assert_eq!(plaintext, self.plaintext);
        let response: serde_json::Value = serde_json::from_str(&self.serve()).expect("response JSON");
        assert_eq!(response["KeyId"], self.arn.as_str());
        let blob = B64.decode(response["CiphertextBlob"].as_str().expect("blob")).expect("base64");
        let opened = keyraft_crypto::decrypt(
            &self.material,
            &CiphertextBlob::parse(&blob).expect("ciphertext format"),
            &EncryptionContext::default().canonical_bytes(),
        )
        .expect("decrypt");
        assert_eq!(opened.as_slice(), self.plaintext.as_slice());
        self.ciphertext = blob;
    }
}

fn bench_fixture(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, fx: &Fixture) {
    let label = fx.label;
    group.bench_function(format!("encrypt-{label}"), |b| b.iter(|| black_box(fx.serve())));
    group.bench_function(format!("sigv4-verify-{label}"), |b| b.iter(|| black_box(fx.verify())));
    group.bench_function(format!("json-parse-{label}"), |b| b.iter(|| black_box(fx.parse())));
    let context = EncryptionContext::default();
    group.bench_function(format!("aes-gcm-{label}"), |b| {
        b.iter(|| black_box(fx.encrypt(KEY_ID, black_box(&fx.plaintext), &context)))
    });
    group.bench_function(format!("response-json-{label}"), |b| b.iter(|| black_box(fx.respond(&fx.ciphertext))));
}

fn benches(c: &mut Criterion, fixtures: &[Fixture]) {
    let mut group = c.benchmark_group("floor");
    group.throughput(Throughput::Elements(1));
    for fx in fixtures {
        bench_fixture(&mut group, fx);
    }
    if let Some(fx) = fixtures.iter().find(|fx| fx.label == "4k") {
        group.bench_function("sha256-body-4k", |b| b.iter(|| black_box(sigv4::sha256_hex(black_box(&fx.body)))));
    }
    group.bench_function("sigv4-signing-key", |b| {
        b.iter(|| black_box(sigv4::signing_key(black_box(SECRET_ACCESS_KEY), "20240601", REGION, "kms")))
    });
    // Authorization: the compiled key policy evaluated for one Encrypt, with the condition
    // context built per request as the service does (`keyraft_service::authz`).
    for (label, policy, principal) in policy_fixtures() {
        group.bench_function(format!("policy-{label}"), |b| b.iter(|| black_box(evaluate(&policy, principal))));
    }
    group.bench_function("os-rng-nonce", |b| {
        b.iter(|| {
            let mut nonce = [0u8; 12];
            OsRng.fill_bytes(&mut nonce);
            black_box(nonce)
        })
    });
    group.finish();
}

/// (label, compiled key policy, caller): the default policy and the caller its root; a
/// five-statement policy (administrators, users with an encryption-context condition, a deny)
/// and a user it names.
fn policy_fixtures() -> Vec<(&'static str, keyraft_policy::Policy, &'static str)> {
    let kind = keyraft_policy::PolicyKind::Key;
    let default = keyraft_policy::Policy::parse(&keyraft_policy::default_key_policy(ACCOUNT), kind).expect("default");
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Sid":"root","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},
        {{"Sid":"admins","Effect":"Allow","Principal":{{"AWS":["arn:aws:iam::{ACCOUNT}:role/admin","arn:aws:iam::{ACCOUNT}:user/ops"]}},"Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion"],"Resource":"*"}},
        {{"Sid":"users","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/app"}},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*"],"Resource":"*","Condition":{{"StringEquals":{{"kms:EncryptionContext:tenant":"t-42"}},"ForAllValues:StringEquals":{{"kms:EncryptionContextKeys":["tenant","purpose"]}}}}}},
        {{"Sid":"grants","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/app"}},"Action":["kms:CreateGrant","kms:ListGrants","kms:RevokeGrant"],"Resource":"*","Condition":{{"Bool":{{"kms:GrantIsForAWSResource":"true"}}}}}},
        {{"Sid":"no other accounts","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{{"StringNotEquals":{{"kms:CallerAccount":"{ACCOUNT}"}}}}}}
        ]}}"#
    );
    let conditions = keyraft_policy::Policy::parse(&doc, kind).expect("policy");
    vec![("default", default, "root"), ("conditions", conditions, "user/app")]
}

/// One Encrypt's authorization as the service does it: the condition context, then the key
/// policy.
fn evaluate(policy: &keyraft_policy::Policy, who: &str) -> keyraft_policy::Evaluation {
    let principal = format!("arn:aws:iam::{ACCOUNT}:{who}");
    let mut c = keyraft_policy::Context::new();
    // As the service does: a policy without conditions never reads the context.
    for (k, v) in [("tenant", "t-42"), ("purpose", "backup")].into_iter().filter(|_| policy.has_conditions()) {
        c.insert(&format!("kms:EncryptionContext:{k}"), v);
        c.insert("kms:EncryptionContextKeys", k);
    }
    if policy.has_conditions() {
        c.insert("kms:EncryptionAlgorithm", ENCRYPTION_ALGORITHM);
        c.insert("aws:PrincipalArn", principal.as_str());
        c.insert("aws:PrincipalAccount", ACCOUNT);
        c.insert("kms:CallerAccount", ACCOUNT);
        c.insert("kms:KeySpec", "SYMMETRIC_DEFAULT");
        c.insert("kms:KeyUsage", "ENCRYPT_DECRYPT");
    }
    let resource = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}");
    policy.evaluate(&keyraft_policy::Request {
        principal: keyraft_policy::Principal { arn: &principal, account: ACCOUNT },
        action: "kms:Encrypt",
        resource: &resource,
        context: &c,
    })
}

/// Requests per second of [`Fixture::serve`] on one thread, over about `duration`.
fn ops_per_sec(fx: &Fixture, duration: Duration) -> f64 {
    const BATCH: u32 = 64;
    let warm_up = Instant::now();
    while warm_up.elapsed() < duration / 5 {
        black_box(fx.serve());
    }
    let start = Instant::now();
    let mut ops: u64 = 0;
    loop {
        for _ in 0..BATCH {
            black_box(fx.serve());
        }
        ops += u64::from(BATCH);
        let elapsed = start.elapsed();
        if elapsed >= duration {
            // Counts stay far below 2^52: the conversion is exact.
            #[allow(clippy::cast_precision_loss)]
            return ops as f64 / elapsed.as_secs_f64();
        }
    }
}

/// Whether this run is a measurement (`cargo bench`), not `--list` or a test run of the bench
/// (`cargo test --benches`, which does not pass `--bench`).
fn measuring() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--list" || a == "--test" || a == "--profile-time")
}

fn main() {
    let fixtures = [Fixture::new(32, "32"), Fixture::new(4096, "4k")];
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .nresamples(20_000)
        .configure_from_args();
    benches(&mut criterion, &fixtures);
    criterion.final_summary();

    if !measuring() || std::env::var("KEYRAFT_FLOOR_SUMMARY").is_ok_and(|v| v == "0") {
        return;
    }
    let secs = std::env::var("KEYRAFT_FLOOR_SECS").ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(1.0);
    let duration = Duration::from_secs_f64(secs.clamp(0.05, 600.0));
    for fx in &fixtures {
        println!("FLOOR encrypt-{} {:.0}", fx.label, ops_per_sec(fx, duration));
    }
    for (label, policy, who) in policy_fixtures() {
        assert!(evaluate(&policy, who).allow || evaluate(&policy, who).allow_account, "policy-{label} must allow");
        println!("FLOOR policy-{label} {:.0}", per_sec(duration, || evaluate(&policy, who)));
    }
}

/// Calls per second of `f` on one thread, over about `duration`.
fn per_sec<T>(duration: Duration, f: impl Fn() -> T) -> f64 {
    let start = Instant::now();
    let mut n: u64 = 0;
    while start.elapsed() < duration {
        for _ in 0..256 {
            black_box(f());
        }
        n += 256;
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = n as f64 / start.elapsed().as_secs_f64();
    rate
}
