//! `keyraft bench` end to end, in process: two regions of three nodes, a dev.json for them, one
//! second each of Encrypt 32 B, Sign and mrk-decrypt (Decrypt in us-east-1 of ciphertexts made in
//! eu-west-1 with a multi-region key) from four clients, and the JSON, Markdown and PNG reports.

use clap::Parser;
use keyraft_server::bench::{self, BenchArgs};
use keyraft_testkit::Cluster;

const R: &str = "us-east-1";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bench_encrypt_32_against_a_region() {
    let c = Cluster::ready(&[R, "eu-west-1"]).await.expect("cluster");
    let out = tempfile::tempdir().expect("tempdir");
    let dev_json = out.path().join("dev.json");
    std::fs::write(&dev_json, serde_json::to_string(&c.info).expect("dev info json")).expect("write dev.json");
    assert_eq!(c.info.regions[R].endpoints[0], c.endpoint(R, 1));

    let (json, md, png) = (out.path().join("r.json"), out.path().join("r.md"), out.path().join("r.png"));
    let path = |p: &std::path::Path| p.to_str().expect("utf-8 path").to_owned();
    let args = BenchArgs::try_parse_from([
        "bench".to_owned(),
        "--dev-json".into(),
        path(&dev_json),
        "--region".into(),
        R.into(),
        "--op".into(),
        "encrypt-32,sign-ecc-p256,mrk-decrypt".into(),
        "--clients".into(),
        "4".into(),
        "--duration".into(),
        "1s".into(),
        "--warmup".into(),
        "200ms".into(),
        "--quiet".into(),
        "--json-out".into(),
        path(&json),
        "--md-out".into(),
        path(&md),
        "--png-out".into(),
        path(&png),
    ])
    .expect("arguments");
    let report = bench::run(args).await.expect("bench run");

    assert_eq!(report.runs.len(), 3);
    let run = &report.runs[0];
    assert_eq!(run.name, "encrypt-32");
    assert!(run.ops > 0, "no successful operation: {run:?}");
    assert_eq!(run.errors, 0, "errors: {:?}", run.errors_by_name);
    let lat = run.latency.as_ref().expect("latency");
    assert!(lat.p50_us > 0 && lat.p50_us <= lat.p99_us && lat.p99_us <= lat.max_us);
    assert!(!run.timeline_ops_per_sec.is_empty());
    let sign = &report.runs[1];
    assert_eq!(sign.name, "sign-ecc-p256");
    assert!(sign.ops > 0 && sign.errors == 0, "sign run: {sign:?}");
    let mrk = &report.runs[2];
    assert_eq!(mrk.name, "mrk-decrypt");
    assert!(mrk.skip_reason.is_none() && mrk.ops > 0 && mrk.errors == 0, "mrk-decrypt run: {mrk:?}");

    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).expect("json file")).expect("json");
    assert_eq!(j["runs"][0]["ops"].as_u64(), Some(run.ops));
    let m = std::fs::read_to_string(&md).expect("markdown file");
    assert!(m.contains("| encrypt-32 | "), "{m}");
    assert!(m.contains("| sign-ecc-p256 | "), "{m}");
    assert!(m.contains("| mrk-decrypt | ") && !m.contains("| mrk-decrypt | skipped"), "{m}");
    let p = std::fs::read(&png).expect("png file (needs fonts-dejavu-core)");
    assert!(p.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    c.shutdown().await;
}
