//! What the benchmark drives: keyraft through the AWS KMS JSON 1.1 API (SigV4-signed here), or
//! OpenBao's transit engine through its HTTP API. Both get the same per-request work: the same
//! plaintext sizes, base64 in JSON bodies, kept-alive HTTP/1.1 connections, the response read to
//! the end.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use axum::body::Bytes;
use axum::http::header::{CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, HeaderValue};
use base64::Engine;
use keyraft_aws::sigv4::{self, SigningParams};
use serde_json::{json, Value};

use super::Op;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// How many different plaintexts the encrypt operations cycle through.
const PLAINTEXTS: usize = 16;
/// How many ciphertexts setup makes for decrypt and re-encrypt.
const CIPHERTEXTS: usize = 64;
/// How long setup retries while the target comes up (no leader yet, port not open).
const SETUP_PATIENCE: Duration = Duration::from_secs(30);

/// One keyraft node's AWS API endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Where requests go, e.g. `http://127.0.0.1:7001/`.
    pub url: String,
    /// The `host` header (and signed host), e.g. `127.0.0.1:7001`.
    pub host: String,
    /// The signed path, `/` unless the URL has one.
    pub path: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> anyhow::Result<Endpoint> {
        let u = reqwest::Url::parse(url).with_context(|| format!("endpoint {url:?} is not a URL"))?;
        if u.scheme() != "http" {
            bail!("endpoint {url}: only http:// is supported (this build has no TLS client)");
        }
        let host = u.host_str().ok_or_else(|| anyhow!("endpoint {url} has no host"))?;
        let host = match u.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        Ok(Endpoint { url: u.to_string(), host, path: u.path().to_owned() })
    }
}

/// A second keyraft region (for `mrk-decrypt`): its name, the SigV4 region of its nodes, and
/// their endpoints.
#[derive(Debug, Clone)]
pub struct PeerRegion {
    pub region: String,
    pub endpoints: Vec<Endpoint>,
}

/// The target's connection details.
#[derive(Debug, Clone)]
pub enum Backend {
    Keyraft {
        endpoints: Vec<Endpoint>,
        access_key_id: String,
        secret_access_key: String,
        region: String,
        /// Where `mrk-decrypt` makes its ciphertexts, or why it cannot run.
        peer: Result<PeerRegion, String>,
    },
    OpenBao {
        addr: String,
        token: String,
    },
}

/// A target with its HTTP client (one connection pool shared by all clients).
pub struct Target {
    http: reqwest::Client,
    backend: Backend,
}

/// What one operation needs per request: the URL (OpenBao) and the bodies to cycle through.
struct OpFixture {
    url: String,
    bodies: Vec<Bytes>,
}

/// What setup made: keys, ciphertexts and the ready request bodies per operation.
pub struct Fixture {
    run_id: String,
    ops: HashMap<Op, OpFixture>,
}

impl Fixture {
    fn body(&self, op: Op, seq: u64) -> anyhow::Result<(&str, Bytes)> {
        let f = self.ops.get(&op).ok_or_else(|| anyhow!("{} was not set up", op.name()))?;
        if f.bodies.is_empty() {
            bail!("{} has no request body", op.name());
        }
        Ok((&f.url, f.bodies[(seq % f.bodies.len() as u64) as usize].clone()))
    }
}

fn random_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|_| rand::random::<u8>()).collect()
}

fn run_id() -> String {
    format!("bench-{:016x}", rand::random::<u64>())
}

/// The error name of a failed request that got no HTTP answer.
fn transport_error_name(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "Timeout".into()
    } else if e.is_connect() {
        "ConnectError".into()
    } else if e.is_body() || e.is_decode() {
        "BodyError".into()
    } else {
        "TransportError".into()
    }
}

/// The AWS exception name of an error response: `x-amzn-ErrorType` or the body's `__type`
/// (without a `namespace#` prefix), else `HTTP <status>`.
pub fn aws_error_name(status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> String {
    let clean = |s: &str| {
        let s = s.split(':').next().unwrap_or(s);
        s.rsplit('#').next().unwrap_or(s).trim().to_owned()
    };
    if let Some(v) = headers.get("x-amzn-errortype").and_then(|v| v.to_str().ok()) {
        let name = clean(v);
        if !name.is_empty() {
            return name;
        }
    }
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        if let Some(t) = v.get("__type").and_then(Value::as_str) {
            let name = clean(t);
            if !name.is_empty() {
                return name;
            }
        }
    }
    format!("HTTP {status}")
}

impl Target {
    pub fn new(backend: Backend, clients: usize, timeout: Duration) -> anyhow::Result<Target> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(clients.max(1))
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .build()
            .context("building the HTTP client")?;
        Ok(Target { http, backend })
    }

    /// `keyraft` or `openbao`.
    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::Keyraft { .. } => "keyraft",
            Backend::OpenBao { .. } => "openbao",
        }
    }

    /// Region and endpoints, or the OpenBao address.
    pub fn detail(&self) -> String {
        match &self.backend {
            Backend::Keyraft { endpoints, region, .. } => format!(
                "{region}, {} endpoint{}: {}",
                endpoints.len(),
                if endpoints.len() == 1 { "" } else { "s" },
                endpoints.iter().map(|e| e.host.as_str()).collect::<Vec<_>>().join(" ")
            ),
            Backend::OpenBao { addr, .. } => format!("transit engine at {addr}"),
        }
    }

    /// Why this target cannot run `op`, if it cannot.
    pub fn unsupported(&self, op: Op) -> Option<String> {
        if let Some(why) = op.unavailable() {
            return Some(why.to_owned());
        }
        match (&self.backend, op) {
            (Backend::OpenBao { .. }, Op::ReEncrypt | Op::SignEccP256 | Op::SignRsa2048 | Op::MrkDecrypt) => {
                Some("not supported by this target".into())
            }
            (Backend::Keyraft { peer: Err(why), .. }, Op::MrkDecrypt) => Some(why.clone()),
            _ => None,
        }
    }

    /// Remarks that belong next to an operation's figures.
    pub fn note(&self, op: Op) -> Option<String> {
        match (&self.backend, op) {
            (Backend::OpenBao { .. }, Op::CreateKey) => Some(
                "OpenBao key creation is as durable as its storage backend (in memory for `bao server -dev`)".into(),
            ),
            (Backend::Keyraft { region, peer: Ok(peer), .. }, Op::MrkDecrypt) => Some(format!(
                "Decrypt in {region} of ciphertexts made in {} with a multi-region key (primary in {}, replica in \
                 {region}); compare with decrypt (ciphertexts made in {region})",
                peer.region, peer.region
            )),
            _ => None,
        }
    }

    // ---- keyraft ----

    /// A signed KMS request to `endpoint`, a node of `region` (SigV4's region must be the node's).
    fn kms_request(
        &self,
        endpoint: &Endpoint,
        region: &str,
        action: &str,
        body: Bytes,
    ) -> anyhow::Result<reqwest::RequestBuilder> {
        let Backend::Keyraft { access_key_id, secret_access_key, .. } = &self.backend else {
            bail!("not a keyraft target");
        };
        let mut h = HeaderMap::with_capacity(6);
        h.insert(HOST, HeaderValue::from_str(&endpoint.host)?);
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.1"));
        h.insert("x-amz-target", HeaderValue::from_str(&format!("TrentService.{action}"))?);
        let params = SigningParams {
            access_key_id,
            secret_access_key,
            region,
            service: "kms",
            now: time::OffsetDateTime::now_utc(),
        };
        sigv4::sign("POST", &endpoint.path, "", &mut h, &body, &params).map_err(|e| anyhow!("signing: {e}"))?;
        Ok(self.http.post(&endpoint.url).headers(h).body(body))
    }

    /// One KMS call to the benchmarked region during setup, retried while the region comes up.
    async fn kms_setup_call(&self, action: &str, body: Value) -> anyhow::Result<Value> {
        let Backend::Keyraft { endpoints, region, .. } = &self.backend else {
            bail!("not a keyraft target");
        };
        self.kms_setup_call_in(endpoints, region, action, body).await
    }

    /// One KMS call to the nodes `endpoints` of `region` during setup, retried while the region
    /// comes up (transport errors, 5xx).
    async fn kms_setup_call_in(
        &self,
        endpoints: &[Endpoint],
        region: &str,
        action: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        if endpoints.is_empty() {
            bail!("{action}: region {region} has no endpoint");
        }
        let body = Bytes::from(body.to_string());
        let started = Instant::now();
        let mut attempt = 0usize;
        loop {
            let endpoint = &endpoints[attempt % endpoints.len()];
            attempt += 1;
            let err = match self.kms_request(endpoint, region, action, body.clone())?.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    let bytes = resp.bytes().await.with_context(|| format!("{action}: reading the response"))?;
                    if status.is_success() {
                        return serde_json::from_slice(&bytes)
                            .with_context(|| format!("{action}: response is not JSON"));
                    }
                    let name = aws_error_name(status.as_u16(), &headers, &bytes);
                    let msg =
                        format!("{action} in {region} failed: {status} {name}: {}", String::from_utf8_lossy(&bytes));
                    if !status.is_server_error() {
                        bail!(msg);
                    }
                    msg
                }
                Err(e) => format!("{action} in {region} failed: {e}"),
            };
            if started.elapsed() > SETUP_PATIENCE {
                bail!("{err} (gave up after {} s)", SETUP_PATIENCE.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn kms_create_key(&self) -> anyhow::Result<String> {
        let out = self.kms_setup_call("CreateKey", json!({ "Description": "keyraft bench" })).await?;
        out.pointer("/KeyMetadata/KeyId")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("CreateKey: no KeyMetadata.KeyId in {out}"))
    }

    async fn kms_ciphertexts(&self, key: &str) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::with_capacity(CIPHERTEXTS);
        for _ in 0..CIPHERTEXTS {
            let r = self
                .kms_setup_call("Encrypt", json!({ "KeyId": key, "Plaintext": B64.encode(random_bytes(32)) }))
                .await?;
            let blob = r
                .get("CiphertextBlob")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("Encrypt: no CiphertextBlob in {r}"))?;
            out.push(blob.to_owned());
        }
        Ok(out)
    }

    /// `mrk-decrypt`'s ciphertexts: a multi-region key created in the peer region P, replicated
    /// to the benchmarked region R (ReplicateKey is called in P and answers once R holds the
    /// replica), and ciphertexts made in P. One of them is decrypted in R as a check.
    async fn kms_mrk_ciphertexts(&self) -> anyhow::Result<Vec<String>> {
        let Backend::Keyraft { region, peer, .. } = &self.backend else {
            bail!("not a keyraft target");
        };
        let peer = peer.as_ref().map_err(|why| anyhow!("{}: {why}", Op::MrkDecrypt.name()))?;
        let (p, p_endpoints) = (peer.region.as_str(), peer.endpoints.as_slice());
        let out = self
            .kms_setup_call_in(
                p_endpoints,
                p,
                "CreateKey",
                json!({ "Description": "keyraft bench (multi-region)", "MultiRegion": true }),
            )
            .await?;
        let key = out
            .pointer("/KeyMetadata/KeyId")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("CreateKey MultiRegion in {p}: no KeyMetadata.KeyId in {out}"))?
            .to_owned();
        self.kms_setup_call_in(p_endpoints, p, "ReplicateKey", json!({ "KeyId": key, "ReplicaRegion": region }))
            .await?;
        let mut out = Vec::with_capacity(CIPHERTEXTS);
        for _ in 0..CIPHERTEXTS {
            let r = self
                .kms_setup_call_in(
                    p_endpoints,
                    p,
                    "Encrypt",
                    json!({ "KeyId": key, "Plaintext": B64.encode(random_bytes(32)) }),
                )
                .await?;
            let blob = r
                .get("CiphertextBlob")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("Encrypt in {p}: no CiphertextBlob in {r}"))?;
            out.push(blob.to_owned());
        }
        let check = self
            .kms_setup_call("Decrypt", json!({ "CiphertextBlob": out[0] }))
            .await
            .with_context(|| format!("decrypting in {region} a ciphertext made in {p} with {key}"))?;
        if check.get("KeyId").and_then(Value::as_str).is_none_or(|k| !k.ends_with(&key)) {
            bail!("Decrypt in {region} of a ciphertext made in {p} answered with another key than {key}: {check}");
        }
        Ok(out)
    }

    async fn setup_keyraft(&self, ops: &[Op]) -> anyhow::Result<Fixture> {
        let mut fx = Fixture { run_id: run_id(), ops: HashMap::new() };
        // mrk-decrypt makes its own key (in the peer region); CreateKey needs none.
        let needs_key = ops.iter().any(|op| !matches!(op, Op::CreateKey | Op::MrkDecrypt));
        let key = if needs_key { Some(self.kms_create_key().await?) } else { None };
        let key = key.as_deref().unwrap_or("");
        let body = |v: Value| Bytes::from(v.to_string());
        let mut ciphertexts: Option<Vec<String>> = None;
        for &op in ops {
            let bodies = match op {
                Op::Encrypt32 | Op::Encrypt4k => {
                    let n = if op == Op::Encrypt32 { 32 } else { 4096 };
                    (0..PLAINTEXTS)
                        .map(|_| body(json!({ "KeyId": key, "Plaintext": B64.encode(random_bytes(n)) })))
                        .collect()
                }
                Op::GenerateDataKey => vec![body(json!({ "KeyId": key, "KeySpec": "AES_256" }))],
                Op::CreateKey => vec![body(json!({ "Description": "keyraft bench" }))],
                Op::Decrypt | Op::ReEncrypt => {
                    if ciphertexts.is_none() {
                        ciphertexts = Some(self.kms_ciphertexts(key).await?);
                    }
                    let cts = ciphertexts.as_deref().unwrap_or_default();
                    if op == Op::Decrypt {
                        cts.iter().map(|c| body(json!({ "CiphertextBlob": c }))).collect()
                    } else {
                        let dest = self.kms_create_key().await?;
                        cts.iter().map(|c| body(json!({ "CiphertextBlob": c, "DestinationKeyId": dest }))).collect()
                    }
                }
                Op::SignEccP256 | Op::SignRsa2048 => {
                    let (spec, algorithm) = if op == Op::SignEccP256 {
                        ("ECC_NIST_P256", "ECDSA_SHA_256")
                    } else {
                        ("RSA_2048", "RSASSA_PSS_SHA_256")
                    };
                    let out = self
                        .kms_setup_call(
                            "CreateKey",
                            json!({ "Description": "keyraft bench", "KeySpec": spec, "KeyUsage": "SIGN_VERIFY" }),
                        )
                        .await?;
                    let signing_key = out
                        .pointer("/KeyMetadata/KeyId")
                        .and_then(Value::as_str)
                        .ok_or_else(|| anyhow!("CreateKey {spec}: no KeyMetadata.KeyId in {out}"))?
                        .to_owned();
                    (0..PLAINTEXTS)
                        .map(|_| {
                            body(json!({ "KeyId": signing_key, "Message": B64.encode(random_bytes(32)),
                                         "MessageType": "RAW", "SigningAlgorithm": algorithm }))
                        })
                        .collect()
                }
                Op::MrkDecrypt => {
                    let cts = self.kms_mrk_ciphertexts().await?;
                    cts.iter().map(|c| body(json!({ "CiphertextBlob": c }))).collect()
                }
            };
            fx.ops.insert(op, OpFixture { url: String::new(), bodies });
        }
        Ok(fx)
    }

    // ---- OpenBao ----

    fn bao_request(&self, url: &str, body: Bytes) -> anyhow::Result<reqwest::RequestBuilder> {
        let Backend::OpenBao { token, .. } = &self.backend else {
            bail!("not an OpenBao target");
        };
        Ok(self
            .http
            .post(url)
            .header("x-vault-token", token.as_str())
            .header(CONTENT_TYPE, "application/json")
            .body(body))
    }

    /// One OpenBao call during setup: (status, JSON body or Null), retried on transport errors
    /// while the server comes up.
    async fn bao_setup_call(&self, path: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        let Backend::OpenBao { addr, .. } = &self.backend else {
            bail!("not an OpenBao target");
        };
        let url = format!("{addr}{path}");
        let body = Bytes::from(body.to_string());
        let started = Instant::now();
        loop {
            match self.bao_request(&url, body.clone())?.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let bytes = resp.bytes().await.with_context(|| format!("POST {path}: reading the response"))?;
                    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                    return Ok((status, v));
                }
                Err(e) if started.elapsed() > SETUP_PATIENCE => bail!("POST {url}: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }

    async fn bao_ok(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let (status, v) = self.bao_setup_call(path, body).await?;
        if !(200..300).contains(&status) {
            bail!("POST {path}: HTTP {status}: {v}");
        }
        Ok(v)
    }

    async fn setup_openbao(&self, ops: &[Op]) -> anyhow::Result<Fixture> {
        let Backend::OpenBao { addr, .. } = &self.backend else {
            bail!("not an OpenBao target");
        };
        let (status, v) = self.bao_setup_call("/v1/sys/mounts/transit", json!({ "type": "transit" })).await?;
        if !(200..300).contains(&status) && !v.to_string().contains("already in use") {
            bail!("enabling the transit engine: HTTP {status}: {v}");
        }
        let fx_id = run_id();
        let key = fx_id.clone();
        let needs_key = ops.iter().any(|op| *op != Op::CreateKey);
        if needs_key {
            self.bao_ok(&format!("/v1/transit/keys/{key}"), json!({ "type": "aes256-gcm96" })).await?;
        }
        let body = |v: Value| Bytes::from(v.to_string());
        let mut fx = Fixture { run_id: fx_id, ops: HashMap::new() };
        for &op in ops {
            let (url, bodies) = match op {
                Op::Encrypt32 | Op::Encrypt4k => {
                    let n = if op == Op::Encrypt32 { 32 } else { 4096 };
                    let bodies =
                        (0..PLAINTEXTS).map(|_| body(json!({ "plaintext": B64.encode(random_bytes(n)) }))).collect();
                    (format!("{addr}/v1/transit/encrypt/{key}"), bodies)
                }
                Op::GenerateDataKey => {
                    (format!("{addr}/v1/transit/datakey/plaintext/{key}"), vec![body(json!({ "bits": 256 }))])
                }
                // The URL is per request (a new key name each time).
                Op::CreateKey => (String::new(), vec![body(json!({ "type": "aes256-gcm96" }))]),
                Op::Decrypt => {
                    let mut bodies = Vec::with_capacity(CIPHERTEXTS);
                    for _ in 0..CIPHERTEXTS {
                        let r = self
                            .bao_ok(
                                &format!("/v1/transit/encrypt/{key}"),
                                json!({ "plaintext": B64.encode(random_bytes(32)) }),
                            )
                            .await?;
                        let ct = r
                            .pointer("/data/ciphertext")
                            .and_then(Value::as_str)
                            .ok_or_else(|| anyhow!("transit encrypt: no data.ciphertext in {r}"))?;
                        bodies.push(body(json!({ "ciphertext": ct })));
                    }
                    (format!("{addr}/v1/transit/decrypt/{key}"), bodies)
                }
                Op::ReEncrypt | Op::SignEccP256 | Op::SignRsa2048 | Op::MrkDecrypt => {
                    bail!("{}: {}", op.name(), self.unsupported(op).unwrap_or_default())
                }
            };
            fx.ops.insert(op, OpFixture { url, bodies });
        }
        Ok(fx)
    }

    // ---- both ----

    /// Creates what the operations need: keys, ciphertexts, request bodies.
    pub async fn setup(&self, ops: &[Op]) -> anyhow::Result<Fixture> {
        match self.backend {
            Backend::Keyraft { .. } => self.setup_keyraft(ops).await,
            Backend::OpenBao { .. } => self.setup_openbao(ops).await,
        }
    }

    /// The request for the `seq`-th operation of client `client` (signed, for keyraft).
    pub fn prepare(&self, op: Op, fx: &Fixture, client: usize, seq: u64) -> anyhow::Result<reqwest::RequestBuilder> {
        let (url, body) = fx.body(op, seq.wrapping_add(client as u64))?;
        match &self.backend {
            Backend::Keyraft { endpoints, region, .. } => {
                let endpoint = &endpoints[client % endpoints.len()];
                self.kms_request(endpoint, region, op.kms_action().unwrap_or("Unsupported"), body)
            }
            Backend::OpenBao { addr, .. } => {
                if op == Op::CreateKey {
                    self.bao_request(&format!("{addr}/v1/transit/keys/{}-{client}-{seq}", fx.run_id), body)
                } else {
                    self.bao_request(url, body)
                }
            }
        }
    }

    /// Sends a prepared request and reads the response to the end: `Err(error name)` on failure.
    pub async fn send(&self, rb: reqwest::RequestBuilder) -> Result<(), String> {
        let resp = rb.send().await.map_err(|e| transport_error_name(&e))?;
        let status = resp.status();
        if status.is_success() {
            return resp.bytes().await.map(|_| ()).map_err(|e| transport_error_name(&e));
        }
        match self.backend {
            Backend::Keyraft { .. } => {
                let headers = resp.headers().clone();
                let body = resp.bytes().await.unwrap_or_default();
                Err(aws_error_name(status.as_u16(), &headers, &body))
            }
            Backend::OpenBao { .. } => {
                let _ = resp.bytes().await;
                Err(format!("HTTP {}", status.as_u16()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_with_host_and_path() {
        let e = Endpoint::parse("http://127.0.0.1:7001").unwrap();
        assert_eq!(e.host, "127.0.0.1:7001");
        assert_eq!(e.path, "/");
        assert_eq!(e.url, "http://127.0.0.1:7001/");
        assert!(Endpoint::parse("https://kms.example.com").is_err());
        assert!(Endpoint::parse("not a url").is_err());
    }

    #[test]
    fn aws_error_names_from_header_or_body() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(
            aws_error_name(400, &h, br#"{"__type":"com.amazonaws.kms#NotFoundException"}"#),
            "NotFoundException"
        );
        assert_eq!(aws_error_name(503, &h, b"garbage"), "HTTP 503");
        h.insert("x-amzn-errortype", "ThrottlingException:http://internal.amazon.com/".parse().unwrap());
        assert_eq!(aws_error_name(400, &h, b""), "ThrottlingException");
    }
}
