//! Where a call comes from, for sign-in throttling: the peer address, or, when the peer is a
//! trusted front end, the nearest address in `x-forwarded-for` that is not one.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use ipnet::IpNet;

const FORWARDED_FOR: &str = "x-forwarded-for";

/// An IP network, or a single address as a network of one (`PORTAL_TRUSTED_PROXIES`).
pub fn parse_network(input: &str) -> Result<IpNet, String> {
    let input = input.trim();
    input
        .parse::<IpNet>()
        .or_else(|_| input.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| "expected an IP address or a CIDR block such as 10.0.0.0/8".to_owned())
}

/// The front ends whose `x-forwarded-for` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    fn trusts(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.0.iter().any(|net| net.contains(&addr))
    }

    /// The source of a call from `peer`. Each trusted hop appends the address it saw to
    /// `x-forwarded-for`, so the list is read from the right, skipping trusted front ends; the
    /// first other address is the client. An unreadable entry stops the walk there.
    pub fn source(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> String {
        let Some(peer) = peer.map(|p| canonical(p.ip())) else {
            return String::new();
        };
        if !self.trusts(peer) {
            return peer.to_string();
        }
        let mut source = peer;
        let forwarded = headers
            .get_all(FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect::<Vec<_>>();
        for hop in forwarded.iter().rev() {
            match hop.trim().parse::<IpAddr>() {
                Ok(addr) => {
                    source = canonical(addr);
                    if !self.trusts(source) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        source.to_string()
    }
}

/// IPv4 addresses seen through an IPv6 socket count as IPv4.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn metadata(forwarded: &[&'static str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in forwarded {
            map.append(FORWARDED_FOR, HeaderValue::from_static(value));
        }
        map
    }

    fn proxies() -> TrustedProxies {
        TrustedProxies::new(vec![
            "10.0.0.0/8".parse().unwrap(),
            "192.0.2.7/32".parse().unwrap(),
        ])
    }

    fn peer(addr: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(addr.parse().unwrap(), 40000))
    }

    #[test]
    fn an_untrusted_peer_is_the_source_whatever_it_claims() {
        let m = metadata(&["198.51.100.1"]);
        assert_eq!(proxies().source(peer("203.0.113.5"), &m), "203.0.113.5");
        assert_eq!(
            TrustedProxies::default().source(peer("10.1.1.1"), &m),
            "10.1.1.1"
        );
    }

    #[test]
    fn a_trusted_front_end_passes_on_the_nearest_untrusted_address() {
        let p = proxies();
        let m = metadata(&["1.2.3.4, 198.51.100.1, 10.0.0.2"]);
        // 1.2.3.4 was written by the client itself and is not believed.
        assert_eq!(p.source(peer("10.0.0.1"), &m), "198.51.100.1");
        let split = metadata(&["198.51.100.1", "192.0.2.7"]);
        assert_eq!(p.source(peer("10.0.0.1"), &split), "198.51.100.1");
        assert_eq!(p.source(peer("10.0.0.1"), &metadata(&[])), "10.0.0.1");
        assert_eq!(
            p.source(peer("10.0.0.1"), &metadata(&["junk, 10.0.0.3"])),
            "10.0.0.3"
        );
        assert_eq!(
            p.source(peer("::ffff:10.0.0.1"), &metadata(&["198.51.100.9"])),
            "198.51.100.9"
        );
        assert_eq!(p.source(None, &metadata(&["198.51.100.9"])), "");
    }
}
