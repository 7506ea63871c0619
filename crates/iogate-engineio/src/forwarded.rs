//! The client's address behind reverse proxies: [`TrustedProxies`].
//!
//! Behind a proxy every connection comes from the proxy's address. A proxy tells the client's
//! own in a header: `X-Forwarded-For: client, proxy1, proxy2` or (RFC 7239)
//! `Forwarded: for=client, for=proxy1`, each hop appending the address it received the request
//! from. Anyone can send such a header, so it is read only when the TCP peer is a proxy the
//! operator named, and then from the right: the client is the rightmost hop that is not one of
//! those proxies. What a client wrote itself stands to the left of what the proxies appended,
//! and is never reached while a trusted proxy's entry is to its right.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use ipnet::IpNet;

/// Which header the trusted proxies write the client's address in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For` (nginx, HAProxy, the cloud load balancers).
    #[default]
    XForwardedFor,
    /// `Forwarded` (RFC 7239), its `for=` parameters.
    Forwarded,
}

impl ForwardedHeader {
    fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
        }
    }
}

/// The proxies whose forwarding header is believed; none by default, so no header is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// The proxies in `nets` (each an address range, `10.0.0.0/8`, or one address as `/32` or
    /// `/128`), which write the client's address in `header`.
    pub fn new(nets: Vec<IpNet>, header: ForwardedHeader) -> Self {
        Self { nets, header }
    }

    /// The proxies written as text: address ranges (`10.0.0.0/8`, `fd00::/8`) or single
    /// addresses (`192.168.1.10`). The error names the first entry that is neither.
    pub fn parse<S: AsRef<str>>(
        entries: impl IntoIterator<Item = S>,
        header: ForwardedHeader,
    ) -> Result<Self, String> {
        let nets = entries
            .into_iter()
            .map(|entry| {
                let entry = entry.as_ref().trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{entry:?} is not an address or an address range (CIDR)"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self::new(nets, header))
    }

    /// Whether none is trusted.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Whether `ip` is one of the proxies (an IPv4 address mapped into IPv6 counts as itself).
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client's address for a request from `peer` with `headers`: `peer` itself, unless
    /// `peer` is a trusted proxy and the header names a hop past the trusted ones. A hop that
    /// cannot be read where the client's should be (`unknown`, an obfuscated name, garbage)
    /// leaves the address at the last proxy's, which names no one else.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> SocketAddr {
        if !self.trusts(peer.ip()) {
            return peer;
        }
        let hops = headers
            .get_all(self.header.name())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|hop| match self.header {
                ForwardedHeader::XForwardedFor => parse_addr(hop),
                ForwardedHeader::Forwarded => forwarded_for(hop).and_then(parse_addr),
            })
            .collect::<Vec<_>>();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop {
                Some(addr) if self.trusts(addr.ip()) => client = *addr,
                Some(addr) => return *addr,
                None => return client,
            }
        }
        client
    }
}

/// The `for=` value of one `Forwarded` element (`for=1.2.3.4;proto=https`).
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("for")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// An address as the headers write it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:5678`; the port is 0 when none is given.
fn parse_addr(text: &str) -> Option<SocketAddr> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(SocketAddr::new(addr.ip().to_canonical(), addr.port()));
    }
    let bare = text.strip_prefix('[').and_then(|t| t.strip_suffix(']'));
    let ip: IpAddr = bare.unwrap_or(text).parse().ok()?;
    Some(SocketAddr::new(ip.to_canonical(), 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(nets: &[&str], header: ForwardedHeader) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().unwrap()).collect(), header)
    }

    fn headers(name: &'static str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(name, v.parse().unwrap());
        }
        h
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 40000)
    }

    fn ip(addr: SocketAddr) -> String {
        addr.ip().to_string()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let p = proxies(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        let forged = headers("x-forwarded-for", &["1.1.1.1"]);
        assert_eq!(p.client(peer("203.0.113.9"), &forged), peer("203.0.113.9"));
        let none = TrustedProxies::default();
        assert_eq!(none.client(peer("10.0.0.1"), &forged), peer("10.0.0.1"));
    }

    #[test]
    fn the_client_is_the_rightmost_hop_that_is_not_a_proxy() {
        let p = proxies(
            &["10.0.0.0/8", "192.168.1.1/32"],
            ForwardedHeader::XForwardedFor,
        );
        // What the client sent (1.1.1.1) stands left of what the proxies appended.
        let h = headers("x-forwarded-for", &["1.1.1.1, 198.51.100.7", "10.1.1.1"]);
        assert_eq!(ip(p.client(peer("192.168.1.1"), &h)), "198.51.100.7");
        // Every hop a proxy: the leftmost of them.
        let h = headers("x-forwarded-for", &["10.2.2.2, 10.1.1.1"]);
        assert_eq!(ip(p.client(peer("10.0.0.1"), &h)), "10.2.2.2");
        // No header: the proxy itself.
        assert_eq!(
            p.client(peer("10.0.0.1"), &HeaderMap::new()),
            peer("10.0.0.1")
        );
    }

    #[test]
    fn an_unreadable_hop_leaves_the_last_proxy() {
        let p = proxies(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        let h = headers("x-forwarded-for", &["1.1.1.1, unknown, 10.1.1.1"]);
        assert_eq!(ip(p.client(peer("10.0.0.1"), &h)), "10.1.1.1");
        let h = headers("x-forwarded-for", &["<script>"]);
        assert_eq!(ip(p.client(peer("10.0.0.1"), &h)), "10.0.0.1");
    }

    #[test]
    fn forwarded_for_values_with_ports_quotes_and_ipv6() {
        let p = proxies(&["10.0.0.0/8", "2001:db8::/32"], ForwardedHeader::Forwarded);
        let h = headers(
            "forwarded",
            &["for=1.1.1.1, for=\"[2001:db9::17]:4711\";proto=https, For=10.3.3.3"],
        );
        let client = p.client(peer("10.0.0.1"), &h);
        assert_eq!(client, "[2001:db9::17]:4711".parse().unwrap());
        let h = headers("forwarded", &["for=_hidden, for=10.3.3.3"]);
        assert_eq!(ip(p.client(peer("10.0.0.1"), &h)), "10.3.3.3");
        // The other header is not read.
        let h = headers("x-forwarded-for", &["1.1.1.1"]);
        assert_eq!(ip(p.client(peer("10.0.0.1"), &h)), "10.0.0.1");
    }

    #[test]
    fn proxies_are_written_as_ranges_or_addresses() {
        let p = TrustedProxies::parse(
            ["10.0.0.0/8", " 192.168.1.10 ", "fd00::/8"],
            ForwardedHeader::XForwardedFor,
        )
        .unwrap();
        assert!(p.trusts("10.9.9.9".parse().unwrap()));
        assert!(p.trusts("192.168.1.10".parse().unwrap()));
        assert!(!p.trusts("192.168.1.11".parse().unwrap()));
        assert!(p.trusts("fd00::1".parse().unwrap()));
        let err = TrustedProxies::parse(["10.0.0.0/33"], ForwardedHeader::Forwarded).unwrap_err();
        assert!(err.contains("10.0.0.0/33"), "{err}");
        assert!(TrustedProxies::parse(["proxy.local"], ForwardedHeader::Forwarded).is_err());
    }

    #[test]
    fn ipv4_mapped_addresses_count_as_ipv4() {
        let p = proxies(&["127.0.0.1/32"], ForwardedHeader::XForwardedFor);
        let h = headers("x-forwarded-for", &["::ffff:198.51.100.7"]);
        let client = p.client(peer("::ffff:127.0.0.1"), &h);
        assert_eq!(ip(client), "198.51.100.7");
    }
}
