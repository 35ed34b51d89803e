//! The audit trail end to end: a workload of mixed operations through aws-sdk-kms against a
//! three-node region appears exactly once across the region's audit files, with the right event
//! names and error codes and never a plaintext or data key; `keyraft audit verify` passes on the
//! untouched files and names the first broken line after an edit, a deletion or a swap; a node
//! whose audit file cannot be written refuses requests (fail-closed).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::operation::RequestId;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use base64::Engine;
use keyraft_server::audit::{verify_file, Broken};
use keyraft_testkit::disk::count;
use keyraft_testkit::{sdk_client, Cluster};
use serde_json::Value;

const R: &str = "us-east-1";

/// What the test did and expects to find: request id → (eventName, errorCode).
type Expected = Vec<(String, &'static str, Option<String>)>;

fn expect_ok<T: RequestId>(out: &T, op: &'static str, expected: &mut Expected) {
    expected.push((out.request_id().expect("request id").to_owned(), op, None));
}

fn expect_err<E: ProvideErrorMetadata + std::fmt::Debug>(
    e: &aws_sdk_kms::error::SdkError<E, aws_sdk_kms::config::http::HttpResponse>,
    op: &'static str,
    expected: &mut Expected,
) {
    let id = e.request_id().unwrap_or_else(|| panic!("no request id: {e:?}")).to_owned();
    let code = e.code().unwrap_or_else(|| panic!("no error code: {e:?}")).to_owned();
    expected.push((id, op, Some(code)));
}

fn records(files: &[PathBuf]) -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).expect("read audit file");
        for line in text.lines() {
            out.push((f.clone(), serde_json::from_str(line).expect("a JSON record")));
        }
    }
    out
}

fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).expect("read").lines().map(|l| format!("{l}\n")).collect()
}

fn broken(path: &Path) -> Broken {
    verify_file(path).expect("readable").expect_err("tampering must be detected")
}

fn run_verify(files: &[&Path]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keyraft"))
        .arg("audit")
        .arg("verify")
        .args(files)
        .output()
        .expect("run keyraft audit verify");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_request_is_audited_once_verifiably_and_without_secrets() {
    let c = Cluster::ready(&[R]).await.expect("cluster");
    let leader = c.leader(R).expect("leader");
    let follower = (1..=3).find(|n| *n != leader).expect("a follower");
    let clients: Vec<_> = (1..=3).map(|n| c.client(R, n)).collect();
    let mut expected: Expected = Vec::new();
    let mut secrets: Vec<Vec<u8>> = Vec::new();

    // CreateKey through a follower: the write is forwarded, and its log index comes back.
    let created = c.client(R, follower).create_key().description("audited").send().await.expect("create");
    expect_ok(&created, "CreateKey", &mut expected);
    let meta = created.key_metadata().expect("metadata");
    let (key_id, key_arn) = (meta.key_id().to_owned(), meta.arn().expect("arn").to_owned());

    for i in 0..6usize {
        let client = &clients[i % 3];
        let plaintext: Vec<u8> = (0..48).map(|_| rand::random::<u8>()).collect();
        secrets.push(plaintext.clone());
        let enc = client
            .encrypt()
            .key_id(&key_id)
            .plaintext(Blob::new(plaintext.clone()))
            .encryption_context("purpose", "audit-test")
            .send()
            .await
            .expect("encrypt");
        expect_ok(&enc, "Encrypt", &mut expected);
        let blob = enc.ciphertext_blob().expect("ciphertext").clone();
        secrets.push(blob.as_ref().to_vec());
        let dec = clients[(i + 1) % 3]
            .decrypt()
            .ciphertext_blob(blob)
            .encryption_context("purpose", "audit-test")
            .send()
            .await
            .expect("decrypt");
        expect_ok(&dec, "Decrypt", &mut expected);
        assert_eq!(dec.plaintext().expect("plaintext").as_ref(), plaintext.as_slice());
        let dk = clients[(i + 2) % 3]
            .generate_data_key()
            .key_id(&key_arn)
            .key_spec(DataKeySpec::Aes256)
            .send()
            .await
            .expect("data key");
        expect_ok(&dk, "GenerateDataKey", &mut expected);
        secrets.push(dk.plaintext().expect("data key").as_ref().to_vec());
        secrets.push(dk.ciphertext_blob().expect("blob").as_ref().to_vec());
        let d = client.describe_key().key_id(&key_id).send().await.expect("describe");
        expect_ok(&d, "DescribeKey", &mut expected);
    }
    // A failing request.
    let missing = clients[1].describe_key().key_id("00000000-0000-0000-0000-000000000000").send().await;
    expect_err(&missing.expect_err("no such key"), "DescribeKey", &mut expected);
    let bad = clients[2].decrypt().ciphertext_blob(Blob::new(vec![7u8; 80])).send().await;
    expect_err(&bad.expect_err("not a ciphertext"), "Decrypt", &mut expected);
    // A bad signature: the right access key id, the wrong secret.
    let forger = sdk_client(&c.endpoint(R, 1), R, &c.info.access_key_id, "not-the-secret-access-key-0000000000000");
    let forged = forger.encrypt().key_id(&key_id).plaintext(Blob::new(&b"forged plaintext"[..])).send().await;
    let forged = forged.expect_err("a bad signature is refused");
    expect_err(&forged, "Encrypt", &mut expected);
    secrets.push(b"forged plaintext".to_vec());

    let files = c.info.regions[R].audit.clone();
    assert_eq!(files.len(), 3, "one audit file per node: {files:?}");
    let all = records(&files);
    let mut by_id: HashMap<&str, Vec<&Value>> = HashMap::new();
    for (_, r) in &all {
        by_id.entry(r["requestID"].as_str().expect("requestID")).or_default().push(r);
    }
    assert!(by_id.values().all(|v| v.len() == 1), "a request id recorded twice");
    for (id, op, code) in &expected {
        let found = by_id.get(id.as_str()).unwrap_or_else(|| panic!("{op} {id} is not in the audit trail"));
        assert_eq!(found.len(), 1, "{op} {id} recorded {} times", found.len());
        let r = found[0];
        assert_eq!(r["eventName"], *op, "{r}");
        assert_eq!(r["errorCode"].as_str(), code.as_deref(), "{r}");
        assert_eq!(r["eventSource"], "kms.amazonaws.com");
        assert_eq!(r["awsRegion"], R);
        assert_eq!(r["eventType"], "AwsApiCall");
        assert!(r["eventID"].as_str().is_some_and(|e| e.len() == 36), "{r}");
    }
    assert_eq!(all.len(), expected.len(), "records of requests the test did not make");

    // The shapes CloudTrail gives them.
    let rec = |op: &str| -> &Value {
        expected.iter().find(|(_, o, c)| *o == op && c.is_none()).map(|(id, ..)| by_id[id.as_str()][0]).expect(op)
    };
    let create = rec("CreateKey");
    assert_eq!(create["readOnly"], false);
    assert_eq!(create["userIdentity"]["type"], "Root");
    assert_eq!(create["userIdentity"]["accessKeyId"], c.info.access_key_id.as_str());
    assert_eq!(create["requestParameters"]["description"], "audited");
    assert_eq!(create["responseElements"]["keyMetadata"]["keyId"], key_id.as_str());
    assert_eq!(create["resources"][0]["ARN"], key_arn.as_str());
    assert_eq!(create["resources"][0]["type"], "AWS::KMS::Key");
    assert!(create["additionalEventData"]["raftLogIndex"].as_u64().is_some_and(|i| i > 0), "{create}");
    let encrypt = rec("Encrypt");
    assert_eq!(encrypt["readOnly"], true);
    assert_eq!(encrypt["responseElements"], Value::Null);
    assert_eq!(encrypt["requestParameters"]["encryptionContext"], serde_json::json!({"purpose": "audit-test"}));
    assert_eq!(encrypt["requestParameters"]["keyId"], key_id.as_str());
    assert_eq!(encrypt["resources"][0]["ARN"], key_arn.as_str());
    assert!(encrypt.get("additionalEventData").is_none(), "{encrypt}");
    assert_eq!(rec("GenerateDataKey")["requestParameters"]["keySpec"], "AES_256");

    // No plaintext, data key or ciphertext, raw or in base64, in any audit file; nor any secret
    // the service generated.
    let b64 = base64::engine::general_purpose::STANDARD;
    secrets.extend(c.entropy.secrets().iter().map(|s| s.to_vec()));
    for f in &files {
        let bytes = std::fs::read(f).expect("read");
        for s in &secrets {
            assert_eq!(count(&bytes, s), 0, "a secret in {}", f.display());
            assert_eq!(count(&bytes, b64.encode(s).as_bytes()), 0, "a secret in base64 in {}", f.display());
        }
    }

    // Verification: every file intact, through the library and the binary.
    let mut total = 0;
    for f in &files {
        total += verify_file(f).expect("readable").expect("intact").records;
    }
    assert_eq!(total as usize, all.len());
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let (ok, out) = run_verify(&paths);
    assert!(ok, "{out}");
    assert_eq!(out.lines().filter(|l| l.contains("intact")).count(), 3, "{out}");

    // Tampering with a copy of the busiest file.
    let busiest = files.iter().max_by_key(|f| lines_of(f).len()).expect("a file");
    let lines = lines_of(busiest);
    assert!(lines.len() >= 4, "{} records", lines.len());
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, lines: &[String]| -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, lines.concat()).expect("write");
        p
    };
    // (a) One edited field on line 3.
    let mut edited = lines.clone();
    let field = format!("\"awsRegion\":\"{R}\"");
    assert!(edited[2].contains(&field));
    edited[2] = edited[2].replacen(&field, "\"awsRegion\":\"eu-west-1\"", 1);
    let edited = write("edited.jsonl", &edited);
    let b = broken(&edited);
    assert_eq!((b.line, b.seq), (3, Some(3)), "{b}");
    // (b) Line 2 deleted.
    let mut deleted = lines.clone();
    deleted.remove(1);
    let deleted = write("deleted.jsonl", &deleted);
    let b = broken(&deleted);
    assert_eq!((b.line, b.seq), (2, Some(3)), "{b}");
    // (c) Lines 2 and 3 swapped.
    let mut swapped = lines.clone();
    swapped.swap(1, 2);
    let swapped = write("swapped.jsonl", &swapped);
    let b = broken(&swapped);
    assert_eq!((b.line, b.seq), (2, Some(3)), "{b}");
    // The binary: exit 1, naming the file and the line; the intact file still passes.
    let (ok, out) = run_verify(&[busiest.as_path(), edited.as_path()]);
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("{}: BROKEN at line 3 (seq 3)", edited.display())), "{out}");
    assert!(out.contains(&format!("{}: intact", busiest.display())), "{out}");

    // `keyraft audit tail -n 2`.
    let tail = std::process::Command::new(env!("CARGO_BIN_EXE_keyraft"))
        .args(["audit", "tail", "-n", "2"])
        .arg(busiest)
        .output()
        .expect("run keyraft audit tail");
    let text = String::from_utf8_lossy(&tail.stdout);
    assert!(tail.status.success() && text.lines().count() == 2, "{text}");
    c.shutdown().await;
}

fn unwritable_audit(cfg: &mut keyraft_server::NodeConfig) {
    (Cluster::test_timings())(cfg);
    // Every write(2) to /dev/full fails with ENOSPC.
    cfg.audit.path = Some(PathBuf::from("/dev/full"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fail_closed_refuses_requests_it_cannot_record() {
    let c = Cluster::ready_with(&[R], unwritable_audit).await.expect("cluster");
    for n in 1..=3 {
        let r = c.client(R, n).create_key().send().await;
        let e = r.expect_err("a request that cannot be recorded is refused");
        assert_eq!(e.code(), Some("KMSInternalException"), "{e:?}");
        assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(500));
    }
    c.shutdown().await;
}
