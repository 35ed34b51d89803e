//! The node config templates of the compose deployment (`cluster-config/compose/`), rendered as
//! `scripts/compose-up` renders them (two regions, and three with `--third-region`), parse and
//! are consistent with each other and with `docker-compose.yml` and
//! `docker-compose.third-region.yml` (service names, mounts, ports). Runs without Docker.

use keyraft_server::NodeConfig;

const TWO: &[(&str, &str)] = &[("us-east-1", "use1"), ("eu-west-1", "euw1")];
const THREE: &[(&str, &str)] = &[("us-east-1", "use1"), ("eu-west-1", "euw1"), ("ap-south-1", "aps1")];

/// A region's transport public key in the rendered configs.
fn pubkey(region: &str) -> String {
    format!("{:02x}", region.len()).repeat(32)
}

/// compose-up's `peers REGION`: a [[regions]] section for every other region of the deployment.
fn peers(region: &str, deployment: &[(&str, &str)]) -> String {
    deployment
        .iter()
        .filter(|(r, _)| *r != region)
        .map(|(r, short)| {
            let addrs: Vec<String> = (1..=3).map(|n| format!("\"keyraft-{short}-{n}:7100\"")).collect();
            format!(
                "[[regions]]\nname = \"{r}\"\ntransport_public_key = \"{}\"\nraft_addrs = [{}]\n\n",
                pubkey(r),
                addrs.join(", ")
            )
        })
        .collect()
}

fn root() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../cluster-config/compose").to_owned()
}

/// What `scripts/compose-up` substitutes (with random values there).
fn render(template: &str, region: &str, deployment: &[(&str, &str)]) -> String {
    let mut s = template.replace("@PEER_REGIONS@", &peers(region, deployment));
    for (k, v) in [
        ("@ACCOUNT_ID@", "111122223333"),
        ("@ROOT_ACCESS_KEY_ID@", "AKIAAAAAAAAAAAAAAAAA"),
        ("@ROOT_SECRET_ACCESS_KEY@", "0123456789012345678901234567890123456789"),
        ("@USER_ACCESS_KEY_ID@", "AKIABBBBBBBBBBBBBBBB"),
        ("@USER_SECRET_ACCESS_KEY@", "abcdefghijabcdefghijabcdefghijabcdefghij"),
        ("@QUOTAS_ENABLED@", "false"),
    ] {
        s = s.replace(k, v);
    }
    let left: Vec<_> = s.lines().filter(|l| !l.trim_start().starts_with('#') && l.contains('@')).collect();
    assert!(left.is_empty(), "placeholders left: {left:?}");
    s
}

#[test]
fn compose_node_configs_render_and_agree() {
    let main = std::fs::read_to_string(format!("{}/docker-compose.yml", root())).unwrap();
    let third = std::fs::read_to_string(format!("{}/docker-compose.third-region.yml", root())).unwrap();
    // The node settings are the same in both files (anchors do not reach across files).
    let x_node = |f: &str| f[f.find("x-node: &node").unwrap()..f.find("services:").unwrap()].to_owned();
    assert_eq!(x_node(&main), x_node(&third));
    for deployment in [TWO, THREE] {
        check(deployment, &format!("{main}\n{third}"));
    }
    // The third region's services are only in its own file.
    assert!(!main.contains("keyraft-aps1-") && third.contains("  keyraft-aps1-1:\n"));
}

fn check(deployment: &[(&str, &str)], compose: &str) {
    for &(region, short) in deployment {
        for n in 1..=3u64 {
            let path = format!("{}/{region}/node{n}.toml", root());
            let text = render(&std::fs::read_to_string(&path).unwrap(), region, deployment);
            let cfg: NodeConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
            cfg.validate().unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!((cfg.region.as_str(), cfg.node_id), (region, n));
            // Fixed in-container ports, the paths docker-compose.yml mounts.
            assert_eq!(cfg.api_addr, "0.0.0.0:7000");
            assert_eq!(cfg.raft_addr, "0.0.0.0:7100");
            assert_eq!(cfg.admin_addr, "0.0.0.0:7200");
            assert_eq!(cfg.data_dir.to_str(), Some("/var/lib/keyraft"));
            assert_eq!(cfg.root_key_file.to_str(), Some("/etc/keyraft/secrets/root.key"));
            assert_eq!(
                cfg.transport_key_file.as_ref().and_then(|p| p.to_str()),
                Some("/etc/keyraft/secrets/transport.key")
            );
            assert!(!cfg.quotas.enabled);
            // TLS from the mounted PKI files: HTTPS API, mutual TLS between nodes.
            let tls = cfg.tls.as_ref().expect("[tls]");
            assert_eq!(tls.cert_file.to_str(), Some("/etc/keyraft/tls/node.pem"));
            assert_eq!(tls.key_file.to_str(), Some("/etc/keyraft/tls/node-key.pem"));
            assert_eq!(tls.ca_file.to_str(), Some("/etc/keyraft/tls/ca.pem"));
            assert!(!cfg.plaintext);
            // Peers are the region's three services; the other region is reached by its services.
            let peers: Vec<_> = cfg.peers.iter().map(|p| (p.id, p.raft_addr.clone())).collect();
            assert_eq!(peers, (1..=3).map(|i| (i, format!("keyraft-{short}-{i}:7100"))).collect::<Vec<_>>());
            let others: Vec<_> = deployment.iter().filter(|(r, _)| *r != region).collect();
            assert_eq!(cfg.regions.len(), others.len());
            for (got, (name, oshort)) in cfg.regions.iter().zip(others) {
                assert_eq!(got.name.as_str(), *name);
                assert_eq!(got.transport_public_key, pubkey(name));
                assert_eq!(got.raft_addrs, (1..=3).map(|i| format!("keyraft-{oshort}-{i}:7100")).collect::<Vec<_>>());
            }
            // The account root and dev-user.
            let ids = keyraft_aws::Identities::new(&cfg.credentials).unwrap();
            assert_eq!(
                ids.caller("AKIABBBBBBBBBBBBBBBB").unwrap().principal,
                "arn:aws:iam::111122223333:user/dev-user"
            );
            assert!(ids.caller("AKIAAAAAAAAAAAAAAAAA").is_some());
            // docker-compose.yml runs this node as a service of that name with this config.
            assert!(compose.contains(&format!("  keyraft-{short}-{n}:\n")), "service keyraft-{short}-{n}");
            assert!(compose.contains(&format!("/config/{region}/node{n}.toml:/etc/keyraft/node.toml:ro")));
            assert!(compose.contains(&format!("/secrets/{region}:/etc/keyraft/secrets:ro")));
            assert!(compose.contains(&format!("/pki/{region}/node{n}.pem:/etc/keyraft/tls/node.pem:ro")));
            assert!(compose.contains(&format!("/pki/{region}/node{n}-key.pem:/etc/keyraft/tls/node-key.pem:ro")));
        }
    }
    // Client ports are published on loopback only.
    for line in compose.lines().filter(|l| l.trim_start().starts_with("- \"") && l.contains(":7")) {
        assert!(line.contains("\"127.0.0.1:"), "published beyond loopback: {line}");
    }
}
