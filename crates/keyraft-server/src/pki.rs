//! `keyraft pki init`: the deployment's PKI, made with rcgen (ECDSA P-256 keys on aws-lc-rs).
//!
//! One deployment CA; per node of each region a certificate whose SANs carry its host names
//! (`localhost`, `127.0.0.1`, the compose host name `keyraft-<short region>-<n>`, `--hosts`) and
//! the URI SAN `keyraft://<region>/<node id>`; an operator client certificate with the URI SAN
//! `keyraft://operator/<name>`. Layout of the output directory (keys mode 0600):
//!
//! ```text
//! ca.pem  ca-key.pem  operator.pem  operator-key.pem
//! <region>/node<N>.pem  <region>/node<N>-key.pem
//! <region>/root.key  <region>/transport.key     (made when missing, never replaced)
//! ```
//!
//! Give each node its own certificate and key, the CA, and its region's `root.key` and
//! `transport.key` only.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use keyraft_core::Region;
use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

/// What `keyraft pki init` makes.
#[derive(Debug, Clone)]
pub struct PkiOptions {
    pub out: PathBuf,
    pub regions: Vec<Region>,
    /// Nodes per region (ids 1..=nodes).
    pub nodes: u64,
    /// More SANs for every node certificate (DNS names or IP addresses); `{region}`, `{short}`
    /// (e.g. `use1`) and `{node}` are replaced by the node's.
    pub hosts: Vec<String>,
    /// The operator's name (URI SAN `keyraft://operator/<name>`).
    pub operator: String,
    /// Validity of node and operator certificates in days (the CA: ten times as long).
    pub days: u32,
    /// Overwrite existing files.
    pub force: bool,
}

impl PkiOptions {
    pub fn new(out: impl Into<PathBuf>, regions: Vec<Region>) -> Self {
        PkiOptions {
            out: out.into(),
            regions,
            nodes: 3,
            hosts: Vec::new(),
            operator: "admin".into(),
            days: 365,
            force: false,
        }
    }
}

/// One node's certificate and key.
#[derive(Debug, Clone)]
pub struct NodeFiles {
    pub region: Region,
    pub node: u64,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The subject alternative names, as written.
    pub sans: Vec<String>,
}

/// A region's secrets: its root key (what wraps every key of the region) and its X25519
/// transport key (what multi-region key material is sealed to), each 64 hex digits, mode 0600,
/// for that region's nodes only.
#[derive(Debug, Clone)]
pub struct RegionSecrets {
    pub region: Region,
    pub root_key: PathBuf,
    pub transport_key: PathBuf,
    /// The transport key's public half, for the other regions' `[[regions]]`.
    pub transport_public_key: String,
}

/// The files `init` wrote.
#[derive(Debug, Clone)]
pub struct PkiFiles {
    pub ca: PathBuf,
    pub ca_key: PathBuf,
    pub nodes: Vec<NodeFiles>,
    pub operator_cert: PathBuf,
    pub operator_key: PathBuf,
    pub secrets: Vec<RegionSecrets>,
}

/// The URI SAN naming a node: `keyraft://<region>/<node id>`.
pub fn node_uri(region: &Region, node: u64) -> String {
    format!("keyraft://{region}/{node}")
}

/// The URI SAN naming an operator: `keyraft://operator/<name>`.
pub fn operator_uri(name: &str) -> String {
    format!("keyraft://operator/{name}")
}

/// The short form of a region name used in host names: `us-east-1` → `use1`,
/// `ap-southeast-2` → `apse2`.
pub fn short_region(region: &Region) -> String {
    let parts: Vec<&str> = region.as_str().split('-').collect();
    match parts.as_slice() {
        [area, direction, number] => {
            let d = match *direction {
                "northeast" => "ne",
                "northwest" => "nw",
                "southeast" => "se",
                "southwest" => "sw",
                other => &other[..other.len().min(1)],
            };
            format!("{area}{d}{number}")
        }
        _ => region.as_str().replace('-', ""),
    }
}

/// The compose host name of a node: `keyraft-use1-1` (cluster-config/compose/docker-compose.yml).
pub fn compose_host(region: &Region, node: u64) -> String {
    format!("keyraft-{}-{node}", short_region(region))
}

/// The SANs of a node's certificate, the URI SAN last.
pub fn node_sans(region: &Region, node: u64, hosts: &[String]) -> Vec<String> {
    let mut sans = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), compose_host(region, node)];
    for h in hosts {
        let h = h
            .replace("{region}", region.as_str())
            .replace("{short}", &short_region(region))
            .replace("{node}", &node.to_string());
        if !sans.contains(&h) {
            sans.push(h);
        }
    }
    sans.push(node_uri(region, node));
    sans
}

/// Creates the deployment CA, a certificate per node and the operator's client certificate in
/// `opts.out`. Refuses (writing nothing) when any of the files exists, unless `opts.force`.
pub fn init(opts: &PkiOptions) -> anyhow::Result<PkiFiles> {
    anyhow::ensure!(!opts.regions.is_empty(), "name at least one region");
    anyhow::ensure!((1..=9).contains(&opts.nodes), "--nodes must be 1 to 9, not {}", opts.nodes);
    anyhow::ensure!(opts.days > 0, "--days must be positive");
    anyhow::ensure!(
        !opts.operator.is_empty() && opts.operator.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
        "the operator name may hold letters, digits, '-', '_' and '.'"
    );
    let out = &opts.out;
    let files = PkiFiles {
        ca: out.join("ca.pem"),
        ca_key: out.join("ca-key.pem"),
        nodes: opts
            .regions
            .iter()
            .flat_map(|r| {
                (1..=opts.nodes).map(move |n| NodeFiles {
                    region: r.clone(),
                    node: n,
                    cert: out.join(r.as_str()).join(format!("node{n}.pem")),
                    key: out.join(r.as_str()).join(format!("node{n}-key.pem")),
                    sans: node_sans(r, n, &opts.hosts),
                })
            })
            .collect(),
        operator_cert: out.join("operator.pem"),
        operator_key: out.join("operator-key.pem"),
        secrets: Vec::new(),
    };
    let all: Vec<&Path> = [&files.ca, &files.ca_key, &files.operator_cert, &files.operator_key]
        .into_iter()
        .map(PathBuf::as_path)
        .chain(files.nodes.iter().flat_map(|n| [n.cert.as_path(), n.key.as_path()]))
        .collect();
    if !opts.force {
        let existing: Vec<&&Path> = all.iter().filter(|p| p.exists()).collect();
        if let Some(first) = existing.first() {
            anyhow::bail!(
                "not overwriting {} and {} more existing file(s) of a PKI in {} (pass --force to replace them)",
                first.display(),
                existing.len() - 1,
                out.display()
            );
        }
    }

    let now = OffsetDateTime::now_utc();
    let not_before = now - Duration::hours(1);

    let ca_key = KeyPair::generate().context("generating the CA key")?;
    let mut ca = CertificateParams::default();
    // A deployment's own name: another deployment's CA is not mistaken for its issuer.
    let mut id = [0u8; 4];
    rand::rngs::OsRng.fill_bytes(&mut id);
    ca.distinguished_name = name(&format!("keyraft deployment CA {}", hex::encode(id)));
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    ca.not_before = not_before;
    ca.not_after = now + Duration::days(i64::from(opts.days) * 10);
    ca.serial_number = Some(serial());
    let ca_cert = ca.self_signed(&ca_key).context("signing the CA certificate")?;
    let ca_key_pem = zeroize::Zeroizing::new(ca_key.serialize_pem());
    let issuer = Issuer::new(ca, ca_key);

    let leaf = |cn: String, sans: &[String], server: bool| leaf(&issuer, &cn, sans, server, opts.days, now);

    let mut writes: Vec<(PathBuf, Vec<u8>, bool)> = Vec::new();
    for n in &files.nodes {
        let (cert, key) = leaf(format!("keyraft {} node {}", n.region, n.node), &n.sans, true)?;
        writes.push((n.cert.clone(), cert.into_bytes(), false));
        writes.push((n.key.clone(), key.as_bytes().to_vec(), true));
    }
    let (op_cert, op_key) =
        leaf(format!("keyraft operator {}", opts.operator), &[operator_uri(&opts.operator)], false)?;

    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    write_file(&files.ca_key, ca_key_pem.as_bytes(), true)?;
    write_file(&files.ca, ca_cert.pem().as_bytes(), false)?;
    write_file(&files.operator_key, op_key.as_bytes(), true)?;
    write_file(&files.operator_cert, op_cert.as_bytes(), false)?;
    for (path, bytes, secret) in &writes {
        write_file(path, bytes, *secret)?;
    }
    for (_, bytes, _) in &mut writes {
        zeroize::Zeroize::zeroize(bytes);
    }
    // Each region's root and transport keys: made when missing, never replaced (not even with
    // --force: a new root key would leave every stored key unreadable).
    let mut files = files;
    for r in &opts.regions {
        let (root_key, transport_key) =
            (out.join(r.as_str()).join("root.key"), out.join(r.as_str()).join("transport.key"));
        crate::secrets::ensure_root_key(&root_key)?;
        let transport = crate::secrets::ensure_transport_key(&transport_key)?;
        files.secrets.push(RegionSecrets {
            region: r.clone(),
            root_key,
            transport_key,
            transport_public_key: hex::encode(transport.public_key()),
        });
    }
    Ok(files)
}

/// A node (`server`: server and client) or operator (client only) certificate signed by `issuer`,
/// valid from an hour before `now` for `days`: the certificate PEM and its key's PEM.
fn leaf(
    issuer: &Issuer<'_, KeyPair>,
    cn: &str,
    sans: &[String],
    server: bool,
    days: u32,
    now: OffsetDateTime,
) -> anyhow::Result<(String, zeroize::Zeroizing<String>)> {
    let key = KeyPair::generate().context("generating a key")?;
    let mut p = CertificateParams::default();
    p.distinguished_name = name(cn);
    p.subject_alt_names = sans.iter().map(|s| san(s)).collect::<anyhow::Result<_>>()?;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = match server {
        // Nodes are servers (AWS API, Raft) and, between themselves, clients.
        true => vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth],
        false => vec![ExtendedKeyUsagePurpose::ClientAuth],
    };
    p.use_authority_key_identifier_extension = true;
    p.not_before = now - Duration::hours(1);
    p.not_after = now + Duration::days(i64::from(days));
    p.serial_number = Some(serial());
    let cert = p.signed_by(&key, issuer).with_context(|| format!("signing the certificate of {cn}"))?;
    Ok((cert.pem(), zeroize::Zeroizing::new(key.serialize_pem())))
}

/// Issues a new certificate for node `node` of `region` with the CA of an existing PKI in
/// `opts.out` (`ca.pem`, `ca-key.pem`): to rotate a node's certificate (`opts.force`: replace
/// the node's files; the node then reloads them) or for a node added to a region. SANs as
/// `init` makes them (`opts.hosts`), valid for `opts.days`.
pub fn issue(opts: &PkiOptions, region: &Region, node: u64) -> anyhow::Result<NodeFiles> {
    anyhow::ensure!(node > 0, "node ids start at 1");
    let out = &opts.out;
    let (ca_file, ca_key_file) = (out.join("ca.pem"), out.join("ca-key.pem"));
    let ca_pem = std::fs::read_to_string(&ca_file).with_context(|| format!("reading {}", ca_file.display()))?;
    let ca_key_pem = zeroize::Zeroizing::new(
        std::fs::read_to_string(&ca_key_file).with_context(|| format!("reading {}", ca_key_file.display()))?,
    );
    let ca_key = KeyPair::from_pem(&ca_key_pem).with_context(|| format!("{} is not a key", ca_key_file.display()))?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key)
        .with_context(|| format!("{} is not a CA certificate", ca_file.display()))?;
    let files = NodeFiles {
        region: region.clone(),
        node,
        cert: out.join(region.as_str()).join(format!("node{node}.pem")),
        key: out.join(region.as_str()).join(format!("node{node}-key.pem")),
        sans: node_sans(region, node, &opts.hosts),
    };
    if !opts.force {
        for f in [&files.cert, &files.key] {
            anyhow::ensure!(!f.exists(), "not overwriting {} (pass --force to replace it)", f.display());
        }
    }
    let (cert, key) = leaf(
        &issuer,
        &format!("keyraft {region} node {node}"),
        &files.sans,
        true,
        opts.days,
        OffsetDateTime::now_utc(),
    )?;
    // The key first: a node reloading between the two writes finds a mismatch and keeps its
    // current pair rather than a new certificate with an old key.
    write_file(&files.key, key.as_bytes(), true)?;
    write_file(&files.cert, cert.as_bytes(), false)?;
    Ok(files)
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "keyraft");
    dn.push(DnType::CommonName, cn);
    dn
}

fn serial() -> SerialNumber {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b[0] &= 0x7f; // a positive INTEGER
    SerialNumber::from_slice(&b)
}

/// A SAN from text: an IP address, a `scheme://` URI, or else a DNS name.
fn san(s: &str) -> anyhow::Result<SanType> {
    let bad = |e: rcgen::Error| anyhow::anyhow!("subject alternative name {s:?}: {e}");
    Ok(match s.parse::<std::net::IpAddr>() {
        Ok(ip) => SanType::IpAddress(ip),
        Err(_) if s.contains("://") => SanType::URI(s.try_into().map_err(bad)?),
        Err(_) => SanType::DnsName(s.try_into().map_err(bad)?),
    })
}

/// Writes `bytes` to `path`, replacing it; keys (`secret`) with mode 0600, certificates 0644.
fn write_file(path: &Path, bytes: &[u8], secret: bool) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, if secret { 0o600 } else { 0o644 });
    let mut f = opts.open(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_region_names() {
        let r = |s: &str| Region::parse(s).unwrap();
        assert_eq!(short_region(&r("us-east-1")), "use1");
        assert_eq!(short_region(&r("eu-west-1")), "euw1");
        assert_eq!(short_region(&r("ap-southeast-2")), "apse2");
        assert_eq!(compose_host(&r("eu-west-1"), 3), "keyraft-euw1-3");
    }

    #[test]
    fn node_sans_carry_hosts_and_uri() {
        let r = Region::parse("us-east-1").unwrap();
        let sans = node_sans(&r, 2, &["kms-{short}-{node}.example.com".into(), "10.0.0.{node}".into()]);
        assert_eq!(
            sans,
            ["localhost", "127.0.0.1", "keyraft-use1-2", "kms-use1-2.example.com", "10.0.0.2", "keyraft://us-east-1/2"]
        );
    }
}
