//! The audit trail: [`AuditLog`], an [`Observer`] of the AWS edge (and the gRPC KMS API) that
//! appends one CloudTrail-shaped JSON record per request to a file, hash-chained per node, before
//! the response leaves; the admin API's operator operations too ([`AuditLog::record_admin`]);
//! [`verify_file`] and [`render`] for `keyraft audit verify|tail`.
//!
//! The format is frozen (ARCHITECTURE.md, "Audit trail format (frozen)"): every line is one JSON
//! object whose last member is written exactly as
//! `"keyraftChain":{"seq":S,"prev":"P","hash":"H"}` followed by `}` and `\n`, where `H` is the
//! lowercase hex SHA-256 of the line's bytes before `H` (up to and including `"hash":"`), `P` is
//! the previous line's `H` (64 zeros on the first line) and `S` counts lines from 1.
//!
//! Request and response members are copied from an allow-list of non-secret members (never a
//! blob: plaintext, ciphertext, keys, signatures, MACs, tokens).

use std::fs::File;
use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use keyraft_aws::{Exchange, Observer};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// `prev` of a file's first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Request members copied into `requestParameters` (camelCase there). Everything else, blobs
/// above all, is left out.
const REQUEST_MEMBERS: &[&str] = &[
    "AliasName",
    "BypassPolicyLockoutSafetyCheck",
    "Constraints",
    "CustomKeyStoreId",
    "Description",
    "DestinationEncryptionAlgorithm",
    "DestinationEncryptionContext",
    "DestinationKeyId",
    "DryRun",
    "EncryptionAlgorithm",
    "EncryptionContext",
    "ExpirationModel",
    "GrantId",
    "GranteePrincipal",
    "KeyAgreementAlgorithm",
    "KeyEncryptionAlgorithm",
    "KeyId",
    "KeyMaterialId",
    "KeyPairSpec",
    "KeySpec",
    "KeyUsage",
    "Limit",
    "MacAlgorithm",
    "Marker",
    "MessageType",
    "MultiRegion",
    "Name",
    "NumberOfBytes",
    "OnDemand",
    "Operations",
    "Origin",
    "PendingWindowInDays",
    "Policy",
    "PolicyName",
    "PrimaryRegion",
    "ReplicaRegion",
    "RetiringPrincipal",
    "RotationPeriodInDays",
    "SigningAlgorithm",
    "SourceEncryptionAlgorithm",
    "SourceEncryptionContext",
    "SourceKeyId",
    "TagKeys",
    "Tags",
    "TargetKeyId",
    "ValidTo",
    "WrappingAlgorithm",
    "WrappingKeySpec",
];

/// Response members copied into `responseElements` of a write (CloudTrail carries none for
/// reads and cryptographic operations).
const RESPONSE_MEMBERS: &[&str] = &[
    "DeletionDate",
    "GrantId",
    "KeyId",
    "KeyMaterialId",
    "KeyMetadata",
    "KeyState",
    "PendingWindowInDays",
    "ReplicaKeyMetadata",
];

/// Cryptographic operations and GenerateRandom are read-only in CloudTrail's sense, like
/// Describe*, Get* and List*.
fn read_only(op: &str) -> bool {
    op.starts_with("Describe")
        || op.starts_with("Get")
        || op.starts_with("List")
        || op == "GenerateRandom"
        || keyraft_core::usage::CRYPTOGRAPHIC_OPERATIONS.contains(&op)
}

/// Where and how a node writes its audit trail.
pub struct AuditOptions {
    pub path: PathBuf,
    /// A record that cannot be written fails the request (500 KMSInternalException).
    pub fail_closed: bool,
    /// fsync after every record.
    pub fsync: bool,
    /// The node's region (`awsRegion`).
    pub region: String,
}

struct Chain {
    file: File,
    /// Bytes of the file known good (a failed write is cut back to this).
    len: u64,
    seq: u64,
    prev: String,
}

/// One node's audit trail file. See the module documentation for the format.
pub struct AuditLog {
    opts: AuditOptions,
    chain: Mutex<Chain>,
}

impl AuditLog {
    /// Opens (creating it, mode 0600) the file and continues the chain from its last line.
    /// Refuses a file whose last line is not an intact record (a torn or edited tail): move it
    /// aside after `keyraft audit verify`, and a new file starts a new chain.
    pub fn open(opts: AuditOptions) -> anyhow::Result<Self> {
        if let Some(dir) = opts.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut o = std::fs::OpenOptions::new();
        o.read(true).append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let mut file = o.open(&opts.path).with_context(|| format!("opening audit file {}", opts.path.display()))?;
        let len = file.metadata()?.len();
        let tail = last_line(&mut file, len).and_then(|l| match l {
            None => Ok(None),
            Some(line) => check_line(&line).map(Some).map_err(anyhow::Error::msg),
        });
        let (seq, prev) = match tail {
            Ok(None) => (0, GENESIS.to_owned()),
            Ok(Some(c)) => (c.seq, c.hash),
            Err(why) => anyhow::bail!(
                "audit file {}: its last record is not intact ({why}); run `keyraft audit verify` on it and move it aside to start a new chain",
                opts.path.display()
            ),
        };
        Ok(AuditLog { opts, chain: Mutex::new(Chain { file, len, seq, prev }) })
    }

    pub fn path(&self) -> &Path {
        &self.opts.path
    }

    /// The record of `x` without its chain member: a JSON object, `}` not yet written.
    pub fn record(&self, x: &Exchange<'_>) -> Vec<u8> {
        let mut out = serde_json::to_vec(&Value::Object(record(&self.opts.region, x))).unwrap_or_default();
        out.pop(); // the closing `}`; the chain member follows
        out
    }

    /// Appends `body` (a record without its closing brace) as the next line of the chain.
    fn append(&self, mut line: Vec<u8>) -> std::io::Result<()> {
        let mut c = self.chain.lock().unwrap_or_else(|p| p.into_inner());
        let seq = c.seq + 1;
        line.extend_from_slice(
            format!(",\"keyraftChain\":{{\"seq\":{seq},\"prev\":\"{}\",\"hash\":\"", c.prev).as_bytes(),
        );
        let hash = hex::encode(Sha256::digest(&line));
        line.extend_from_slice(hash.as_bytes());
        line.extend_from_slice(b"\"}}\n");
        let written = c.file.write_all(&line).and_then(|()| if self.opts.fsync { c.file.sync_data() } else { Ok(()) });
        match written {
            Ok(()) => {
                c.len += line.len() as u64;
                c.seq = seq;
                c.prev = hash;
                Ok(())
            }
            Err(e) => {
                // Cut a partly written line back off, so the chain stays intact for the next one.
                let len = c.len;
                let _ = c.file.set_len(len);
                Err(e)
            }
        }
    }
}

/// An admin API operation (`crate::admin`'s operator routes), as the audit trail records it.
pub struct AdminEvent<'a> {
    /// `Backup`, `Restore`, `ChangeMembership`, `ForcePromote`, `ReloadCertificate`.
    pub name: &'a str,
    /// The client certificate's identity (`keyraft://operator/<name>` for an admitted call);
    /// `None` without one (a refused call, or a node without `[tls]`, whose admin API is open).
    pub client: Option<&'a str>,
    pub source: Option<std::net::SocketAddr>,
    /// The request's JSON body (small control requests only; a restore's backup file is
    /// represented by its size).
    pub request: Value,
    /// The HTTP status answered.
    pub status: u16,
    /// The JSON answer of a success (a backup file: its size), or the error text.
    pub response: Value,
    pub received_ms: u64,
    pub request_id: &'a str,
    pub event_id: &'a str,
}

impl AuditLog {
    /// Appends the record of an admin API operation to the chain. Its `eventSource` is
    /// `keyraft-admin.keyraft` and `eventType` `KeyraftAdminCall`, so readers of the KMS events
    /// can tell them apart; the error of a write is returned whatever `fail_closed` says (the
    /// admin API answers 500 then).
    pub fn record_admin(&self, e: &AdminEvent<'_>) -> Result<(), String> {
        let mut m = Map::new();
        m.insert("eventVersion".into(), "1.08".into());
        let identity = match e.client {
            Some(id) => serde_json::json!({
                "type": if id.starts_with("keyraft://operator/") { "KeyraftOperator" } else { "KeyraftNode" },
                "principalId": id.rsplit('/').next().unwrap_or(id),
                "arn": id,
            }),
            None => serde_json::json!({ "type": "Unknown" }),
        };
        m.insert("userIdentity".into(), identity);
        m.insert("eventTime".into(), event_time(e.received_ms).into());
        m.insert("eventSource".into(), "keyraft-admin.keyraft".into());
        m.insert("eventName".into(), e.name.into());
        m.insert("awsRegion".into(), self.opts.region.as_str().into());
        m.insert("sourceIPAddress".into(), e.source.map(|s| s.ip().to_string()).into());
        m.insert("userAgent".into(), Value::Null);
        if !(200..300).contains(&e.status) {
            m.insert("errorCode".into(), format!("HTTP{}", e.status).into());
            m.insert("errorMessage".into(), e.response.clone());
        }
        m.insert("requestParameters".into(), e.request.clone());
        let ok = (200..300).contains(&e.status);
        m.insert("responseElements".into(), if ok { e.response.clone() } else { Value::Null });
        m.insert("requestID".into(), e.request_id.into());
        m.insert("eventID".into(), e.event_id.into());
        m.insert("readOnly".into(), (e.name == "Backup").into());
        m.insert("eventType".into(), "KeyraftAdminCall".into());
        m.insert("managementEvent".into(), true.into());
        m.insert("eventCategory".into(), "Management".into());
        let mut line = serde_json::to_vec(&Value::Object(m)).map_err(|e| e.to_string())?;
        line.pop();
        self.append(line).map_err(|err| format!("audit file {}: {err}", self.opts.path.display()))
    }
}

impl Observer for AuditLog {
    fn observe(&self, x: &Exchange<'_>) -> Result<(), String> {
        match self.append(self.record(x)) {
            Ok(()) => Ok(()),
            Err(e) if self.opts.fail_closed => Err(format!("audit file {}: {e}", self.opts.path.display())),
            Err(e) => {
                tracing::warn!(path = %self.opts.path.display(), error = %e, "audit record lost (fail_closed = false)");
                Ok(())
            }
        }
    }
}

/// The last line of `file` (of `len` bytes), without its `\n`; `None` for an empty file.
fn last_line(file: &mut File, len: u64) -> anyhow::Result<Option<Vec<u8>>> {
    if len == 0 {
        return Ok(None);
    }
    // Read backwards in chunks until the `\n` before the last line is found.
    let mut tail: Vec<u8> = Vec::new();
    let mut pos = len;
    loop {
        let step = pos.min(64 * 1024);
        pos -= step;
        let mut chunk = vec![0u8; step as usize];
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
        if let Some(i) = body.iter().rposition(|b| *b == b'\n') {
            let mut line = tail[i + 1..].to_vec();
            if line.last() != Some(&b'\n') {
                anyhow::bail!("the file does not end with a complete line (a torn write?)");
            }
            line.pop();
            return Ok(Some(line));
        }
        if pos == 0 {
            if tail.last() != Some(&b'\n') {
                anyhow::bail!("the file does not end with a complete line (a torn write?)");
            }
            tail.pop();
            return Ok(Some(tail));
        }
    }
}

/// What one intact line says about its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub seq: u64,
    pub prev: String,
    pub hash: String,
}

/// Checks one line (without its `\n`) on its own: JSON, the chain member last and as written,
/// its hash over the bytes before it.
pub fn check_line(line: &[u8]) -> Result<Link, String> {
    const END: &[u8] = b"\"}}";
    const HASH_KEY: &[u8] = b",\"hash\":\"";
    let v: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    let chain = v.get("keyraftChain").ok_or("no keyraftChain member")?;
    let seq = chain.get("seq").and_then(Value::as_u64).ok_or("keyraftChain.seq missing")?;
    let prev = chain.get("prev").and_then(Value::as_str).ok_or("keyraftChain.prev missing")?;
    let hash = chain.get("hash").and_then(Value::as_str).ok_or("keyraftChain.hash missing")?;
    let body = line.strip_suffix(END).ok_or("keyraftChain is not the last member")?;
    let hashed_len = body.len().checked_sub(64).ok_or("line too short")?;
    let (hashed, written) = body.split_at(hashed_len);
    if written != hash.as_bytes() || !hashed.ends_with(HASH_KEY) {
        return Err("keyraftChain is not written as the format says".into());
    }
    let expect = format!(",\"keyraftChain\":{{\"seq\":{seq},\"prev\":\"{prev}\"");
    if !hashed[..hashed.len() - HASH_KEY.len()].ends_with(expect.as_bytes()) {
        return Err("keyraftChain is not written as the format says".into());
    }
    if hex::encode(Sha256::digest(hashed)) != hash {
        return Err("the record's hash does not match its contents (edited)".into());
    }
    Ok(Link { seq, prev: prev.to_owned(), hash: hash.to_owned() })
}

/// An intact file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub records: u64,
    /// The last record's hash (record it elsewhere to detect a truncated tail later).
    pub last_hash: String,
}

/// The first record that breaks a file's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// 1-based line number.
    pub line: u64,
    /// The seq the line claims, when it could be read.
    pub seq: Option<u64>,
    pub reason: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.seq {
            Some(s) => write!(f, "line {} (seq {s}): {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// Verifies a whole file: every line intact and chained to the one before, seq counting from 1.
/// The outer error is an I/O error; the inner one names the first broken record.
pub fn verify_file(path: &Path) -> std::io::Result<Result<Verified, Broken>> {
    let mut r = std::io::BufReader::new(File::open(path)?);
    verify(&mut r)
}

/// [`verify_file`] on any reader.
pub fn verify(r: &mut impl BufRead) -> std::io::Result<Result<Verified, Broken>> {
    let mut prev = GENESIS.to_owned();
    let mut n = 0u64;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf)? == 0 {
            return Ok(Ok(Verified { records: n, last_hash: prev }));
        }
        n += 1;
        let broken = |seq, reason: String| Ok(Err(Broken { line: n, seq, reason }));
        let Some(line) = buf.strip_suffix(b"\n") else {
            return broken(None, "incomplete last line (no newline): a torn or truncated write".into());
        };
        let link = match check_line(line) {
            Ok(l) => l,
            Err(why) => {
                let seq = serde_json::from_slice::<Value>(line).ok().and_then(|v| v["keyraftChain"]["seq"].as_u64());
                return broken(seq, why);
            }
        };
        if link.seq != n {
            return broken(
                Some(link.seq),
                format!("expected seq {n}: records were removed, inserted or reordered before this line"),
            );
        }
        if link.prev != prev {
            return broken(Some(link.seq), "prev does not match the previous record's hash".into());
        }
        prev = link.hash;
    }
}

/// One record as a short human line: time, event, principal, key, outcome.
pub fn render(line: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(line) else {
        return format!("(not a record) {line}");
    };
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("-");
    let key = v
        .pointer("/resources/0/ARN")
        .and_then(Value::as_str)
        .or_else(|| v.pointer("/requestParameters/keyId").and_then(Value::as_str))
        .unwrap_or("-");
    let outcome = match v.get("errorCode").and_then(Value::as_str) {
        Some(code) => code.to_owned(),
        None => "OK".to_owned(),
    };
    let principal = match s("/userIdentity/arn") {
        "-" => s("/userIdentity/accessKeyId"),
        a => a,
    };
    format!("{} {} {} {} {} {}", s("/eventTime"), s("/eventName"), principal, key, outcome, s("/requestID"))
}

/// `received_ms` as CloudTrail writes times: `2014-11-04T00:51:05Z`.
fn event_time(ms: u64) -> String {
    keyraft_core::clock::iso8601_utc(ms)
}

/// `KeyId` → `keyId`; `AWSAccountId` → `aWSAccountId` (as CloudTrail writes it).
fn camel(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A member's value with CloudTrail's camelCase member names inside; encryption contexts are
/// the caller's own names and stay as sent.
fn camel_value(name: &str, v: &Value) -> Value {
    if name.contains("EncryptionContext") {
        return v.clone();
    }
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (camel(k), camel_value(k, x))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(|x| camel_value(name, x)).collect()),
        other => other.clone(),
    }
}

fn allowed(members: &Map<String, Value>, allow: &[&str]) -> Value {
    let out: Map<String, Value> = members
        .iter()
        .filter(|(k, _)| allow.contains(&k.as_str()))
        .map(|(k, v)| (camel(k), camel_value(k, v)))
        .collect();
    if out.is_empty() {
        Value::Null
    } else {
        Value::Object(out)
    }
}

fn user_identity(x: &Exchange<'_>) -> Value {
    let mut u = Map::new();
    match x.caller {
        Some(c) => {
            let arn = c.principal.as_str();
            let resource = arn.splitn(6, ':').nth(5).unwrap_or("");
            let (kind, principal_id) = if resource == "root" {
                ("Root", c.account.to_string())
            } else if resource.starts_with("user/") {
                ("IAMUser", resource.to_owned())
            } else if resource.starts_with("assumed-role/") || resource.starts_with("role/") {
                ("AssumedRole", resource.to_owned())
            } else {
                ("Unknown", resource.to_owned())
            };
            u.insert("type".into(), kind.into());
            u.insert("principalId".into(), principal_id.into());
            u.insert("arn".into(), arn.into());
            u.insert("accountId".into(), c.account.to_string().into());
            if let Some(name) = resource.strip_prefix("user/") {
                u.insert("userName".into(), name.rsplit('/').next().unwrap_or(name).into());
            }
        }
        None => {
            u.insert("type".into(), "Unknown".into());
        }
    }
    if let Some(a) = x.access_key_id {
        u.insert("accessKeyId".into(), a.into());
    }
    Value::Object(u)
}

/// Key ARNs the request or its response names.
fn resources(x: &Exchange<'_>) -> Vec<String> {
    let mut arns: Vec<String> = Vec::new();
    let mut add = |v: Option<&Value>| {
        if let Some(s) = v.and_then(Value::as_str).filter(|s| s.starts_with("arn:") && s.contains(":key/")) {
            if !arns.iter().any(|a| a == s) {
                arns.push(s.to_owned());
            }
        }
    };
    if let Ok(r) = x.outcome {
        for p in ["/KeyId", "/KeyMetadata/Arn", "/SourceKeyId", "/ReplicaKeyMetadata/Arn"] {
            add(r.pointer(p));
        }
    }
    if let Some(req) = x.request {
        for m in ["KeyId", "SourceKeyId", "DestinationKeyId", "TargetKeyId"] {
            add(req.get(m));
        }
    }
    arns
}

/// The CloudTrail-shaped record of one exchange, without the chain member.
fn record(region: &str, x: &Exchange<'_>) -> Map<String, Value> {
    let op = x.operation.unwrap_or("Unknown");
    let writes = !read_only(op);
    let arns = resources(x);
    let account_of = |arn: &str| arn.split(':').nth(4).unwrap_or("").to_owned();
    let recipient = arns.first().map(|a| account_of(a)).or_else(|| x.caller.map(|c| c.account.to_string()));
    let mut m = Map::new();
    m.insert("eventVersion".into(), "1.08".into());
    m.insert("userIdentity".into(), user_identity(x));
    m.insert("eventTime".into(), event_time(x.received_ms).into());
    m.insert("eventSource".into(), "kms.amazonaws.com".into());
    m.insert("eventName".into(), op.into());
    m.insert("awsRegion".into(), region.into());
    m.insert("sourceIPAddress".into(), x.source.map(|s| s.ip().to_string()).into());
    m.insert("userAgent".into(), x.user_agent.into());
    if let Err(e) = x.outcome {
        m.insert("errorCode".into(), e.exception.into());
        m.insert("errorMessage".into(), e.message.as_str().into());
    }
    m.insert("requestParameters".into(), x.request.map(|r| allowed(r, REQUEST_MEMBERS)).unwrap_or(Value::Null));
    let response = match x.outcome {
        Ok(Value::Object(r)) if writes => allowed(r, RESPONSE_MEMBERS),
        _ => Value::Null,
    };
    m.insert("responseElements".into(), response);
    if let Some(i) = x.raft_index {
        m.insert("additionalEventData".into(), serde_json::json!({ "raftLogIndex": i }));
    }
    m.insert("requestID".into(), x.request_id.into());
    m.insert("eventID".into(), x.event_id.into());
    m.insert("readOnly".into(), (!writes).into());
    if !arns.is_empty() {
        let list = arns
            .iter()
            .map(|a| serde_json::json!({ "accountId": account_of(a), "type": "AWS::KMS::Key", "ARN": a }))
            .collect();
        m.insert("resources".into(), Value::Array(list));
    }
    m.insert("eventType".into(), "AwsApiCall".into());
    m.insert("managementEvent".into(), true.into());
    if let Some(r) = recipient {
        m.insert("recipientAccountId".into(), r.into());
    }
    m.insert("eventCategory".into(), "Management".into());
    m
}

/// `keyraft audit verify FILE…`: one line per file; false if any file is broken or unreadable.
pub fn verify_files(files: &[PathBuf], out: &mut impl Write) -> std::io::Result<bool> {
    let mut ok = true;
    for f in files {
        match verify_file(f) {
            Ok(Ok(v)) => writeln!(out, "{}: intact, {} records, last hash {}", f.display(), v.records, v.last_hash)?,
            Ok(Err(b)) => {
                ok = false;
                writeln!(out, "{}: BROKEN at {b}", f.display())?;
            }
            Err(e) => {
                ok = false;
                writeln!(out, "{}: unreadable: {e}", f.display())?;
            }
        }
    }
    Ok(ok)
}

/// `keyraft audit tail FILE [-n N] [-f]`: the last `n` records as human lines, then (with
/// `follow`) every record appended, like `tail -f`.
pub fn tail(path: &Path, n: usize, follow: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut text = Vec::new();
    file.read_to_end(&mut text)?;
    let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let lines: Vec<&[u8]> = text[..complete].split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    for l in &lines[lines.len().saturating_sub(n)..] {
        writeln!(out, "{}", render(&String::from_utf8_lossy(l)))?;
    }
    out.flush()?;
    if !follow {
        return Ok(());
    }
    let mut pos = complete as u64;
    let mut partial: Vec<u8> = Vec::new();
    loop {
        let len = std::fs::metadata(path)?.len();
        if len < pos {
            // Replaced or truncated: start again from its beginning.
            file = File::open(path)?;
            pos = 0;
            partial.clear();
        }
        file.seek(SeekFrom::Start(pos + partial.len() as u64))?;
        let mut more = Vec::new();
        file.read_to_end(&mut more)?;
        partial.extend_from_slice(&more);
        while let Some(i) = partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = partial.drain(..=i).collect();
            pos += line.len() as u64;
            writeln!(out, "{}", render(&String::from_utf8_lossy(&line[..line.len() - 1])))?;
        }
        out.flush()?;
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let log = AuditLog::open(AuditOptions {
            path: path.clone(),
            fail_closed: true,
            fsync: false,
            region: "us-east-1".into(),
        })
        .unwrap();
        for i in 0..n {
            log.append(format!("{{\"eventName\":\"E{i}\"").into_bytes()).unwrap();
        }
        std::fs::read(&path).unwrap()
    }

    fn check(bytes: &[u8]) -> Result<Verified, Broken> {
        verify(&mut &bytes[..]).unwrap()
    }

    #[test]
    fn intact_chain_verifies_and_tampering_is_located() {
        let bytes = sample(4);
        assert_eq!(check(&bytes).unwrap().records, 4);
        let lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
        // An edited field: line 2's own hash fails.
        let edited = String::from_utf8(bytes.clone()).unwrap().replacen("\"E1\"", "\"X1\"", 1);
        let b = check(edited.as_bytes()).unwrap_err();
        assert_eq!((b.line, b.seq), (2, Some(2)), "{b}");
        // A deleted line: line 2 now holds seq 3.
        let deleted = [lines[0], lines[2], lines[3]].concat();
        assert_eq!(check(&deleted).unwrap_err().line, 2);
        // Swapped lines 2 and 3.
        let swapped = [lines[0], lines[2], lines[1], lines[3]].concat();
        let b = check(&swapped).unwrap_err();
        assert_eq!((b.line, b.seq), (2, Some(3)));
        // A torn last line.
        assert_eq!(check(&bytes[..bytes.len() - 5]).unwrap_err().line, 4);
    }

    #[test]
    fn reopening_continues_the_chain_and_refuses_a_corrupt_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let opts = || AuditOptions { path: path.clone(), fail_closed: true, fsync: false, region: "r".into() };
        for _ in 0..3 {
            let log = AuditLog::open(opts()).unwrap();
            log.append(b"{\"a\":1".to_vec()).unwrap();
        }
        let v = verify_file(&path).unwrap().unwrap();
        assert_eq!(v.records, 3);
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"a\":").unwrap();
        let e = AuditLog::open(opts()).err().unwrap();
        assert!(format!("{e:#}").contains("not intact"), "{e:#}");
    }

    #[test]
    fn fail_closed_decides_whether_a_lost_record_fails_the_request() {
        let ok = Value::Null;
        let x = Exchange {
            request_id: "r",
            event_id: "e",
            operation: Some("Encrypt"),
            caller: None,
            access_key_id: None,
            source: None,
            user_agent: None,
            request: None,
            outcome: Ok(&ok),
            received_ms: 0,
            elapsed: std::time::Duration::ZERO,
            raft_index: None,
        };
        for fail_closed in [true, false] {
            let opts = AuditOptions { path: "/dev/full".into(), fail_closed, fsync: false, region: "r".into() };
            let log = AuditLog::open(opts).unwrap();
            assert_eq!(log.observe(&x).is_err(), fail_closed);
        }
    }

    #[test]
    fn names_are_camel_case_and_contexts_verbatim() {
        let m: Map<String, Value> = serde_json::from_str(
            r#"{"KeyId":"k","Plaintext":"c2VjcmV0","EncryptionContext":{"Dept":"x"},"Constraints":{"EncryptionContextEquals":{"A":"b"}}}"#,
        )
        .unwrap();
        let v = allowed(&m, REQUEST_MEMBERS);
        assert_eq!(
            v,
            serde_json::json!({"keyId":"k","encryptionContext":{"Dept":"x"},"constraints":{"encryptionContextEquals":{"A":"b"}}})
        );
        assert_eq!(camel("AWSAccountId"), "aWSAccountId");
        assert_eq!(event_time(784_111_777_000), "1994-11-06T08:49:37Z");
    }
}
