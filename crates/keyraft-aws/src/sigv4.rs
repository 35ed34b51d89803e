//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`) verification and signing.
//!
//! This module is pure: no I/O, no clock (the current time is a parameter), no global state.
//! Every parsing step returns an error instead of panicking, whatever bytes a client sends.
//!
//! # What is verified, in order
//!
//! The order is the one observed on AWS endpoints, so a request that is wrong in several ways
//! gets the answer AWS would give:
//!
//! 1. `Authorization` header present (else `MissingAuthenticationTokenException`); presigned
//!    query-string authentication (`X-Amz-Algorithm=...`) is not supported.
//! 2. Algorithm is `AWS4-HMAC-SHA256`; the header parses as `key=value` pairs; `Credential`,
//!    `Signature`, `SignedHeaders` and an `X-Amz-Date` (or `Date`) header are all present
//!    (else `IncompleteSignatureException`).
//! 3. `host` (or `:authority`) is among the signed headers (else `InvalidSignatureException`).
//! 4. The date is in ISO-8601 basic format `YYYYMMDD'T'HHMMSS'Z'` (else
//!    `IncompleteSignatureException`).
//! 5. The request time is within [`MAX_CLOCK_SKEW`] of `now`, in either direction (else
//!    `InvalidSignatureException`, "Signature expired" / "Signature not yet current").
//! 6. The credential has five `/`-separated parts (else `IncompleteSignatureException`) and its
//!    scope names the serving region, the expected service, `aws4_request` and the date of the
//!    request time (else `InvalidSignatureException`).
//! 7. The access key id is known (else `UnrecognizedClientException`).
//! 8. `x-amz-content-sha256`, when sent, equals the SHA-256 of the body actually received. KMS
//!    always requires a signed payload, so `UNSIGNED-PAYLOAD` (and the streaming variants) are
//!    rejected like any other mismatch (`InvalidSignatureException`).
//! 9. The signature recomputed over the canonical request matches, compared in constant time
//!    (else `InvalidSignatureException`).
//!
//! # Canonicalisation
//!
//! Canonicalisation follows the SigV4 specification for services other than S3, as implemented
//! by botocore (boto3, aws CLI) and `aws-sigv4` (aws-sdk-kms): the raw path is normalised
//! (dot segments removed, empty segments collapsed) and then URI-encoded again, so `%` becomes
//! `%25` ("double encoding"); query parameters are decoded, re-encoded per RFC 3986 and sorted by
//! name then value; signed header values are trimmed with runs of spaces collapsed and repeated
//! headers joined with `,`; the payload hash is always the SHA-256 of the body received, so a
//! body altered in transit fails the signature.
//!
//! The module is tested against the AWS SigV4 test suite vendored in
//! `tests/vectors/sigv4` (see its README for provenance and for the cases that are skipped).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use axum::http::header::{InvalidHeaderValue, AUTHORIZATION, DATE, HOST};
use axum::http::{HeaderMap, HeaderValue};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};
use zeroize::Zeroizing;

/// The only signing algorithm accepted: `AWS4-HMAC-SHA256`.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The last element of every SigV4 credential scope.
pub const SCOPE_TERMINATOR: &str = "aws4_request";

/// How far the request time may be from the server's `now`, in either direction (AWS KMS: 5 min).
pub const MAX_CLOCK_SKEW: time::Duration = time::Duration::minutes(5);

/// Header carrying the request time in ISO-8601 basic format.
pub const X_AMZ_DATE: &str = "x-amz-date";

/// Header carrying the hex SHA-256 of the payload (optional for KMS).
pub const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";

/// Query parameter that marks presigned (query-string) authentication.
pub const X_AMZ_ALGORITHM_PARAM: &str = "X-Amz-Algorithm";

/// Message AWS returns when the recomputed signature differs from the one sent.
pub const SIGNATURE_MISMATCH_MESSAGE: &str = "The request signature we calculated does not match \
the signature you provided. Check your AWS Secret Access Key and signing method. Consult the \
service documentation for details.";

/// Headers [`sign`] never signs (the same list botocore uses, plus `authorization`): they are
/// commonly added or rewritten by HTTP stacks and proxies after signing.
const UNSIGNED_HEADERS: [&str; 5] = ["authorization", "expect", "transfer-encoding", "user-agent", "x-amzn-trace-id"];

type HmacSha256 = Hmac<Sha256>;

/// A request as received by the HTTP layer, borrowed for verification.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// HTTP method, as received (`POST` for every KMS call).
    pub method: &'a str,
    /// Raw request path, exactly as received (still percent-encoded), e.g. `/`.
    pub path: &'a str,
    /// Raw query string without the leading `?`; empty when there is none.
    pub query: &'a str,
    /// All request headers. They must include `Host`: HTTP/2 requests carry the authority in
    /// the `:authority` pseudo-header instead, so for them insert a `Host` header holding the
    /// URI authority (`uri.authority()`) before verifying, as the signer used that value.
    pub headers: &'a HeaderMap,
    /// The complete request body.
    pub body: &'a [u8],
}

/// What the server expects of a request.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The region this server serves, e.g. `us-east-1`.
    pub region: &'a str,
    /// The signing name of the service, `kms`.
    pub service: &'a str,
    /// The server's current time.
    pub now: OffsetDateTime,
}

/// Looks up the secret access key of an access key id.
///
/// Implemented here for `HashMap<String, String>` and `BTreeMap<String, String>` (access key id
/// → secret); the server implements it for its identity store.
pub trait SecretLookup {
    /// The secret access key of `access_key_id`, or `None` if the key is unknown (or disabled).
    fn secret(&self, access_key_id: &str) -> Option<&str>;
}

impl<H: BuildHasher> SecretLookup for HashMap<String, String, H> {
    fn secret(&self, access_key_id: &str) -> Option<&str> {
        self.get(access_key_id).map(String::as_str)
    }
}

impl SecretLookup for BTreeMap<String, String> {
    fn secret(&self, access_key_id: &str) -> Option<&str> {
        self.get(access_key_id).map(String::as_str)
    }
}

/// A request whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The access key id that signed the request.
    pub access_key_id: String,
    /// The request time the client signed (`X-Amz-Date`, or `Date`).
    pub signed_at: OffsetDateTime,
}

/// Why a request was refused. `Display` is the message AWS KMS sends; [`aws_exception`]
/// (the `__type` of the JSON error body) and [`http_status`] complete the response.
///
/// Several variants share one AWS exception; they are kept apart so that logs can tell them
/// apart.
///
/// [`aws_exception`]: SigV4Error::aws_exception
/// [`http_status`]: SigV4Error::http_status
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// No `Authorization` header (and no presigned query parameters).
    #[error("Missing Authentication Token")]
    MissingAuthenticationToken,

    /// Both header and query-string authentication were used.
    #[error("Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.")]
    BothQueryAndHeaderAuth,

    /// Presigned (query-string) authentication, which this service does not accept.
    #[error(
        "Query-string authentication (presigned URL) is not supported; sign the request with an \
         'Authorization' header."
    )]
    QueryAuthNotSupported,

    /// More than one `Authorization` header.
    #[error("Request must contain exactly one 'Authorization' header.")]
    MultipleAuthorizationHeaders,

    /// The `Authorization` header holds bytes other than visible ASCII, space and tab.
    #[error("Authorization header contains characters that are not visible ASCII.")]
    UnreadableAuthorization,

    /// The algorithm is not `AWS4-HMAC-SHA256`.
    #[error("Unsupported AWS 'algorithm': '{algorithm}'.")]
    UnsupportedAlgorithm {
        /// The algorithm the client named.
        algorithm: String,
    },

    /// A component of the `Authorization` header is not `key=value`.
    #[error("'{pair}' not a valid key=value pair (missing equal-sign) in Authorization header: '{header}'.")]
    MalformedAuthorizationPair {
        /// The offending component.
        pair: String,
        /// The whole header.
        header: String,
    },

    /// `Credential`, `SignedHeaders` or `Signature` appears more than once.
    #[error("Authorization header has more than one '{name}' parameter: '{header}'.")]
    DuplicateAuthorizationParameter {
        /// The repeated parameter name.
        name: String,
        /// The whole header.
        header: String,
    },

    /// Some of `Credential`, `Signature`, `SignedHeaders` and the date header are missing.
    #[error("{message}")]
    MissingAuthorizationComponents {
        /// AWS's composite message, one sentence per missing element, then `Authorization=...`.
        message: String,
    },

    /// `host` is not among the signed headers.
    #[error("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")]
    HostNotSigned,

    /// The date header is not `YYYYMMDD'T'HHMMSS'Z'`.
    #[error("Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601")]
    MalformedDate {
        /// The value received.
        value: String,
    },

    /// The request time is more than [`MAX_CLOCK_SKEW`] before `now`.
    #[error("Signature expired: {signed} is now earlier than {earliest} ({now} - 5 min.)")]
    SignatureExpired {
        /// Request time, `YYYYMMDD'T'HHMMSS'Z'`.
        signed: String,
        /// Earliest time accepted.
        earliest: String,
        /// Server time.
        now: String,
    },

    /// The request time is more than [`MAX_CLOCK_SKEW`] after `now`.
    #[error("Signature not yet current: {signed} is still later than {latest} ({now} + 5 min.)")]
    SignatureNotYetCurrent {
        /// Request time, `YYYYMMDD'T'HHMMSS'Z'`.
        signed: String,
        /// Latest time accepted.
        latest: String,
        /// Server time.
        now: String,
    },

    /// The credential is not `keyid/date/region/service/aws4_request`.
    #[error(
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
    )]
    MalformedCredential {
        /// The credential received.
        credential: String,
    },

    /// Wrong region, service, terminator or date in the credential scope.
    #[error("{message}")]
    InvalidCredentialScope {
        /// AWS's sentences, one per wrong element, e.g. "Credential should be scoped to a valid
        /// region, not 'eu-west-1'."
        message: String,
    },

    /// The access key id is unknown.
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,

    /// `x-amz-content-sha256` differs from the SHA-256 of the body received (this includes
    /// `UNSIGNED-PAYLOAD`, which KMS does not accept).
    #[error("{}", SIGNATURE_MISMATCH_MESSAGE)]
    PayloadHashMismatch,

    /// The recomputed signature differs from the one sent.
    #[error("{}", SIGNATURE_MISMATCH_MESSAGE)]
    SignatureMismatch,
}

impl SigV4Error {
    /// The AWS exception name, i.e. the `__type` of the JSON 1.1 error body.
    pub fn aws_exception(&self) -> &'static str {
        match self {
            SigV4Error::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            SigV4Error::QueryAuthNotSupported
            | SigV4Error::MultipleAuthorizationHeaders
            | SigV4Error::UnreadableAuthorization
            | SigV4Error::UnsupportedAlgorithm { .. }
            | SigV4Error::MalformedAuthorizationPair { .. }
            | SigV4Error::DuplicateAuthorizationParameter { .. }
            | SigV4Error::MissingAuthorizationComponents { .. }
            | SigV4Error::MalformedDate { .. }
            | SigV4Error::MalformedCredential { .. } => "IncompleteSignatureException",
            SigV4Error::UnrecognizedClient => "UnrecognizedClientException",
            SigV4Error::BothQueryAndHeaderAuth
            | SigV4Error::HostNotSigned
            | SigV4Error::SignatureExpired { .. }
            | SigV4Error::SignatureNotYetCurrent { .. }
            | SigV4Error::InvalidCredentialScope { .. }
            | SigV4Error::PayloadHashMismatch
            | SigV4Error::SignatureMismatch => "InvalidSignatureException",
        }
    }

    /// The HTTP status. AWS JSON 1.1 services such as KMS answer every authentication failure
    /// with `400 Bad Request`.
    pub fn http_status(&self) -> u16 {
        400
    }
}

/// Errors of [`sign`].
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The headers have no `Host`; SigV4 requires it to be signed.
    #[error("the request has no Host header to sign")]
    MissingHost,
    /// The access key id, region or service contains bytes a header value cannot hold.
    #[error("the Authorization header value would be invalid: {0}")]
    InvalidHeaderValue(#[from] InvalidHeaderValue),
}

/// Parameters of [`sign`].
#[derive(Debug, Clone, Copy)]
pub struct SigningParams<'a> {
    /// Access key id.
    pub access_key_id: &'a str,
    /// Secret access key.
    pub secret_access_key: &'a str,
    /// Region of the credential scope.
    pub region: &'a str,
    /// Service of the credential scope (`kms`).
    pub service: &'a str,
    /// Request time.
    pub now: OffsetDateTime,
}

/// Verifies the SigV4 `Authorization` header of `req`. See the module documentation for the
/// checks, their order and the errors.
pub fn verify<L>(req: &SignedRequest<'_>, expected: &Expected<'_>, secrets: &L) -> Result<Verified, SigV4Error>
where
    L: SecretLookup + ?Sized,
{
    let query_auth = query_has_param(req.query, X_AMZ_ALGORITHM_PARAM);
    let mut auth_values = req.headers.get_all(AUTHORIZATION).iter();
    let auth = match auth_values.next() {
        None if query_auth => return Err(SigV4Error::QueryAuthNotSupported),
        None => return Err(SigV4Error::MissingAuthenticationToken),
        Some(_) if query_auth => return Err(SigV4Error::BothQueryAndHeaderAuth),
        Some(value) => value,
    };
    if auth_values.next().is_some() {
        return Err(SigV4Error::MultipleAuthorizationHeaders);
    }
    let header = auth.to_str().map_err(|_| SigV4Error::UnreadableAuthorization)?.trim();
    if header.is_empty() {
        return Err(SigV4Error::MissingAuthenticationToken);
    }
    let auth = parse_authorization(header)?;

    let date_header = req.headers.get(X_AMZ_DATE).or_else(|| req.headers.get(DATE));
    let (credential, signed_headers, sent_signature, date_header) = required_components(&auth, date_header, header)?;

    if !signed_headers.split(';').any(|name| name.eq_ignore_ascii_case("host") || name == ":authority") {
        return Err(SigV4Error::HostNotSigned);
    }

    let malformed_date =
        || SigV4Error::MalformedDate { value: String::from_utf8_lossy(date_header.as_bytes()).into_owned() };
    let amz_date = date_header.to_str().map_err(|_| malformed_date())?;
    let signed_at = parse_amz_date(amz_date).ok_or_else(malformed_date)?;
    check_clock_skew(signed_at, expected.now)?;

    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, scope_date, scope_region, scope_service, scope_terminator] = parts[..] else {
        return Err(SigV4Error::MalformedCredential { credential: credential.to_owned() });
    };
    check_scope([scope_date, scope_region, scope_service, scope_terminator], expected, amz_date)?;

    let secret = secrets.secret(access_key_id).ok_or(SigV4Error::UnrecognizedClient)?;

    let payload_hash = sha256_hex(req.body);
    if req.headers.get_all(X_AMZ_CONTENT_SHA256).iter().any(|value| value.as_bytes() != payload_hash.as_bytes()) {
        return Err(SigV4Error::PayloadHashMismatch);
    }

    let creq = canonical_request_with_payload_hash(req, signed_headers, true, &payload_hash);
    let scope = credential_scope(scope_date, scope_region, scope_service);
    let sts = string_to_sign(amz_date, &scope, &creq);
    let key = signing_key(secret, scope_date, scope_region, scope_service);
    let computed = signature(&key, &sts);
    if bool::from(computed.as_bytes().ct_eq(sent_signature.as_bytes())) {
        Ok(Verified { access_key_id: access_key_id.to_owned(), signed_at })
    } else {
        Err(SigV4Error::SignatureMismatch)
    }
}

/// Signs a request in place: removes any `Authorization`, sets `x-amz-date` to `params.now`,
/// signs every header present (except `authorization`, `expect`, `transfer-encoding`,
/// `user-agent` and `x-amzn-trace-id`), and adds `Authorization`. The headers must already hold
/// `Host` (and `x-amz-security-token` or `x-amz-content-sha256`, if wanted: they are signed like
/// any other header). Returns the `Authorization` value.
pub fn sign(
    method: &str,
    path: &str,
    query: &str,
    headers: &mut HeaderMap,
    body: &[u8],
    params: &SigningParams<'_>,
) -> Result<String, SignError> {
    if !headers.contains_key(HOST) {
        return Err(SignError::MissingHost);
    }
    let amz_date = format_amz_date(params.now);
    headers.remove(AUTHORIZATION);
    headers.insert(X_AMZ_DATE, HeaderValue::from_str(&amz_date)?);

    let mut names: Vec<&str> =
        headers.keys().map(|name| name.as_str()).filter(|name| !UNSIGNED_HEADERS.contains(name)).collect();
    names.sort_unstable();
    names.dedup();
    let signed_headers = names.join(";");

    let date = amz_date.get(..8).unwrap_or_default();
    let req = SignedRequest { method, path, query, headers, body };
    let creq = canonical_request(&req, &signed_headers, true);
    let scope = credential_scope(date, params.region, params.service);
    let sts = string_to_sign(&amz_date, &scope, &creq);
    let key = signing_key(params.secret_access_key, date, params.region, params.service);
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={}",
        params.access_key_id,
        signature(&key, &sts)
    );
    headers.insert(AUTHORIZATION, HeaderValue::from_str(&authorization)?);
    Ok(authorization)
}

/// The canonical request of `req`: method, canonical URI, canonical query string, canonical
/// headers, signed headers and the hex SHA-256 of the body, joined by `\n`.
///
/// `signed_headers` is the `SignedHeaders` value (`;`-separated, lowercase, sorted by the
/// client); the header lines are emitted in that order. `normalize_path` selects path
/// normalisation ([`canonical_uri`]); [`verify`] and [`sign`] always normalise, as AWS services
/// other than S3 do. Bytes, not a `String`: header values need not be UTF-8.
pub fn canonical_request(req: &SignedRequest<'_>, signed_headers: &str, normalize_path: bool) -> Vec<u8> {
    canonical_request_with_payload_hash(req, signed_headers, normalize_path, &sha256_hex(req.body))
}

/// [`canonical_request`] with the body's hex SHA-256 already computed (so [`verify`] hashes the
/// body once).
pub fn canonical_request_with_payload_hash(
    req: &SignedRequest<'_>,
    signed_headers: &str,
    normalize_path: bool,
    payload_hash: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + req.path.len() + req.query.len());
    out.extend_from_slice(req.method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri(req.path, normalize_path).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query_string(req.query).as_bytes());
    out.push(b'\n');
    for name in signed_headers.split(';') {
        let name = name.to_ascii_lowercase();
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let mut first = true;
        for value in req.headers.get_all(name.as_str()) {
            if !first {
                out.push(b',');
            }
            first = false;
            push_header_value(&mut out, value.as_bytes());
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed_headers.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    out
}

/// Appends a header value with leading and trailing spaces/tabs removed and each run of spaces
/// collapsed into one.
fn push_header_value(out: &mut Vec<u8>, value: &[u8]) {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !is_ows(b)).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !is_ows(b)).map_or(start, |i| i + 1);
    let mut previous_space = false;
    for &b in value.get(start..end).unwrap_or_default() {
        if b == b' ' {
            if previous_space {
                continue;
            }
            previous_space = true;
        } else {
            previous_space = false;
        }
        out.push(b);
    }
}

/// The canonical URI of a raw (still percent-encoded) request path.
///
/// With `normalize`, dot segments are removed and empty segments collapsed (RFC 3986 §5.2.4, as
/// AWS services other than S3 require; a trailing `/` is kept). The result is then URI-encoded
/// byte by byte, keeping only unreserved characters and `/`, so an already encoded `%3D` becomes
/// `%253D`: AWS's "double encoding" for non-S3 services. An empty path is `/`.
pub fn canonical_uri(path: &str, normalize: bool) -> String {
    let path: Cow<'_, str> = if path.starts_with('/') { Cow::Borrowed(path) } else { Cow::Owned(format!("/{path}")) };
    if normalize {
        uri_encode(normalize_path(&path).as_bytes(), true)
    } else {
        uri_encode(path.as_bytes(), true)
    }
}

fn normalize_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    out.push('/');
    out.push_str(&segments.join("/"));
    let trailing_slash = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    if trailing_slash && !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// The canonical query string of a raw query (without `?`): each `name=value` pair is
/// percent-decoded (`+` read as a space), re-encoded per RFC 3986 (uppercase hex, only
/// unreserved characters left as is), and the pairs sorted by encoded name, then encoded value.
/// A parameter without `=` gets an empty value; empty pairs are dropped.
pub fn canonical_query_string(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (uri_encode(&percent_decode(name), false), uri_encode(&percent_decode(value), false))
        })
        .collect();
    pairs.sort_unstable();
    let mut out = String::with_capacity(query.len() + 8);
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

fn query_has_param(query: &str, wanted: &str) -> bool {
    query.split('&').any(|pair| {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        percent_decode(name) == wanted.as_bytes()
    })
}

/// The SigV4 credential scope: `date/region/service/aws4_request` (`date` is `YYYYMMDD`).
pub fn credential_scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/{SCOPE_TERMINATOR}")
}

/// The string to sign: the algorithm, the request time (`YYYYMMDD'T'HHMMSS'Z'`), the credential
/// scope and the hex SHA-256 of the canonical request, joined by `\n`.
pub fn string_to_sign(amz_date: &str, credential_scope: &str, canonical_request: &[u8]) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{credential_scope}\n{}", sha256_hex(canonical_request))
}

/// The signing key: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
/// "aws4_request")`. Intermediate keys are zeroed after use.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Zeroizing<[u8; 32]> {
    let mut k_secret = Zeroizing::new(Vec::with_capacity(4 + secret.len()));
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret.as_bytes());
    let k_date = Zeroizing::new(hmac_sha256(&k_secret, date.as_bytes()));
    let k_region = Zeroizing::new(hmac_sha256(k_date.as_slice(), region.as_bytes()));
    let k_service = Zeroizing::new(hmac_sha256(k_region.as_slice(), service.as_bytes()));
    Zeroizing::new(hmac_sha256(k_service.as_slice(), SCOPE_TERMINATOR.as_bytes()))
}

/// The signature: lowercase hex of `HMAC(signing_key, string_to_sign)`.
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac_sha256(signing_key, string_to_sign.as_bytes()))
}

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length: this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Formats a time as SigV4 does, in ISO-8601 basic format: `YYYYMMDD'T'HHMMSS'Z'` (UTC).
pub fn format_amz_date(t: OffsetDateTime) -> String {
    let t = t.checked_to_offset(UtcOffset::UTC).unwrap_or(t);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses `YYYYMMDD'T'HHMMSS'Z'` (UTC); `None` for anything else, including impossible dates.
pub fn parse_amz_date(value: &str) -> Option<OffsetDateTime> {
    let b = value.as_bytes();
    if b.len() != 16 || b.get(8) != Some(&b'T') || b.get(15) != Some(&b'Z') {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<u32> {
        b.get(from..to)?.iter().try_fold(0u32, |acc, &d| d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0')))
    };
    let year = i32::try_from(number(0, 4)?).ok()?;
    let month = Month::try_from(u8::try_from(number(4, 6)?).ok()?).ok()?;
    let day = u8::try_from(number(6, 8)?).ok()?;
    let hour = u8::try_from(number(9, 11)?).ok()?;
    let minute = u8::try_from(number(11, 13)?).ok()?;
    let second = u8::try_from(number(13, 15)?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

struct AuthorizationParts<'h> {
    credential: Option<&'h str>,
    signed_headers: Option<&'h str>,
    signature: Option<&'h str>,
}

/// Parses `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`. Components may be
/// separated by commas and/or whitespace; unknown `key=value` components are ignored.
fn parse_authorization(header: &str) -> Result<AuthorizationParts<'_>, SigV4Error> {
    let (algorithm, rest) = header.split_once(|c: char| c.is_ascii_whitespace()).unwrap_or((header, ""));
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm { algorithm: algorithm.to_owned() });
    }
    let mut parts = AuthorizationParts { credential: None, signed_headers: None, signature: None };
    for component in rest.split(|c: char| c == ',' || c.is_ascii_whitespace()).filter(|component| !component.is_empty())
    {
        let Some((name, value)) = component.split_once('=') else {
            return Err(SigV4Error::MalformedAuthorizationPair {
                pair: component.to_owned(),
                header: header.to_owned(),
            });
        };
        let slot = match name {
            "Credential" => &mut parts.credential,
            "SignedHeaders" => &mut parts.signed_headers,
            "Signature" => &mut parts.signature,
            _ => continue,
        };
        if slot.is_some() {
            return Err(SigV4Error::DuplicateAuthorizationParameter {
                name: name.to_owned(),
                header: header.to_owned(),
            });
        }
        *slot = Some(value);
    }
    Ok(parts)
}

/// The credential, signed headers, signature and date header, all present and non-empty; or
/// AWS's message listing every missing element, followed by the header received.
fn required_components<'h, 'm>(
    auth: &AuthorizationParts<'h>,
    date_header: Option<&'m HeaderValue>,
    header: &str,
) -> Result<(&'h str, &'h str, &'h str, &'m HeaderValue), SigV4Error> {
    let present = |value: Option<&'h str>| value.filter(|v| !v.is_empty());
    match (present(auth.credential), present(auth.signed_headers), present(auth.signature), date_header) {
        (Some(credential), Some(signed_headers), Some(signature), Some(date)) => {
            Ok((credential, signed_headers, signature, date))
        }
        (credential, signed_headers, signature, date) => {
            let mut message = String::new();
            if credential.is_none() {
                message.push_str("Authorization header requires 'Credential' parameter. ");
            }
            if signature.is_none() {
                message.push_str("Authorization header requires 'Signature' parameter. ");
            }
            if signed_headers.is_none() {
                message.push_str("Authorization header requires 'SignedHeaders' parameter. ");
            }
            if date.is_none() {
                message.push_str(
                    "Authorization header requires existence of either a 'X-Amz-Date' or a \
                     'Date' header. ",
                );
            }
            message.push_str("Authorization=");
            message.push_str(header);
            Err(SigV4Error::MissingAuthorizationComponents { message })
        }
    }
}

fn check_clock_skew(signed_at: OffsetDateTime, now: OffsetDateTime) -> Result<(), SigV4Error> {
    let earliest = now.checked_sub(MAX_CLOCK_SKEW).unwrap_or(now);
    let latest = now.checked_add(MAX_CLOCK_SKEW).unwrap_or(now);
    if signed_at < earliest {
        return Err(SigV4Error::SignatureExpired {
            signed: format_amz_date(signed_at),
            earliest: format_amz_date(earliest),
            now: format_amz_date(now),
        });
    }
    if signed_at > latest {
        return Err(SigV4Error::SignatureNotYetCurrent {
            signed: format_amz_date(signed_at),
            latest: format_amz_date(latest),
            now: format_amz_date(now),
        });
    }
    Ok(())
}

/// AWS reports every wrong element of the scope at once, region first.
fn check_scope(
    [date, region, service, terminator]: [&str; 4],
    expected: &Expected<'_>,
    amz_date: &str,
) -> Result<(), SigV4Error> {
    let mut sentences = Vec::new();
    if region != expected.region {
        sentences.push(format!("Credential should be scoped to a valid region, not '{region}'."));
    }
    if service != expected.service {
        sentences.push(format!("Credential should be scoped to correct service: '{}'.", expected.service));
    }
    if terminator != SCOPE_TERMINATOR {
        sentences.push(format!(
            "Credential should be scoped with a valid terminator: '{SCOPE_TERMINATOR}', not \
             '{terminator}'."
        ));
    }
    let request_date = amz_date.get(..8).unwrap_or_default();
    if date != request_date {
        sentences.push(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
             HTTP: '{date}' != '{request_date}', from '{amz_date}'."
        ));
    }
    if sentences.is_empty() {
        Ok(())
    } else {
        Err(SigV4Error::InvalidCredentialScope { message: sentences.join(" ") })
    }
}

/// Percent-encodes every byte except RFC 3986 unreserved characters (and `/` if `keep_slash`),
/// with uppercase hex.
fn uri_encode(bytes: &[u8], keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Decodes `%XX` escapes and `+` (as a space); a `%` not followed by two hex digits is kept.
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|&h| char::from(h).to_digit(16));
                let lo = bytes.get(i + 2).and_then(|&l| char::from(l).to_digit(16));
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    // Both digits are < 16, so the value fits in a byte.
                    out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'%'));
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' => out.push(b' '),
            other => out.push(other),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderName;
    use time::macros::datetime;

    const AK: &str = "AKIDEXAMPLE";
    const SK: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const REGION: &str = "us-east-1";
    const NOW: OffsetDateTime = datetime!(2024-01-01 0:10:00 UTC);
    const BODY: &[u8] = br#"{"KeyId":"alias/test","Plaintext":"aGVsbG8="}"#;

    fn secrets() -> HashMap<String, String> {
        HashMap::from([(AK.to_owned(), SK.to_owned())])
    }

    fn expected() -> Expected<'static> {
        Expected { region: REGION, service: "kms", now: NOW }
    }

    /// A KMS request as botocore sends it, signed at `at`.
    fn signed_headers_at(at: OffsetDateTime) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("kms.us-east-1.example.test:8443"));
        headers.insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
        headers.insert("x-amz-target", HeaderValue::from_static("TrentService.Encrypt"));
        headers.insert("user-agent", HeaderValue::from_static("Boto3/1.34.0"));
        sign(
            "POST",
            "/",
            "",
            &mut headers,
            BODY,
            &SigningParams { access_key_id: AK, secret_access_key: SK, region: REGION, service: "kms", now: at },
        )
        .expect("sign");
        headers
    }

    fn run(headers: &HeaderMap, body: &[u8]) -> Result<Verified, SigV4Error> {
        run_query(headers, "", body)
    }

    fn run_query(headers: &HeaderMap, query: &str, body: &[u8]) -> Result<Verified, SigV4Error> {
        let req = SignedRequest { method: "POST", path: "/", query, headers, body };
        verify(&req, &expected(), &secrets())
    }

    fn with_auth(auth: &str) -> HeaderMap {
        let mut headers = signed_headers_at(NOW);
        headers.insert(AUTHORIZATION, HeaderValue::from_str(auth).expect("value"));
        headers
    }

    fn assert_err(result: Result<Verified, SigV4Error>, exception: &str, message: &str) {
        let err = result.expect_err("must be refused");
        assert_eq!(err.aws_exception(), exception, "{err:?}");
        assert_eq!(err.http_status(), 400);
        assert_eq!(err.to_string(), message);
    }

    #[test]
    fn sign_then_verify_round_trip() {
        let headers = signed_headers_at(NOW);
        let auth = headers[AUTHORIZATION].to_str().expect("ascii");
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/kms/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="
        ));
        assert_eq!(headers[X_AMZ_DATE], "20240101T001000Z");
        let verified = run(&headers, BODY).expect("verifies");
        assert_eq!(verified.access_key_id, AK);
        assert_eq!(verified.signed_at, NOW);

        // user-agent is not signed, so a proxy may rewrite it.
        let mut headers = headers;
        headers.insert("user-agent", HeaderValue::from_static("aws-cli/2"));
        assert!(run(&headers, BODY).is_ok());
    }

    #[test]
    fn btreemap_lookup() {
        let headers = signed_headers_at(NOW);
        let req = SignedRequest { method: "POST", path: "/", query: "", headers: &headers, body: BODY };
        let tree = BTreeMap::from([(AK.to_owned(), SK.to_owned())]);
        assert!(verify(&req, &expected(), &tree).is_ok());
    }

    #[test]
    fn missing_authentication_token() {
        let mut headers = signed_headers_at(NOW);
        headers.remove(AUTHORIZATION);
        assert_err(run(&headers, BODY), "MissingAuthenticationTokenException", "Missing Authentication Token");
        assert_err(run(&with_auth("   "), BODY), "MissingAuthenticationTokenException", "Missing Authentication Token");
        assert_eq!(
            run_query(&headers, "X-Amz-Algorithm=AWS4-HMAC-SHA256", BODY),
            Err(SigV4Error::QueryAuthNotSupported)
        );
        let headers = signed_headers_at(NOW);
        assert_err(
            run_query(&headers, "X-Amz-Algorithm=AWS4-HMAC-SHA256", BODY),
            "InvalidSignatureException",
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
        );
    }

    #[test]
    fn incomplete_signature_cases() {
        assert_err(
            run(&with_auth("AWS4-HMAC-SHA512 Credential=a, SignedHeaders=host, Signature=0"), BODY),
            "IncompleteSignatureException",
            "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'.",
        );
        assert_err(
            run(&with_auth("Bearer abc.def"), BODY),
            "IncompleteSignatureException",
            "Unsupported AWS 'algorithm': 'Bearer'.",
        );
        assert_err(
            run(
                &with_auth(
                    "AWS4-HMAC-SHA256 Credential=AKID /20240101/us-east-1/kms/aws4_request, \
                     SignedHeaders=host;x-amz-date, Signature=00",
                ),
                BODY,
            ),
            "IncompleteSignatureException",
            "'/20240101/us-east-1/kms/aws4_request' not a valid key=value pair (missing \
             equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential=AKID \
             /20240101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=00'.",
        );
        assert_err(
            run(&with_auth("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE"), BODY),
            "IncompleteSignatureException",
            "Authorization header requires 'Signature' parameter. Authorization header requires \
             'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE",
        );
        let mut headers = with_auth("AWS4-HMAC-SHA256 Foo=Bar, Signature=");
        headers.remove(X_AMZ_DATE);
        assert_err(
            run(&headers, BODY),
            "IncompleteSignatureException",
            "Authorization header requires 'Credential' parameter. Authorization header requires \
             'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. \
             Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' \
             header. Authorization=AWS4-HMAC-SHA256 Foo=Bar, Signature=",
        );
        assert_eq!(
            run(&with_auth("AWS4-HMAC-SHA256 Signature=1, Signature=2, Credential=a, SignedHeaders=host"), BODY)
                .map_err(|e| e.aws_exception()),
            Err("IncompleteSignatureException")
        );

        let mut headers = signed_headers_at(NOW);
        headers.insert(X_AMZ_DATE, HeaderValue::from_static("2024-01-01T00:10:00Z"));
        assert_err(
            run(&headers, BODY),
            "IncompleteSignatureException",
            "Date must be in ISO-8601 'basic format'. Got '2024-01-01T00:10:00Z'. See \
             http://en.wikipedia.org/wiki/ISO_8601",
        );
        headers.insert(X_AMZ_DATE, HeaderValue::from_static("20240231T001000Z"));
        assert_eq!(run(&headers, BODY).map_err(|e| e.aws_exception()), Err("IncompleteSignatureException"));

        assert_err(
            run(
                &with_auth(
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/kms, \
                     SignedHeaders=host;x-amz-date, Signature=00",
                ),
                BODY,
            ),
            "IncompleteSignatureException",
            "Credential must have exactly 5 slash-delimited elements, e.g. \
             keyid/date/region/service/term, got 'AKIDEXAMPLE/20240101/us-east-1/kms'",
        );

        let mut headers = signed_headers_at(NOW);
        headers.append(AUTHORIZATION, HeaderValue::from_static("AWS4-HMAC-SHA256"));
        assert_eq!(run(&headers, BODY), Err(SigV4Error::MultipleAuthorizationHeaders));
        let headers = with_auth_bytes(b"AWS4-HMAC-SHA256 Credential=\xff");
        assert_eq!(run(&headers, BODY), Err(SigV4Error::UnreadableAuthorization));
    }

    fn with_auth_bytes(bytes: &[u8]) -> HeaderMap {
        let mut headers = signed_headers_at(NOW);
        headers.insert(AUTHORIZATION, HeaderValue::from_bytes(bytes).expect("value"));
        headers
    }

    #[test]
    fn date_header_stands_in_for_x_amz_date() {
        // A client that sends `Date` (in ISO-8601 basic format) instead of `X-Amz-Date`.
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("kms.example.test"));
        headers.insert(DATE, HeaderValue::from_static("20240101T001000Z"));
        let req = SignedRequest { method: "POST", path: "/", query: "", headers: &headers, body: BODY };
        let creq = canonical_request(&req, "date;host", true);
        let scope = credential_scope("20240101", REGION, "kms");
        let sts = string_to_sign("20240101T001000Z", &scope, &creq);
        let sig = signature(&signing_key(SK, "20240101", REGION, "kms"), &sts);
        let auth = format!("AWS4-HMAC-SHA256 Credential={AK}/{scope},SignedHeaders=date;host,Signature={sig}");
        headers.insert(AUTHORIZATION, HeaderValue::from_str(&auth).expect("value"));
        let verified = run(&headers, BODY).expect("verifies");
        assert_eq!(verified.signed_at, NOW);

        // An RFC 1123 `Date` is refused, as AWS does.
        headers.insert(DATE, HeaderValue::from_static("Mon, 01 Jan 2024 00:10:00 GMT"));
        assert_err(
            run(&headers, BODY),
            "IncompleteSignatureException",
            "Date must be in ISO-8601 'basic format'. Got 'Mon, 01 Jan 2024 00:10:00 GMT'. See \
             http://en.wikipedia.org/wiki/ISO_8601",
        );
    }

    #[test]
    fn host_must_be_signed() {
        let mut headers = signed_headers_at(NOW);
        let auth = headers[AUTHORIZATION].to_str().expect("ascii").replace("content-type;host;", "content-type;");
        headers.insert(AUTHORIZATION, HeaderValue::from_str(&auth).expect("value"));
        assert_err(
            run(&headers, BODY),
            "InvalidSignatureException",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        );
    }

    #[test]
    fn unknown_access_key() {
        let headers = signed_headers_at(NOW);
        let auth =
            headers[AUTHORIZATION].to_str().expect("ascii").replace("Credential=AKIDEXAMPLE/", "Credential=AKIDOTHER/");
        assert_err(
            run(&with_auth(&auth), BODY),
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        );
    }

    fn sign_scoped(region: &str, service: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("kms.example.test"));
        sign(
            "POST",
            "/",
            "",
            &mut headers,
            BODY,
            &SigningParams { access_key_id: AK, secret_access_key: SK, region, service, now: NOW },
        )
        .expect("sign");
        headers
    }

    #[test]
    fn wrong_scope() {
        assert_err(
            run(&sign_scoped("eu-west-1", "kms"), BODY),
            "InvalidSignatureException",
            "Credential should be scoped to a valid region, not 'eu-west-1'.",
        );
        assert_err(
            run(&sign_scoped(REGION, "dynamodb"), BODY),
            "InvalidSignatureException",
            "Credential should be scoped to correct service: 'kms'.",
        );
        assert_err(
            run(&sign_scoped("eu-west-1", "s3"), BODY),
            "InvalidSignatureException",
            "Credential should be scoped to a valid region, not 'eu-west-1'. Credential should be \
             scoped to correct service: 'kms'.",
        );
        let headers = signed_headers_at(NOW);
        let auth = headers[AUTHORIZATION]
            .to_str()
            .expect("ascii")
            .replace("/20240101/", "/20231231/")
            .replace("/aws4_request", "/aws5_request");
        assert_err(
            run(&with_auth(&auth), BODY),
            "InvalidSignatureException",
            "Credential should be scoped with a valid terminator: 'aws4_request', not \
             'aws5_request'. Date in Credential scope does not match YYYYMMDD from ISO-8601 \
             version of date from HTTP: '20231231' != '20240101', from '20240101T001000Z'.",
        );
    }

    #[test]
    fn clock_skew_is_five_minutes_either_way() {
        assert_err(
            run(&signed_headers_at(datetime!(2024-01-01 0:00:00 UTC)), BODY),
            "InvalidSignatureException",
            "Signature expired: 20240101T000000Z is now earlier than 20240101T000500Z \
             (20240101T001000Z - 5 min.)",
        );
        assert_err(
            run(&signed_headers_at(datetime!(2024-01-01 0:15:01 UTC)), BODY),
            "InvalidSignatureException",
            "Signature not yet current: 20240101T001501Z is still later than 20240101T001500Z \
             (20240101T001000Z + 5 min.)",
        );
        // The bounds themselves are accepted.
        assert!(run(&signed_headers_at(datetime!(2024-01-01 0:05:00 UTC)), BODY).is_ok());
        assert!(run(&signed_headers_at(datetime!(2024-01-01 0:15:00 UTC)), BODY).is_ok());
        // Expiry is checked before the key is looked up, as AWS does.
        let headers = signed_headers_at(datetime!(2024-01-01 0:00:00 UTC));
        let auth = headers[AUTHORIZATION].to_str().expect("ascii").replace("AKIDEXAMPLE", "AKIDOTHER");
        let mut headers = headers;
        headers.insert(AUTHORIZATION, HeaderValue::from_str(&auth).expect("value"));
        assert!(matches!(run(&headers, BODY), Err(SigV4Error::SignatureExpired { .. })));
    }

    #[test]
    fn signature_mismatch_cases() {
        let message = SIGNATURE_MISMATCH_MESSAGE;
        let headers = signed_headers_at(NOW);
        // Tampered body.
        assert_err(run(&headers, br#"{"KeyId":"alias/evil"}"#), "InvalidSignatureException", message);
        // Tampered signed header.
        let mut tampered = headers.clone();
        tampered.insert("x-amz-target", HeaderValue::from_static("TrentService.Decrypt"));
        assert_err(run(&tampered, BODY), "InvalidSignatureException", message);
        // Wrong secret.
        let req = SignedRequest { method: "POST", path: "/", query: "", headers: &headers, body: BODY };
        let wrong = HashMap::from([(AK.to_owned(), "not-the-secret".to_owned())]);
        assert_eq!(verify(&req, &expected(), &wrong), Err(SigV4Error::SignatureMismatch));
        // Upper-case hex is not the signature that was computed.
        let auth = headers[AUTHORIZATION].to_str().expect("ascii");
        let (prefix, sig) = auth.split_once("Signature=").expect("signature");
        let upper = format!("{prefix}Signature={}", sig.to_ascii_uppercase());
        assert_err(run(&with_auth(&upper), BODY), "InvalidSignatureException", message);
        // Truncated signature.
        let short = &auth[..auth.len() - 1];
        assert_err(run(&with_auth(short), BODY), "InvalidSignatureException", message);
    }

    #[test]
    fn payload_hash_header_must_match_body() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("kms.example.test"));
        headers.insert(X_AMZ_CONTENT_SHA256, HeaderValue::from_str(&sha256_hex(BODY)).expect("hex"));
        sign(
            "POST",
            "/",
            "",
            &mut headers,
            BODY,
            &SigningParams { access_key_id: AK, secret_access_key: SK, region: REGION, service: "kms", now: NOW },
        )
        .expect("sign");
        assert!(run(&headers, BODY).is_ok());
        assert_eq!(run(&headers, b"{}"), Err(SigV4Error::PayloadHashMismatch));

        headers.insert(X_AMZ_CONTENT_SHA256, HeaderValue::from_static("UNSIGNED-PAYLOAD"));
        let err = run(&headers, BODY).expect_err("unsigned payload refused");
        assert_eq!(err, SigV4Error::PayloadHashMismatch);
        assert_eq!(err.aws_exception(), "InvalidSignatureException");
        assert_eq!(err.to_string(), SIGNATURE_MISMATCH_MESSAGE);
    }

    #[test]
    fn sign_requires_host() {
        let mut headers = HeaderMap::new();
        let err = sign(
            "POST",
            "/",
            "",
            &mut headers,
            b"",
            &SigningParams { access_key_id: AK, secret_access_key: SK, region: REGION, service: "kms", now: NOW },
        );
        assert!(matches!(err, Err(SignError::MissingHost)));
    }

    #[test]
    fn canonical_helpers() {
        assert_eq!(canonical_uri("", true), "/");
        assert_eq!(canonical_uri("/", true), "/");
        assert_eq!(canonical_uri("/a/./b/../c//d/", true), "/a/c/d/");
        assert_eq!(canonical_uri("/a/b/.", true), "/a/b/");
        assert_eq!(canonical_uri("/../..", true), "/");
        assert_eq!(canonical_uri("/key%2Fid:x", true), "/key%252Fid%3Ax");
        assert_eq!(canonical_uri("a b", false), "/a%20b");
        assert_eq!(canonical_query_string(""), "");
        assert_eq!(canonical_query_string("b=2&a=3&a=1&c&%41=x+y&d=%zz"), "A=x%20y&a=1&a=3&b=2&c=&d=%25zz");
        assert_eq!(format_amz_date(NOW), "20240101T001000Z");
        assert_eq!(parse_amz_date("20240101T001000Z"), Some(NOW));
        for bad in [
            "",
            "20240101T001000",
            "20240101 001000Z",
            "2024010xT001000Z",
            "20241301T001000Z",
            "20240101T246000Z",
            "+2024101T001000Z",
            "２0240101T00100Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
        let mut out = Vec::new();
        push_header_value(&mut out, b" \t a   b \t c  ");
        assert_eq!(out, b"a b \t c");
        let mut out = Vec::new();
        push_header_value(&mut out, b"   ");
        assert_eq!(out, b"");
    }

    /// xorshift64*: deterministic, dependency-free randomness for the fuzz test.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    #[test]
    fn garbage_never_panics_and_never_verifies() {
        const FRAGMENTS: &[&str] = &[
            "AWS4-HMAC-SHA256",
            " ",
            ",",
            ", ",
            "=",
            "==",
            "/",
            ";",
            "Credential=",
            "SignedHeaders=",
            "Signature=",
            "AKIDEXAMPLE",
            "/20240101/us-east-1/kms/aws4_request",
            "20240101",
            "us-east-1",
            "kms",
            "aws4_request",
            "host;x-amz-date",
            "host",
            ":authority",
            "x-amz-date",
            "0123456789abcdef",
            "é",
            "ሴ",
            "\t",
            "%",
            "%zz",
            "%2F",
            "..",
            "",
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let secrets = secrets();
        let paths = ["/", "", "//..//.", "/%", "/%zz/ሴ/../x", "*"];
        let queries = ["", "&&", "=", "X-Amz-Algorithm", "a=%", "%58-Amz-Algorithm=1", "ሴ=+%2"];
        for i in 0..20_000 {
            let mut headers = HeaderMap::new();
            // Random Authorization built from meaningful fragments.
            let mut auth = String::new();
            for _ in 0..rng.below(12) {
                auth.push_str(rng.pick(FRAGMENTS));
            }
            if let Ok(value) = HeaderValue::from_str(&auth) {
                headers.insert(AUTHORIZATION, value);
            }
            // Random raw bytes (obs-text included) in various headers.
            let raw: Vec<u8> = (0..rng.below(40))
                .map(|_| {
                    let b = u8::try_from(rng.next() & 0xff).unwrap_or(0);
                    if b < 0x20 || b == 0x7f {
                        b'x'
                    } else {
                        b
                    }
                })
                .collect();
            let raw_value = HeaderValue::from_bytes(&raw).expect("visible bytes and obs-text");
            let target = match i % 5 {
                0 => AUTHORIZATION,
                1 => HeaderName::from_static(X_AMZ_DATE),
                2 => HOST,
                3 => HeaderName::from_static(X_AMZ_CONTENT_SHA256),
                _ => DATE,
            };
            if rng.below(2) == 0 {
                headers.append(target, raw_value);
            }
            if rng.below(3) > 0 {
                headers.insert(
                    X_AMZ_DATE,
                    HeaderValue::from_static(if rng.below(2) == 0 { "20240101T001000Z" } else { "99999999T999999Z" }),
                );
            }
            let body: Vec<u8> = (0..rng.below(8)).map(|_| u8::try_from(rng.next() & 0xff).unwrap_or(0)).collect();
            let req = SignedRequest {
                method: ["POST", "", "GËT"][rng.below(3)],
                path: paths[rng.below(paths.len())],
                query: queries[rng.below(queries.len())],
                headers: &headers,
                body: &body,
            };
            let result = verify(&req, &expected(), &secrets);
            assert!(result.is_err(), "garbage verified: {auth:?} {headers:?}");
            let err = result.unwrap_err();
            assert!(!err.to_string().is_empty());
            assert!(err.aws_exception().ends_with("Exception"));
            // The helpers are total as well.
            let _ = canonical_request(&req, &auth, i % 2 == 0);
        }

        // Mutations of a valid request reach the deeper checks (scope, lookup, signature).
        let valid = signed_headers_at(NOW);
        let valid_auth = valid[AUTHORIZATION].as_bytes().to_vec();
        for _ in 0..20_000 {
            let mut auth = valid_auth.clone();
            for _ in 0..=rng.below(3) {
                let at = rng.below(auth.len() + 1);
                match rng.below(4) {
                    0 if at < auth.len() => {
                        let b = u8::try_from(rng.next() & 0xff).unwrap_or(b'x');
                        auth[at] = if b < 0x20 || b == 0x7f { b'=' } else { b };
                    }
                    1 => auth.truncate(at),
                    2 => {
                        let fragment = rng.pick(FRAGMENTS).as_bytes().to_vec();
                        auth.splice(at..at, fragment);
                    }
                    _ => {
                        let end = (at + rng.below(8)).min(auth.len());
                        auth.drain(at..end);
                    }
                }
            }
            let Ok(value) = HeaderValue::from_bytes(&auth) else {
                continue;
            };
            let mut headers = valid.clone();
            headers.insert(AUTHORIZATION, value);
            // Some mutations are harmless (e.g. a separator replaced by another); anything that
            // verifies must still be the genuine key and time.
            if let Ok(verified) = run(&headers, BODY) {
                assert_eq!(verified.access_key_id, AK);
                assert_eq!(verified.signed_at, NOW);
            }
            // A body with one bit flipped never verifies.
            let mut body = BODY.to_vec();
            let at = rng.below(body.len());
            body[at] ^= 1 << rng.below(8);
            assert!(run(&headers, &body).is_err());
        }
    }
}
