//! Bad input is harmless: raw HTTP requests (unsigned, wrongly signed, expired, malformed,
//! oversized, unknown operations, header garbage) get the AWS exception name and status, a request
//! id, and change nothing on any node. Then a bounded, deterministic fuzz of validly signed
//! requests: every answer is a well-formed AWS JSON answer and the region stays up.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_kms::primitives::{Blob, DateTime, DateTimeFormat};
use aws_sdk_kms::types::KeyState;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use keyraft_aws::sigv4;
use keyraft_core::{AliasName, AliasRecord, KeyId, KeyRecord};
use keyraft_testkit::Cluster;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{json, Value};

const R: &str = "us-east-1";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Every exception name a keyraft AWS endpoint may answer: the KMS model's error shapes plus
/// the protocol-level ones of AWS JSON 1.1 services.
const KNOWN_EXCEPTIONS: &[&str] = &[
    "AlreadyExistsException",
    "DependencyTimeoutException",
    "DisabledException",
    "DryRunOperationException",
    "IncorrectKeyException",
    "InvalidAliasNameException",
    "InvalidArnException",
    "InvalidCiphertextException",
    "InvalidGrantTokenException",
    "InvalidKeyUsageException",
    "InvalidMarkerException",
    "KMSInvalidStateException",
    "LimitExceededException",
    "MalformedPolicyDocumentException",
    "NotFoundException",
    "TagException",
    "UnsupportedOperationException",
    "SerializationException",
    "ValidationException",
    "UnknownOperationException",
    "RequestEntityTooLargeException",
    "MissingAuthenticationTokenException",
    "IncompleteSignatureException",
    "InvalidSignatureException",
    "UnrecognizedClientException",
];

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

/// `YYYYMMDD'T'HHMMSS'Z'` of a Unix time.
fn amz_date(unix: i64) -> String {
    DateTime::from_secs(unix).fmt(DateTimeFormat::DateTime).expect("format date").replace(['-', ':'], "")
}

/// How to sign a request.
#[derive(Clone)]
struct Signer {
    access_key_id: String,
    secret: String,
    region: String,
    /// Seconds added to the current time for `x-amz-date`.
    skew: i64,
}

/// One node's AWS endpoint, spoken to in raw HTTP.
struct Raw {
    http: reqwest::Client,
    url: String,
    host: String,
    signer: Signer,
}

/// An answer, with what every answer must carry checked by [`Raw::send`].
#[derive(Debug)]
struct Answer {
    status: u16,
    request_id: String,
    body: Value,
}

impl Answer {
    fn exception(&self) -> &str {
        self.body.get("__type").and_then(Value::as_str).unwrap_or("")
    }

    fn message(&self) -> &str {
        self.body.get("message").and_then(Value::as_str).unwrap_or("")
    }
}

impl Raw {
    fn new(c: &Cluster, node: u64) -> Self {
        let url = c.endpoint(R, node);
        let host = url.trim_start_matches("http://").to_owned();
        let signer = Signer {
            access_key_id: c.info.access_key_id.clone(),
            secret: c.info.secret_access_key.clone(),
            region: R.to_owned(),
            skew: 0,
        };
        Raw { http: reqwest::Client::new(), url, host, signer }
    }

    /// Host, content type and (if any) `X-Amz-Target: TrentService.<op>`.
    fn headers(&self, target: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_str(&self.host).expect("host"));
        h.insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
        if let Some(t) = target {
            h.insert("x-amz-target", HeaderValue::from_str(t).expect("target"));
        }
        h
    }

    fn sign_with(&self, s: &Signer, h: &mut HeaderMap, body: &[u8]) {
        let now = sigv4::parse_amz_date(&amz_date(unix_now() + s.skew)).expect("amz date");
        let params = sigv4::SigningParams {
            access_key_id: &s.access_key_id,
            secret_access_key: &s.secret,
            region: &s.region,
            service: "kms",
            now,
        };
        sigv4::sign("POST", "/", "", h, body, &params).expect("sign");
    }

    /// Headers for `TrentService.<op>`, signed over `body` with the node's own credentials.
    fn signed(&self, op: &str, body: &[u8]) -> HeaderMap {
        let mut h = self.headers(Some(&format!("TrentService.{op}")));
        self.sign_with(&self.signer, &mut h, body);
        h
    }

    /// Sends a request and checks what every answer must have: a request id, the JSON 1.1
    /// content type and a JSON object body; errors a 4xx status with `__type` and `message`.
    async fn send_method(&self, method: reqwest::Method, headers: HeaderMap, body: Vec<u8>) -> Answer {
        let resp = self
            .http
            .request(method, &self.url)
            .headers(headers)
            .body(body)
            .send()
            .await
            .expect("the server dropped the connection");
        let status = resp.status().as_u16();
        let request_id = resp
            .headers()
            .get("x-amzn-requestid")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no x-amzn-RequestId on a {status} answer"));
        assert!(!request_id.is_empty(), "empty request id");
        let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert_eq!(content_type.as_deref(), Some(CONTENT_TYPE), "content type of a {status} answer");
        let bytes = resp.bytes().await.expect("read the answer");
        let body: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("a {status} answer is not JSON ({e}): {:?}", String::from_utf8_lossy(&bytes)));
        assert!(body.is_object(), "a {status} answer is not a JSON object: {body}");
        if status != 200 {
            assert!((400..500).contains(&status), "status {status}: {body}");
            let t = body.get("__type").and_then(Value::as_str).unwrap_or_else(|| panic!("no __type: {body}"));
            assert!(KNOWN_EXCEPTIONS.contains(&t), "unknown exception {t}: {body}");
            assert!(body.get("message").is_some_and(Value::is_string), "no message: {body}");
        }
        Answer { status, request_id, body }
    }

    async fn send(&self, headers: HeaderMap, body: Vec<u8>) -> Answer {
        self.send_method(reqwest::Method::POST, headers, body).await
    }

    /// A correctly signed call.
    async fn call(&self, op: &str, body: &Value) -> Answer {
        let bytes = body.to_string().into_bytes();
        let h = self.signed(op, &bytes);
        self.send(h, bytes).await
    }
}

type Snapshot = (BTreeMap<KeyId, KeyRecord>, BTreeMap<AliasName, AliasRecord>);

fn snapshot(c: &Cluster, node: u64) -> Snapshot {
    c.node(R, node).region_node.state().read(|s| (s.keys.clone(), s.aliases.clone()))
}

/// The keys and aliases of all three nodes, once they agree.
async fn converged(c: &Cluster) -> Snapshot {
    for _ in 0..400 {
        let s1 = snapshot(c, 1);
        if s1 == snapshot(c, 2) && s1 == snapshot(c, 3) {
            return s1;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the nodes' states do not converge");
}

/// One bad request and the answer it must get.
struct Case {
    name: &'static str,
    method: reqwest::Method,
    headers: HeaderMap,
    body: Vec<u8>,
    exception: &'static str,
    status: u16,
}

fn case(name: &'static str, headers: HeaderMap, body: impl Into<Vec<u8>>, exception: &'static str) -> Case {
    Case { name, method: reqwest::Method::POST, headers, body: body.into(), exception, status: 400 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_requests_get_aws_errors_and_change_nothing() {
    let c = Cluster::ready(&[R]).await.expect("cluster");
    let sdk = c.client(R, 2);
    let key = sdk.create_key().description("keep").send().await.expect("create key");
    let key = key.key_metadata().expect("metadata").key_id().to_owned();
    let other = sdk.create_key().description("other").send().await.expect("create key");
    let other = other.key_metadata().expect("metadata").key_id().to_owned();
    sdk.create_alias().alias_name("alias/keep").target_key_id(&key).send().await.expect("alias");
    let raw = Raw::new(&c, 1);

    // The raw path works: a correctly signed call succeeds, so the refusals below are about
    // what was changed, not about the test's signer.
    let ok = raw.call("DescribeKey", &json!({ "KeyId": key })).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(ok.body["KeyMetadata"]["KeyId"], json!(key));
    // The wire shapes: GenerateDataKeyWithoutPlaintext carries no Plaintext member.
    let gdk = raw.call("GenerateDataKeyWithoutPlaintext", &json!({ "KeyId": key, "KeySpec": "AES_256" })).await;
    assert_eq!(gdk.status, 200, "{:?}", gdk.body);
    let members: BTreeSet<&str> = gdk.body.as_object().expect("object").keys().map(String::as_str).collect();
    assert!(
        members.contains("CiphertextBlob") && members.contains("KeyId") && !members.contains("Plaintext"),
        "{members:?}"
    );
    // Encryption context members in another textual order still match.
    let enc = raw
        .call(
            "Encrypt",
            &json!({ "KeyId": key, "Plaintext": B64.encode("ctx"), "EncryptionContext": {"a": "1", "b": "2"} }),
        )
        .await;
    assert_eq!(enc.status, 200, "{:?}", enc.body);
    let ct = enc.body["CiphertextBlob"].as_str().expect("blob").to_owned();
    let reordered = format!(r#"{{"EncryptionContext":{{"b":"2","a":"1"}},"CiphertextBlob":"{ct}"}}"#).into_bytes();
    let dec = raw.send(raw.signed("Decrypt", &reordered), reordered).await;
    assert_eq!(dec.status, 200, "{:?}", dec.body);
    assert_eq!(dec.body["Plaintext"], json!(B64.encode("ctx")));

    let before = converged(&c).await;
    let disable = json!({ "KeyId": key }).to_string().into_bytes();
    let create_alias = json!({ "AliasName": "alias/new", "TargetKeyId": key }).to_string().into_bytes();

    let mut cases = Vec::new();
    // --- authentication ---
    cases.push(case(
        "no Authorization",
        raw.headers(Some("TrentService.CreateKey")),
        "{}",
        "MissingAuthenticationTokenException",
    ));
    {
        let mut h = raw.headers(Some("TrentService.DisableKey"));
        raw.sign_with(
            &Signer { access_key_id: "AKIDUNKNOWN0000000000".into(), ..raw.signer.clone() },
            &mut h,
            &disable,
        );
        cases.push(case("unknown access key", h, disable.clone(), "UnrecognizedClientException"));
    }
    {
        let mut h = raw.headers(Some("TrentService.DisableKey"));
        raw.sign_with(&Signer { secret: "wrong-secret".into(), ..raw.signer.clone() }, &mut h, &disable);
        cases.push(case("wrong secret", h, disable.clone(), "InvalidSignatureException"));
        let mut h = raw.headers(Some("TrentService.CreateAlias"));
        raw.sign_with(&Signer { secret: "wrong-secret".into(), ..raw.signer.clone() }, &mut h, &create_alias);
        cases.push(case("CreateAlias, wrong secret", h, create_alias.clone(), "InvalidSignatureException"));
        let h = raw.headers(Some("TrentService.CreateAlias"));
        cases.push(case("CreateAlias, unsigned", h, create_alias.clone(), "MissingAuthenticationTokenException"));
    }
    {
        let mut h = raw.headers(Some("TrentService.DisableKey"));
        raw.sign_with(&Signer { region: "eu-west-1".into(), ..raw.signer.clone() }, &mut h, &disable);
        cases.push(case("signed for eu-west-1", h, disable.clone(), "InvalidSignatureException"));
    }
    {
        let mut h = raw.headers(Some("TrentService.DisableKey"));
        raw.sign_with(&Signer { skew: -600, ..raw.signer.clone() }, &mut h, &disable);
        cases.push(case("signed 10 minutes ago", h, disable.clone(), "InvalidSignatureException"));
    }
    {
        let mut h = raw.headers(Some("TrentService.DisableKey"));
        raw.sign_with(&Signer { skew: 600, ..raw.signer.clone() }, &mut h, &disable);
        cases.push(case("signed 10 minutes ahead", h, disable.clone(), "InvalidSignatureException"));
    }
    {
        // Signed for one key, sent for another.
        let h = raw.signed("DisableKey", &disable);
        cases.push(case(
            "body changed after signing",
            h,
            json!({ "KeyId": other }).to_string(),
            "InvalidSignatureException",
        ));
    }
    {
        let mut h = raw.headers(Some("TrentService.DisableKey"));
        h.insert("x-amz-content-sha256", HeaderValue::from_str(&sigv4::sha256_hex(&disable)).expect("hash"));
        raw.sign_with(&raw.signer, &mut h, &disable);
        cases.push(case(
            "body changed, payload hash signed",
            h,
            json!({ "KeyId": other }).to_string(),
            "InvalidSignatureException",
        ));
    }
    {
        let mut h = raw.headers(Some("TrentService.DisableKey"));
        h.insert("x-amz-content-sha256", HeaderValue::from_static("UNSIGNED-PAYLOAD"));
        raw.sign_with(&raw.signer, &mut h, &disable);
        cases.push(case("UNSIGNED-PAYLOAD", h, disable.clone(), "InvalidSignatureException"));
    }
    {
        // Signed as a harmless DescribeKey, sent as DisableKey.
        let mut h = raw.signed("DescribeKey", &disable);
        h.insert("x-amz-target", HeaderValue::from_static("TrentService.DisableKey"));
        cases.push(case("target changed after signing", h, disable.clone(), "InvalidSignatureException"));
    }
    {
        let mut h = raw.headers(Some("TrentService.DisableKey"));
        h.insert(
            "authorization",
            HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kms/aws4_request"),
        );
        h.insert("x-amz-date", HeaderValue::from_str(&amz_date(unix_now())).expect("date"));
        cases.push(case("Authorization without Signature", h, disable.clone(), "IncompleteSignatureException"));
    }
    {
        let mut h = raw.signed("DisableKey", &disable);
        h.insert("authorization", HeaderValue::from_static("Bearer abc"));
        cases.push(case("another auth scheme", h, disable.clone(), "IncompleteSignatureException"));
    }
    // --- non-UTF-8 header garbage ---
    {
        let mut h = raw.signed("DisableKey", &disable);
        h.insert("authorization", HeaderValue::from_bytes(b"AWS4-HMAC-SHA256 Credential=\xff\xfe\x80").expect("bytes"));
        cases.push(case("non-UTF-8 Authorization", h, disable.clone(), "IncompleteSignatureException"));
    }
    {
        let mut h = raw.signed("DisableKey", &disable);
        h.insert("x-amz-date", HeaderValue::from_bytes(b"2024\xff0101T000000Z").expect("bytes"));
        cases.push(case("non-UTF-8 x-amz-date", h, disable.clone(), "IncompleteSignatureException"));
    }
    {
        let mut h = raw.headers(None);
        h.insert("x-amz-target", HeaderValue::from_bytes(b"TrentService.Disable\xffKey").expect("bytes"));
        raw.sign_with(&raw.signer, &mut h, &disable);
        cases.push(case("non-UTF-8 X-Amz-Target (signed)", h, disable.clone(), "UnknownOperationException"));
    }
    // --- operation ---
    {
        let mut h = raw.headers(None);
        raw.sign_with(&raw.signer, &mut h, &disable);
        cases.push(case("no X-Amz-Target", h, disable.clone(), "UnknownOperationException"));
    }
    for (name, target) in [
        ("unknown operation", "TrentService.DisableKeyNow"),
        ("operation in lower case", "TrentService.disablekey"),
        ("another service prefix", "KMS.DisableKey"),
        ("empty operation", "TrentService."),
    ] {
        let mut h = raw.headers(Some(target));
        raw.sign_with(&raw.signer, &mut h, &disable);
        cases.push(case(name, h, disable.clone(), "UnknownOperationException"));
    }
    {
        let mut h = raw.headers(Some("TrentService.DisableKey"));
        let params = sigv4::SigningParams {
            access_key_id: &raw.signer.access_key_id,
            secret_access_key: &raw.signer.secret,
            region: R,
            service: "kms",
            now: sigv4::parse_amz_date(&amz_date(unix_now())).expect("date"),
        };
        sigv4::sign("GET", "/", "", &mut h, &disable, &params).expect("sign");
        cases.push(Case {
            method: reqwest::Method::GET,
            ..case("GET", h, disable.clone(), "UnknownOperationException")
        });
    }
    let sign_body =
        json!({ "KeyId": key, "Message": B64.encode("m"), "SigningAlgorithm": "RSASSA_PSS_SHA_256" }).to_string();
    // A symmetric key cannot sign (AWS: InvalidKeyUsageException).
    cases.push(case("Sign", raw.signed("Sign", sign_body.as_bytes()), sign_body, "InvalidKeyUsageException"));
    // A grant may only name operations the key supports (AWS: ValidationException).
    let grant = json!({ "KeyId": key, "GranteePrincipal": "arn:aws:iam::111122223333:root", "Operations": ["Sign"] })
        .to_string();
    cases.push(case("CreateGrant", raw.signed("CreateGrant", grant.as_bytes()), grant, "ValidationException"));
    // --- body ---
    let bodies: Vec<(&'static str, &'static str, Vec<u8>, &'static str)> = vec![
        ("malformed JSON", "CreateKey", br#"{"Description": "x""#.to_vec(), "SerializationException"),
        ("trailing garbage", "DisableKey", format!(r#"{{"KeyId":"{key}"}} x"#).into_bytes(), "SerializationException"),
        ("JSON array body", "DisableKey", format!(r#"[{{"KeyId":"{key}"}}]"#).into_bytes(), "SerializationException"),
        ("JSON string body", "CreateKey", br#""CreateKey""#.to_vec(), "SerializationException"),
        ("JSON null body", "CreateKey", b"null".to_vec(), "SerializationException"),
        ("non-UTF-8 body", "CreateKey", b"{\"Description\": \"\xff\xfe\"}".to_vec(), "SerializationException"),
        (
            "deeply nested JSON",
            "CreateKey",
            format!(r#"{{"Tags":{}{}}}"#, "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
            "SerializationException",
        ),
        ("KeyId a number", "DisableKey", br#"{"KeyId": 5}"#.to_vec(), "SerializationException"),
        ("KeyId an object", "DisableKey", br#"{"KeyId": {"id": "x"}}"#.to_vec(), "SerializationException"),
        (
            "AliasName a list",
            "CreateAlias",
            format!(r#"{{"AliasName":["alias/new"],"TargetKeyId":"{key}"}}"#).into_bytes(),
            "SerializationException",
        ),
        ("Description a number", "CreateKey", br#"{"Description": 5}"#.to_vec(), "SerializationException"),
        ("MultiRegion a string", "CreateKey", br#"{"MultiRegion": "true"}"#.to_vec(), "SerializationException"),
        ("Tags a map", "CreateKey", br#"{"Tags": {"a": "b"}}"#.to_vec(), "SerializationException"),
        ("a tag a string", "CreateKey", br#"{"Tags": ["a"]}"#.to_vec(), "SerializationException"),
        (
            "TagKey a number",
            "CreateKey",
            br#"{"Tags": [{"TagKey": 5, "TagValue": "v"}]}"#.to_vec(),
            "SerializationException",
        ),
        ("TagValue missing", "CreateKey", br#"{"Tags": [{"TagKey": "k"}]}"#.to_vec(), "ValidationException"),
        (
            "PendingWindowInDays a string",
            "ScheduleKeyDeletion",
            format!(r#"{{"KeyId":"{key}","PendingWindowInDays":"7"}}"#).into_bytes(),
            "SerializationException",
        ),
        (
            "PendingWindowInDays a fraction",
            "ScheduleKeyDeletion",
            format!(r#"{{"KeyId":"{key}","PendingWindowInDays":7.5}}"#).into_bytes(),
            "SerializationException",
        ),
        (
            "PendingWindowInDays 3",
            "ScheduleKeyDeletion",
            format!(r#"{{"KeyId":"{key}","PendingWindowInDays":3}}"#).into_bytes(),
            "ValidationException",
        ),
        (
            "PendingWindowInDays huge",
            "ScheduleKeyDeletion",
            format!(r#"{{"KeyId":"{key}","PendingWindowInDays":18446744073709551616}}"#).into_bytes(),
            "SerializationException",
        ),
        (
            "EncryptionContext value a number",
            "Encrypt",
            format!(r#"{{"KeyId":"{key}","Plaintext":"eA==","EncryptionContext":{{"a":1}}}}"#).into_bytes(),
            "SerializationException",
        ),
        (
            "bad base64 Plaintext",
            "Encrypt",
            format!(r#"{{"KeyId":"{key}","Plaintext":"!!not base64!!"}}"#).into_bytes(),
            "SerializationException",
        ),
        ("bad base64 CiphertextBlob", "Decrypt", br#"{"CiphertextBlob":"%%%"}"#.to_vec(), "SerializationException"),
        ("missing KeyId", "DisableKey", b"{}".to_vec(), "ValidationException"),
        ("empty body", "DisableKey", Vec::new(), "ValidationException"),
        ("null KeyId", "DisableKey", br#"{"KeyId": null}"#.to_vec(), "ValidationException"),
        ("empty KeyId", "DisableKey", br#"{"KeyId": ""}"#.to_vec(), "ValidationException"),
        (
            "2049-character KeyId",
            "DisableKey",
            format!(r#"{{"KeyId":"{}"}}"#, "a".repeat(2049)).into_bytes(),
            "ValidationException",
        ),
        ("missing TargetKeyId", "CreateAlias", br#"{"AliasName": "alias/new"}"#.to_vec(), "ValidationException"),
        (
            "missing AliasName",
            "CreateAlias",
            format!(r#"{{"TargetKeyId":"{key}"}}"#).into_bytes(),
            "ValidationException",
        ),
        (
            "reserved alias",
            "CreateAlias",
            format!(r#"{{"AliasName":"alias/aws/new","TargetKeyId":"{key}"}}"#).into_bytes(),
            "InvalidAliasNameException",
        ),
        ("missing Plaintext", "Encrypt", format!(r#"{{"KeyId":"{key}"}}"#).into_bytes(), "ValidationException"),
        ("unknown KeySpec", "CreateKey", br#"{"KeySpec": "RSA_9999"}"#.to_vec(), "ValidationException"),
        (
            "8193-character Description",
            "CreateKey",
            format!(r#"{{"Description":"{}"}}"#, "d".repeat(8193)).into_bytes(),
            "ValidationException",
        ),
        ("aws: tag", "CreateKey", br#"{"Tags": [{"TagKey": "aws:x", "TagValue": "v"}]}"#.to_vec(), "TagException"),
        ("malformed policy", "CreateKey", br#"{"Policy": "{"}"#.to_vec(), "MalformedPolicyDocumentException"),
    ];
    {
        let dry = json!({ "KeyId": key, "Plaintext": B64.encode("x"), "DryRun": true }).to_string();
        let h = raw.signed("Encrypt", dry.as_bytes());
        cases.push(Case { status: 412, ..case("Encrypt DryRun", h, dry, "DryRunOperationException") });
        let dry = json!({ "KeyId": key, "Plaintext": B64.encode("x"), "DryRun": "yes" }).to_string();
        let h = raw.signed("Encrypt", dry.as_bytes());
        cases.push(case("DryRun a string", h, dry, "SerializationException"));
    }
    for (name, op, body, exception) in bodies {
        let h = raw.signed(op, &body);
        cases.push(case(name, h, body, exception));
    }
    {
        // Over 256 KiB: refused before anything else is looked at.
        let big = format!(r#"{{"Description":"{}"}}"#, "d".repeat(300 * 1024)).into_bytes();
        let h = raw.signed("CreateKey", &big);
        cases.push(Case { status: 413, ..case("oversized body", h, big, "RequestEntityTooLargeException") });
    }
    {
        let big = format!(r#"{{"KeyId":"{key}","x":"{}"}}"#, "d".repeat(2 * 1024 * 1024)).into_bytes();
        cases.push(Case {
            status: 413,
            ..case(
                "oversized unsigned body",
                raw.headers(Some("TrentService.DisableKey")),
                big,
                "RequestEntityTooLargeException",
            )
        });
    }

    let mut request_ids = BTreeSet::new();
    let mut failures = Vec::new();
    for Case { name, method, headers, body, exception, status } in cases {
        let answer = raw.send_method(method, headers, body).await;
        if answer.exception() != exception || answer.status != status {
            failures.push(format!(
                "{name}: got {} {} ({}), want {status} {exception}",
                answer.status,
                answer.exception(),
                answer.message()
            ));
        }
        if name == "signed 10 minutes ago" && !answer.message().starts_with("Signature expired") {
            failures.push(format!("{name}: message {:?}", answer.message()));
        }
        if !request_ids.insert(answer.request_id.clone()) {
            failures.push(format!("{name}: request id {} reused", answer.request_id));
        }
        // Nothing changed, on any node.
        tokio::time::sleep(Duration::from_millis(5)).await;
        for node in 1..=3 {
            if snapshot(&c, node) != before {
                failures.push(format!("{name}: the state of node {node} changed"));
            }
        }
    }
    assert!(failures.is_empty(), "bad requests:\n{}", failures.join("\n"));

    // And through the SDK, after the raft log had time to carry anything that slipped through.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(converged(&c).await, before, "a bad request changed the region's state");
    for node in 1..=3 {
        let client = c.client(R, node);
        for k in [&key, &other] {
            let md = client.describe_key().key_id(k).send().await.expect("describe");
            let md = md.key_metadata().expect("metadata");
            assert_eq!(md.key_state(), Some(&KeyState::Enabled), "{k} on node {node}");
            assert!(md.description() == Some("keep") || md.description() == Some("other"));
        }
        assert_eq!(
            client
                .describe_key()
                .key_id("alias/keep")
                .send()
                .await
                .expect("alias")
                .key_metadata()
                .map(|m| m.key_id().to_owned()),
            Some(key.clone())
        );
        let r = client.describe_key().key_id("alias/new").send().await;
        assert!(r.is_err(), "alias/new exists on node {node}");
        let listed = client.list_keys().send().await.expect("list keys");
        assert_eq!(listed.keys().len(), 2, "keys were created on node {node}");
    }
    let dec = sdk
        .decrypt()
        .ciphertext_blob(Blob::new(B64.decode(&ct).expect("b64")))
        .encryption_context("a", "1")
        .encryption_context("b", "2")
        .send()
        .await;
    assert!(dec.is_ok(), "{dec:?}");
    c.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Fuzz
// ---------------------------------------------------------------------------------------------

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const OPERATIONS: &[&str] = &[
    "CreateKey",
    "DescribeKey",
    "ListKeys",
    "UpdateKeyDescription",
    "EnableKey",
    "DisableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "CreateAlias",
    "UpdateAlias",
    "DeleteAlias",
    "ListAliases",
    "TagResource",
    "UntagResource",
    "ListResourceTags",
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
    "GetKeyPolicy",
    "PutKeyPolicy",
    "ListKeyPolicies",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "GetKeyRotationStatus",
    "Sign",
    "CreateGrant",
    "ReplicateKey",
    "NoSuchOperation",
];

const MEMBERS: &[&str] = &[
    "KeyId",
    "Description",
    "Plaintext",
    "CiphertextBlob",
    "EncryptionContext",
    "SourceEncryptionContext",
    "DestinationEncryptionContext",
    "SourceKeyId",
    "DestinationKeyId",
    "KeySpec",
    "NumberOfBytes",
    "Limit",
    "Marker",
    "AliasName",
    "TargetKeyId",
    "Tags",
    "TagKeys",
    "Policy",
    "PolicyName",
    "PendingWindowInDays",
    "RotationPeriodInDays",
    "MultiRegion",
    "KeyUsage",
    "Origin",
    "CustomerMasterKeySpec",
    "EncryptionAlgorithm",
    "DryRun",
    "GrantTokens",
    "Recipient",
    "BypassPolicyLockoutSafetyCheck",
    "CustomKeyStoreId",
];

/// Values worth trying in any member.
fn random_value(rng: &mut Rng, seeds: &[String], depth: u32) -> Value {
    match rng.below(if depth > 2 { 6 } else { 9 }) {
        0 => Value::Null,
        1 => json!(rng.chance(50)),
        2 => json!(*rng.pick(&[
            0i64,
            -1,
            1,
            6,
            7,
            30,
            31,
            89,
            90,
            365,
            1000,
            1001,
            1024,
            1025,
            2560,
            2561,
            i64::MIN,
            i64::MAX
        ])),
        3 => json!(*rng.pick(&[0.5f64, -0.0, 1e300, 7.0, u64::MAX as f64])),
        4 => Value::String(rng.pick(seeds).clone()),
        5 => {
            let n = *rng.pick(&[0usize, 1, 3, 16, 255, 1024, 4097]);
            let b = rng.bytes(n);
            Value::String(if rng.chance(50) { B64.encode(&b) } else { String::from_utf8_lossy(&b).into_owned() })
        }
        6 => Value::Array((0..rng.below(4)).map(|_| random_value(rng, seeds, depth + 1)).collect()),
        7 => {
            let mut m = serde_json::Map::new();
            for _ in 0..rng.below(4) {
                let k = if rng.chance(50) {
                    rng.pick(&["TagKey", "TagValue", "a", ""]).to_string()
                } else {
                    rng.pick(MEMBERS).to_string()
                };
                m.insert(k, random_value(rng, seeds, depth + 1));
            }
            Value::Object(m)
        }
        _ => json!([{ "TagKey": rng.pick(seeds).clone(), "TagValue": rng.pick(seeds).clone() }]),
    }
}

/// A valid body for `op`, to mutate.
fn seed_body(op: &str, key: &str, spare: &str, ct: &str) -> Value {
    match op {
        "CreateKey" => json!({ "Description": "fuzz", "Tags": [{"TagKey": "a", "TagValue": "b"}] }),
        "ListKeys" => json!({ "Limit": 2 }),
        "UpdateKeyDescription" => json!({ "KeyId": key, "Description": "fuzzed" }),
        "ScheduleKeyDeletion" => json!({ "KeyId": spare, "PendingWindowInDays": 7 }),
        "CancelKeyDeletion" | "EnableKey" | "DisableKey" => json!({ "KeyId": spare }),
        "CreateAlias" | "UpdateAlias" => json!({ "AliasName": "alias/fuzz", "TargetKeyId": key }),
        "DeleteAlias" => json!({ "AliasName": "alias/fuzz" }),
        "ListAliases" => json!({ "KeyId": key, "Limit": 1 }),
        "TagResource" => json!({ "KeyId": key, "Tags": [{"TagKey": "t", "TagValue": "v"}] }),
        "UntagResource" => json!({ "KeyId": key, "TagKeys": ["t"] }),
        "Encrypt" => json!({ "KeyId": key, "Plaintext": B64.encode("fuzz"), "EncryptionContext": {"a": "b"} }),
        "Decrypt" => json!({ "CiphertextBlob": ct, "EncryptionContext": {"a": "b"} }),
        "ReEncrypt" => json!({ "CiphertextBlob": ct, "SourceEncryptionContext": {"a": "b"}, "DestinationKeyId": key }),
        "GenerateDataKey" => json!({ "KeyId": key, "KeySpec": "AES_256" }),
        "GenerateDataKeyWithoutPlaintext" => json!({ "KeyId": key, "NumberOfBytes": 32 }),
        "GenerateRandom" => json!({ "NumberOfBytes": 32 }),
        "PutKeyPolicy" => json!({
            "KeyId": key,
            "PolicyName": "default",
            "Policy": keyraft_policy::default_key_policy(keyraft_server::dev::DEV_ACCOUNT),
        }),
        "GetKeyPolicy" => json!({ "KeyId": key, "PolicyName": "default" }),
        "EnableKeyRotation" => json!({ "KeyId": key, "RotationPeriodInDays": 90 }),
        _ => json!({ "KeyId": key }),
    }
}

fn mutate_json(rng: &mut Rng, mut body: Value, seeds: &[String]) -> Value {
    for _ in 0..=rng.below(3) {
        let Value::Object(m) = &mut body else { break };
        let names: Vec<String> = m.keys().cloned().collect();
        match rng.below(10) {
            0..=2 if !names.is_empty() => {
                m.remove(rng.pick(&names));
            }
            3..=5 if !names.is_empty() => {
                let name = rng.pick(&names).clone();
                m.insert(name, random_value(rng, seeds, 0));
            }
            0..=7 => {
                m.insert(rng.pick(MEMBERS).to_string(), random_value(rng, seeds, 0));
            }
            8 => body = json!([body]),
            _ => body = random_value(rng, seeds, 0),
        }
    }
    body
}

fn mutate_bytes(rng: &mut Rng, mut b: Vec<u8>) -> Vec<u8> {
    for _ in 0..=rng.below(4) {
        let len = b.len();
        match rng.below(6) {
            0 if len > 0 => {
                let i = rng.below(len);
                b[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(len + 1);
                let c = *rng.pick(b"{}[]\",:\\0123456789eE.-+ \x00\xff\xc3truefalsenull");
                b.insert(i, c);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                let j = (i + 1 + rng.below(8)).min(len);
                b.drain(i..j);
            }
            3 if len > 0 => b.truncate(rng.below(len)),
            4 if len > 0 => {
                let i = rng.below(len);
                let j = (i + 1 + rng.below(16)).min(len);
                let dup: Vec<u8> = b[i..j].to_vec();
                b.splice(i..i, dup);
            }
            _ => {
                let n = rng.below(32);
                b.extend(rng.bytes(n));
            }
        }
    }
    b
}

/// The members a successful answer of `op` must (and must not) have.
fn check_success_shape(op: &str, answer: &Value, request: &[u8]) {
    let (required, absent): (&[&str], &[&str]) = match op {
        "CreateKey" | "DescribeKey" => (&["KeyMetadata"], &[]),
        "Encrypt" => (&["CiphertextBlob", "KeyId", "EncryptionAlgorithm"], &["Plaintext"]),
        "Decrypt" => (&["Plaintext", "KeyId", "EncryptionAlgorithm"], &[]),
        "ReEncrypt" => (&["CiphertextBlob", "KeyId", "SourceKeyId"], &["Plaintext"]),
        "GenerateDataKey" => (&["CiphertextBlob", "Plaintext", "KeyId"], &[]),
        "GenerateDataKeyWithoutPlaintext" => (&["CiphertextBlob", "KeyId"], &["Plaintext"]),
        "GenerateRandom" => (&["Plaintext"], &[]),
        "ListKeys" => (&["Keys", "Truncated"], &[]),
        "ListAliases" => (&["Aliases", "Truncated"], &[]),
        "ListResourceTags" => (&["Tags", "Truncated"], &[]),
        "ListKeyPolicies" => (&["PolicyNames", "Truncated"], &[]),
        "GetKeyPolicy" => (&["Policy"], &[]),
        "GetKeyRotationStatus" => (&["KeyRotationEnabled"], &[]),
        "ScheduleKeyDeletion" => (&["KeyId", "DeletionDate", "KeyState", "PendingWindowInDays"], &[]),
        "CancelKeyDeletion" => (&["KeyId"], &[]),
        "CreateGrant" => (&["GrantToken", "GrantId"], &[]),
        "Sign" | "ReplicateKey" | "NoSuchOperation" => {
            panic!("{op} succeeded: {:?}", String::from_utf8_lossy(request))
        }
        _ => (&[], &[]),
    };
    for m in required {
        assert!(answer.get(m).is_some_and(|v| !v.is_null()), "{op} answered without {m}: {answer}");
    }
    for m in absent {
        assert!(answer.get(m).is_none(), "{op} answered with {m}: {answer}");
    }
    if let Some(md) = answer.get("KeyMetadata") {
        for m in ["KeyId", "Arn", "KeyState", "CreationDate", "Enabled"] {
            assert!(md.get(m).is_some(), "{op}: KeyMetadata without {m}: {md}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fuzzed_requests_get_well_formed_answers() {
    const REQUESTS: usize = 2_000;
    let c = Cluster::ready(&[R]).await.expect("cluster");
    let sdk = c.client(R, 1);
    let key = sdk.create_key().description("fuzz").send().await.expect("key");
    let key = key.key_metadata().expect("metadata").key_id().to_owned();
    let spare = sdk.create_key().description("spare").send().await.expect("key");
    let spare = spare.key_metadata().expect("metadata").key_id().to_owned();
    let enc = sdk
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new("fuzz"))
        .encryption_context("a", "b")
        .send()
        .await
        .expect("encrypt");
    let ct = B64.encode(enc.ciphertext_blob().expect("blob").as_ref());
    let seeds: Vec<String> = vec![
        key.clone(),
        spare.clone(),
        format!("arn:aws:kms:{R}:111122223333:key/{key}"),
        format!("arn:aws:kms:eu-west-1:111122223333:key/{key}"),
        "alias/fuzz".into(),
        "alias/aws/fuzz".into(),
        format!("arn:aws:kms:{R}:111122223333:alias/fuzz"),
        "mrk-00000000000000000000000000000000".into(),
        "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
        ct.clone(),
        B64.encode("x"),
        "AES_256".into(),
        "SYMMETRIC_DEFAULT".into(),
        "RSA_2048".into(),
        "default".into(),
        "{\"Statement\":[]}".into(),
        String::new(),
        "x".repeat(2049),
        "é\u{0}\u{ffff}".into(),
    ];
    let raws = [Raw::new(&c, 1), Raw::new(&c, 2), Raw::new(&c, 3)];

    let mut rng = Rng(0x6b65_7972_6166_7421);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let started = std::time::Instant::now();
    for i in 0..REQUESTS {
        let raw = &raws[i % 3];
        let op = *rng.pick(OPERATIONS);
        let seed = seed_body(op, &key, &spare, &ct);
        let body = match rng.below(10) {
            0..=5 => mutate_json(&mut rng, seed, &seeds).to_string().into_bytes(),
            6..=7 => mutate_bytes(&mut rng, seed.to_string().into_bytes()),
            8 => {
                let n = rng.below(300);
                rng.bytes(n)
            }
            _ => seed.to_string().into_bytes(),
        };
        let headers = raw.signed(op, &body);
        let answer = raw.send(headers, body.clone()).await;
        let label = if answer.status == 200 { format!("{op} 200") } else { answer.exception().to_owned() };
        *seen.entry(label).or_default() += 1;
        if answer.status == 200 {
            check_success_shape(op, &answer.body, &body);
        }
    }
    let elapsed = started.elapsed();
    eprintln!("fuzz: {REQUESTS} requests in {elapsed:?}: {seen:#?}");
    assert!(seen.keys().any(|k| k.ends_with(" 200")), "no request succeeded: the fuzz is not reaching the operations");
    assert!(seen.contains_key("SerializationException") && seen.contains_key("ValidationException"), "{seen:?}");

    // The region is up and consistent.
    let after = converged(&c).await;
    for node in 1..=3 {
        let listed = c.client(R, node).list_keys().limit(1000).send().await.expect("list keys after the fuzz");
        assert_eq!(listed.keys().len(), after.0.len(), "node {node}");
    }
    // A fresh key works end to end through every node.
    let fresh = sdk.create_key().send().await.expect("create after the fuzz");
    let fresh = fresh.key_metadata().expect("metadata").key_id().to_owned();
    let enc = c.client(R, 2).encrypt().key_id(&fresh).plaintext(Blob::new("after")).send().await.expect("encrypt");
    for node in 1..=3 {
        let dec = c
            .client(R, node)
            .decrypt()
            .ciphertext_blob(enc.ciphertext_blob().expect("blob").clone())
            .send()
            .await
            .expect("decrypt after the fuzz");
        assert_eq!(dec.plaintext().map(|p| p.as_ref()), Some(&b"after"[..]));
    }
    c.shutdown().await;
}
