//! The AWS SigV4 test suite (header signing), vendored in `tests/vectors/sigv4` (see its README
//! for provenance and for the cases that are skipped).
//!
//! For every case with a `context.json`:
//! * the canonical request, string to sign and signature recomputed from the signed request equal
//!   the expected files;
//! * `sign` applied to the unsigned request produces the expected signed request (cases with path
//!   normalisation; `sign` always normalises, as clients of non-S3 services do);
//! * `verify` accepts the signed request at the context's time, and refuses it with another
//!   secret, another body, another `Host` value, 6 minutes later or earlier, or another region or
//!   service. Cases signed *without* path normalisation over a path that normalisation changes
//!   are refused (`verify` normalises, as AWS services other than S3 do).
//!
//! `double-url-encode` and `double-encode-path` only check the canonical URI.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::PathBuf;

use axum::http::header::{AUTHORIZATION, HOST};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use keyraft_aws::sigv4::{self, Expected, SigV4Error, SignedRequest, SigningParams};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

fn case_dir(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/sigv4").join(case)
}

fn read(case: &str, file: &str) -> String {
    let path = case_dir(case).join(file);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An HTTP/1.1 request as written in the suite's `*.txt` files.
struct RawRequest {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl RawRequest {
    fn parse(text: &str) -> RawRequest {
        let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
        let mut lines = head.lines();
        let request_line = lines.next().expect("request line");
        let (method, rest) = request_line.split_once(' ').expect("method");
        // The target may contain spaces (get-space-unnormalized); the version is optional.
        let target = rest.rsplit_once(" HTTP/").map_or(rest, |(target, _)| target);
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut headers = HeaderMap::new();
        for line in lines.filter(|line| !line.is_empty()) {
            assert!(!line.starts_with([' ', '\t']), "folded header lines are not supported: {line:?}");
            let (name, value) = line.split_once(':').expect("header line");
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                // Like an HTTP server, drop the optional whitespace around the value.
                HeaderValue::from_str(value.trim_matches([' ', '\t'])).expect("header value"),
            );
        }
        RawRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn signed_request(&self) -> SignedRequest<'_> {
        SignedRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
        }
    }
}

/// `context.json`.
struct Context {
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
    region: String,
    service: String,
    timestamp: OffsetDateTime,
    normalize: bool,
    sign_body: bool,
    omit_session_token: bool,
}

impl Context {
    fn load(case: &str) -> Context {
        let json: serde_json::Value = serde_json::from_str(&read(case, "context.json")).expect("context.json");
        let text = |pointer: &str| json.pointer(pointer).and_then(serde_json::Value::as_str).map(str::to_owned);
        let flag = |name: &str| json.get(name).and_then(serde_json::Value::as_bool);
        Context {
            access_key_id: text("/credentials/access_key_id").expect("access_key_id"),
            secret_access_key: text("/credentials/secret_access_key").expect("secret"),
            token: text("/credentials/token"),
            region: text("/region").expect("region"),
            service: text("/service").expect("service"),
            timestamp: OffsetDateTime::parse(&text("/timestamp").expect("timestamp"), &Rfc3339)
                .expect("RFC 3339 timestamp"),
            normalize: flag("normalize").expect("normalize"),
            // The suite's default, as in aws-sigv4's harness.
            sign_body: flag("sign_body").unwrap_or(true),
            omit_session_token: flag("omit_session_token").unwrap_or(false),
        }
    }

    fn expected(&self, now: OffsetDateTime) -> Expected<'_> {
        Expected { region: &self.region, service: &self.service, now }
    }

    fn secrets(&self) -> HashMap<String, String> {
        HashMap::from([(self.access_key_id.clone(), self.secret_access_key.clone())])
    }
}

fn signed_headers_of(headers: &HeaderMap) -> String {
    let auth = headers[AUTHORIZATION].to_str().expect("ascii");
    let (_, rest) = auth.split_once("SignedHeaders=").expect("SignedHeaders");
    rest.split(',').next().expect("value").trim().to_owned()
}

fn header_set(headers: &HeaderMap) -> BTreeSet<(String, Vec<u8>)> {
    headers.iter().map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec())).collect()
}

fn assert_refused(result: Result<sigv4::Verified, SigV4Error>, message: &str, case: &str) {
    let err = result.expect_err(case);
    assert_eq!(err.aws_exception(), "InvalidSignatureException", "{case}");
    assert_eq!(err.http_status(), 400, "{case}");
    assert_eq!(err.to_string(), message, "{case}");
}

fn run_case(case: &str) {
    let ctx = Context::load(case);
    let signed = RawRequest::parse(&read(case, "header-signed-request.txt"));
    let req = signed.signed_request();
    let signed_headers = signed_headers_of(&signed.headers);

    // Canonical request, string to sign, signature.
    let creq = sigv4::canonical_request(&req, &signed_headers, ctx.normalize);
    assert_eq!(
        String::from_utf8(creq.clone()).expect("utf-8"),
        read(case, "header-canonical-request.txt"),
        "{case}: canonical request"
    );
    let amz_date = sigv4::format_amz_date(ctx.timestamp);
    let date = &amz_date[..8];
    let scope = sigv4::credential_scope(date, &ctx.region, &ctx.service);
    let sts = sigv4::string_to_sign(&amz_date, &scope, &creq);
    assert_eq!(sts, read(case, "header-string-to-sign.txt"), "{case}: string to sign");
    let key = sigv4::signing_key(&ctx.secret_access_key, date, &ctx.region, &ctx.service);
    assert_eq!(sigv4::signature(&key, &sts), read(case, "header-signature.txt"), "{case}: signature");

    // `sign` reproduces the signed request.
    if ctx.normalize {
        let unsigned = RawRequest::parse(&read(case, "request.txt"));
        let mut headers = unsigned.headers.clone();
        let token = ctx.token.as_deref().map(|t| HeaderValue::from_str(t).expect("token"));
        if let Some(token) = token.clone().filter(|_| !ctx.omit_session_token) {
            headers.insert("x-amz-security-token", token);
        }
        if ctx.sign_body {
            let hash = sigv4::sha256_hex(&unsigned.body);
            headers.insert(sigv4::X_AMZ_CONTENT_SHA256, HeaderValue::from_str(&hash).expect("hex"));
        }
        let authorization = sigv4::sign(
            &unsigned.method,
            &unsigned.path,
            &unsigned.query,
            &mut headers,
            &unsigned.body,
            &SigningParams {
                access_key_id: &ctx.access_key_id,
                secret_access_key: &ctx.secret_access_key,
                region: &ctx.region,
                service: &ctx.service,
                now: ctx.timestamp,
            },
        )
        .expect("sign");
        if let Some(token) = token.filter(|_| ctx.omit_session_token) {
            headers.insert("x-amz-security-token", token);
        }
        assert_eq!(authorization, signed.headers[AUTHORIZATION], "{case}: Authorization");
        assert_eq!(header_set(&headers), header_set(&signed.headers), "{case}: signed headers");
    }

    // `verify`.
    let secrets = ctx.secrets();
    let at = ctx.timestamp;
    let normalization_changes_path =
        sigv4::canonical_uri(&signed.path, true) != sigv4::canonical_uri(&signed.path, false);
    if !ctx.normalize && normalization_changes_path {
        assert_eq!(
            sigv4::verify(&req, &ctx.expected(at), &secrets),
            Err(SigV4Error::SignatureMismatch),
            "{case}: unnormalised signature over a path that normalises differently"
        );
        return;
    }
    let verified =
        sigv4::verify(&req, &ctx.expected(at), &secrets).unwrap_or_else(|e| panic!("{case}: refused: {e:?}"));
    assert_eq!(verified.access_key_id, ctx.access_key_id, "{case}");
    assert_eq!(verified.signed_at, at, "{case}");
    // Still accepted at the edges of the allowed clock skew.
    for skew in [Duration::minutes(5), Duration::minutes(-5)] {
        assert!(sigv4::verify(&req, &ctx.expected(at + skew), &secrets).is_ok(), "{case}: skew {skew}");
    }

    let mismatch = sigv4::SIGNATURE_MISMATCH_MESSAGE;

    // Another secret.
    let wrong_secret = HashMap::from([(ctx.access_key_id.clone(), format!("{}x", ctx.secret_access_key))]);
    assert_refused(sigv4::verify(&req, &ctx.expected(at), &wrong_secret), mismatch, case);

    // Another body (with `x-amz-content-sha256` it no longer matches the header first).
    let mut body = signed.body.clone();
    body.extend_from_slice(b"&tampered=1");
    let result = sigv4::verify(&SignedRequest { body: &body, ..req }, &ctx.expected(at), &secrets);
    let expected_error = if ctx.sign_body { SigV4Error::PayloadHashMismatch } else { SigV4Error::SignatureMismatch };
    assert_eq!(result.as_ref().err(), Some(&expected_error), "{case}: body");
    assert_refused(result, mismatch, case);

    // Another value of a signed header.
    let mut headers = signed.headers.clone();
    headers.insert(HOST, HeaderValue::from_static("attacker.example.com"));
    assert_refused(
        sigv4::verify(&SignedRequest { headers: &headers, ..req }, &ctx.expected(at), &secrets),
        mismatch,
        case,
    );

    // Six minutes later, and earlier.
    assert_refused(
        sigv4::verify(&req, &ctx.expected(at + Duration::minutes(6)), &secrets),
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z \
         (20150830T124200Z - 5 min.)",
        case,
    );
    assert_refused(
        sigv4::verify(&req, &ctx.expected(at - Duration::minutes(6)), &secrets),
        "Signature not yet current: 20150830T123600Z is still later than 20150830T123500Z \
         (20150830T123000Z + 5 min.)",
        case,
    );

    // Another region, another service.
    let other_region = Expected { region: "eu-west-1", ..ctx.expected(at) };
    assert_refused(
        sigv4::verify(&req, &other_region, &secrets),
        "Credential should be scoped to a valid region, not 'us-east-1'.",
        case,
    );
    let kms = Expected { service: "kms", ..ctx.expected(at) };
    assert_refused(sigv4::verify(&req, &kms, &secrets), "Credential should be scoped to correct service: 'kms'.", case);

    // An unknown access key.
    let err = sigv4::verify(&req, &ctx.expected(at), &HashMap::<String, String>::new()).expect_err("unknown key");
    assert_eq!(err.aws_exception(), "UnrecognizedClientException", "{case}");
}

/// Cases without `context.json`: only the canonical URI (line 2 of the canonical request).
fn run_uri_case(case: &str) {
    let unsigned = RawRequest::parse(&read(case, "request.txt"));
    let expected = read(case, "header-canonical-request.txt");
    let mut lines = expected.lines();
    assert_eq!(lines.next(), Some(unsigned.method.as_str()), "{case}");
    assert_eq!(Some(sigv4::canonical_uri(&unsigned.path, true).as_str()), lines.next(), "{case}: canonical URI");
    assert_eq!(Some(sigv4::canonical_query_string(&unsigned.query).as_str()), lines.next(), "{case}: canonical query");
}

macro_rules! vectors {
    ($runner:ident: $($test:ident => $case:literal,)*) => {
        $(
            #[test]
            fn $test() {
                $runner($case);
            }
        )*
    };
}

vectors! { run_case:
    get_header_key_duplicate => "get-header-key-duplicate",
    get_header_value_order => "get-header-value-order",
    get_header_value_trim => "get-header-value-trim",
    get_relative_normalized => "get-relative-normalized",
    get_relative_relative_normalized => "get-relative-relative-normalized",
    get_relative_relative_unnormalized => "get-relative-relative-unnormalized",
    get_relative_unnormalized => "get-relative-unnormalized",
    get_slash_dot_slash_normalized => "get-slash-dot-slash-normalized",
    get_slash_dot_slash_unnormalized => "get-slash-dot-slash-unnormalized",
    get_slash_normalized => "get-slash-normalized",
    get_slash_pointless_dot_normalized => "get-slash-pointless-dot-normalized",
    get_slash_pointless_dot_unnormalized => "get-slash-pointless-dot-unnormalized",
    get_slash_unnormalized => "get-slash-unnormalized",
    get_slashes_normalized => "get-slashes-normalized",
    get_slashes_unnormalized => "get-slashes-unnormalized",
    get_space_unnormalized => "get-space-unnormalized",
    get_unreserved => "get-unreserved",
    get_utf8 => "get-utf8",
    get_vanilla => "get-vanilla",
    get_vanilla_empty_query_key => "get-vanilla-empty-query-key",
    get_vanilla_query => "get-vanilla-query",
    get_vanilla_query_order_encoded => "get-vanilla-query-order-encoded",
    get_vanilla_query_order_key_case => "get-vanilla-query-order-key-case",
    get_vanilla_query_unreserved => "get-vanilla-query-unreserved",
    get_vanilla_utf8_query => "get-vanilla-utf8-query",
    get_vanilla_with_session_token => "get-vanilla-with-session-token",
    post_header_key_case => "post-header-key-case",
    post_header_key_sort => "post-header-key-sort",
    post_header_value_case => "post-header-value-case",
    post_sts_header_after => "post-sts-header-after",
    post_sts_header_before => "post-sts-header-before",
    post_vanilla => "post-vanilla",
    post_vanilla_empty_query_value => "post-vanilla-empty-query-value",
    post_vanilla_query => "post-vanilla-query",
    post_x_www_form_urlencoded => "post-x-www-form-urlencoded",
    post_x_www_form_urlencoded_parameters => "post-x-www-form-urlencoded-parameters",
}

vectors! { run_uri_case:
    double_encode_path => "double-encode-path",
    double_url_encode => "double-url-encode",
}

/// Every vendored case has a test above (36 full cases and 2 canonical-URI cases).
#[test]
fn every_vendored_case_is_tested() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/sigv4");
    let mut full = 0;
    let mut uri_only = 0;
    for entry in fs::read_dir(dir).expect("vectors") {
        let entry = entry.expect("entry");
        if !entry.file_type().expect("type").is_dir() {
            continue;
        }
        if entry.path().join("context.json").exists() {
            full += 1;
        } else {
            uri_only += 1;
        }
    }
    assert_eq!((full, uri_only), (36, 2));
}
