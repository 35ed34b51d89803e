//! CIDR blocks of `IpAddress` / `NotIpAddress` conditions (IPv4 and IPv6).

use std::net::IpAddr;

/// An address block; a bare address is a /32 (v4) or /128 (v6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: u128,
    prefix: u8,
    v6: bool,
}

impl Cidr {
    /// Parses `203.0.113.0/24`, `2001:DB8:1234:5678::/64` or a bare address.
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
            None => (text.trim(), None),
        };
        let (bits, v6) = to_bits(addr.parse().ok()?);
        let max = if v6 { 128 } else { 32 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return None;
        }
        Some(Cidr { network: bits & mask(prefix, v6), prefix, v6 })
    }

    /// Whether the address `text` lies in this block (`false` if it is no address).
    pub fn contains(&self, text: &str) -> bool {
        let Ok(addr) = text.trim().parse::<IpAddr>() else {
            return false;
        };
        let (bits, v6) = to_bits(addr);
        v6 == self.v6 && bits & mask(self.prefix, v6) == self.network
    }
}

fn to_bits(addr: IpAddr) -> (u128, bool) {
    match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), false),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => (u128::from(u32::from(v4)), false),
            None => (u128::from(a), true),
        },
    }
}

fn mask(prefix: u8, v6: bool) -> u128 {
    let width = if v6 { 128 } else { 32 };
    if prefix == 0 {
        0
    } else {
        let all = if v6 { u128::MAX } else { u128::from(u32::MAX) };
        all & !((1u128 << (width - u32::from(prefix))) - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::Cidr;

    #[test]
    fn v4_and_v6() {
        let c = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(c.contains("203.0.113.7"));
        assert!(!c.contains("203.0.114.7"));
        assert!(!c.contains("not-an-ip"));
        let h = Cidr::parse("192.0.2.1").unwrap();
        assert!(h.contains("192.0.2.1") && !h.contains("192.0.2.2"));
        let v6 = Cidr::parse("2001:DB8:1234:5678::/64").unwrap();
        assert!(v6.contains("2001:db8:1234:5678::1"));
        assert!(!v6.contains("2001:db8:1234:5679::1"));
        assert!(!v6.contains("203.0.113.7"));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("8.8.8.8"));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("10.0.0/8").is_none());
    }
}
