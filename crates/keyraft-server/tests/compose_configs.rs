//! The node config templates of the compose deployment (`cluster-config/compose/`), rendered as
//! `scripts/compose-up` renders them, parse and are consistent with each other and with
//! `docker-compose.yml` (service names, mounts, ports). Runs without Docker.

use keyraft_server::NodeConfig;

const REGIONS: [(&str, &str); 2] = [("us-east-1", "use1"), ("eu-west-1", "euw1")];

fn root() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../cluster-config/compose").to_owned()
}

/// What `scripts/compose-up` substitutes (with random values there).
fn render(template: &str) -> String {
    let mut s = template.to_owned();
    for (k, v) in [
        ("@ACCOUNT_ID@", "111122223333"),
        ("@ROOT_ACCESS_KEY_ID@", "AKIAAAAAAAAAAAAAAAAA"),
        ("@ROOT_SECRET_ACCESS_KEY@", "0123456789012345678901234567890123456789"),
        ("@USER_ACCESS_KEY_ID@", "AKIABBBBBBBBBBBBBBBB"),
        ("@USER_SECRET_ACCESS_KEY@", "abcdefghijabcdefghijabcdefghijabcdefghij"),
        ("@USE1_TRANSPORT_PUBLIC_KEY@", &"11".repeat(32)),
        ("@EUW1_TRANSPORT_PUBLIC_KEY@", &"22".repeat(32)),
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
    let compose = std::fs::read_to_string(format!("{}/docker-compose.yml", root())).unwrap();
    for (region, short) in REGIONS {
        let other = REGIONS.iter().find(|(r, _)| *r != region).unwrap();
        for n in 1..=3u64 {
            let path = format!("{}/{region}/node{n}.toml", root());
            let text = render(&std::fs::read_to_string(&path).unwrap());
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
            assert_eq!(cfg.regions.len(), 1);
            assert_eq!(cfg.regions[0].name.as_str(), other.0);
            assert_eq!(
                cfg.regions[0].raft_addrs,
                (1..=3).map(|i| format!("keyraft-{}-{i}:7100", other.1)).collect::<Vec<_>>()
            );
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
    for line in compose.lines().filter(|l| l.trim_start().starts_with("- \"") && l.contains(":70")) {
        assert!(line.contains("\"127.0.0.1:"), "published beyond loopback: {line}");
    }
}
