//! Which addresses a webhook may be sent to. A webhook's URL is chosen by a partner, and the
//! server (not the partner) makes the request, so the server must not become a way into
//! networks the partner cannot reach. By default a webhook is sent only to a public address:
//! never to a loopback, private (10/8, 172.16/12, 192.168/16), shared (100.64/10),
//! link-local (where cloud metadata services answer), unique-local, site-local, reserved,
//! documentation or benchmarking address, nor to an IPv6 address that carries an IPv4 one
//! (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo), which could lead to any of those.
//! `WEBHOOK_ALLOW_PRIVATE_ADDRESSES` (for development, with a receiver on the same machine)
//! allows loopback and private addresses and checks a carried IPv4 address as itself;
//! link-local, unspecified, multicast and broadcast addresses are refused even then.
//!
//! Names are checked when a hook is registered and again as they are resolved before every
//! connection, and the connection is made to the addresses checked, so a name that later
//! points somewhere else is caught; literal addresses are checked when a hook is registered
//! and before each attempt.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why `ip` may not be called, if it may not.
pub fn refused(ip: IpAddr, deny_private: bool) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4, deny_private),
        IpAddr::V6(v6) => match carried_v4(v6) {
            Some(v4) if deny_private => {
                // The IPv4 address inside says more, when it is refused for its own sake.
                Some(
                    refused_v4(v4, true)
                        .unwrap_or("an IPv6 address carrying an IPv4 one (mapped, NAT64, 6to4, Teredo)"),
                )
            }
            Some(v4) => refused_v4(v4, false),
            None => refused_v6(v6, deny_private),
        },
    }
}

/// Whether `host` is a name for this machine itself (`localhost` and names under it).
pub fn is_local_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost") || host == "localhost.localdomain"
}

/// The IPv4 address an IPv6 address carries, when it is of a form that leads to one:
/// IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96, deprecated), NAT64 (64:ff9b::/96 and
/// the local-use 64:ff9b:1::/48), 6to4 (2002::/16) and Teredo (2001::/32, its client address
/// inverted).
fn carried_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] && !(ip.is_unspecified() || ip.is_loopback()) {
        return Some(low(s[6], s[7]));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) {
        return Some(low(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return Some(low(s[1], s[2]));
    }
    if s[0] == 0x2001 && s[1] == 0 {
        return Some(low(!s[6], !s[7]));
    }
    None
}

fn refused_v4(ip: Ipv4Addr, deny_private: bool) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() || a == 0 {
        return Some("not an address of one host");
    }
    if ip.is_link_local() {
        return Some("a link-local address (where cloud metadata services answer)");
    }
    let shared = a == 100 && (64..128).contains(&b);
    if deny_private && (ip.is_loopback() || ip.is_private() || shared) {
        return Some("a loopback or private address");
    }
    let reserved = a >= 240
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113);
    if deny_private && reserved {
        return Some("a reserved, documentation or benchmarking address");
    }
    None
}

fn refused_v6(ip: Ipv6Addr, deny_private: bool) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_unspecified() || ip.is_multicast() {
        return Some("not an address of one host");
    }
    if first & 0xffc0 == 0xfe80 {
        return Some("a link-local address");
    }
    let unique_local = first & 0xfe00 == 0xfc00;
    let site_local = first & 0xffc0 == 0xfec0;
    let documentation = first == 0x2001 && ip.segments()[1] == 0x0db8;
    let discard = ip.segments()[..4] == [0x100, 0, 0, 0];
    if deny_private && (ip.is_loopback() || unique_local || site_local || documentation || discard) {
        return Some("a loopback or private address");
    }
    None
}

/// A resolver that leaves out the addresses a webhook may not reach, and fails when none is
/// left.
pub struct GuardedResolver {
    pub deny_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let deny_private = self.deny_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> =
                found.iter().copied().filter(|a| refused(a.ip(), deny_private).is_none()).collect();
            if allowed.is_empty() {
                let why = found.first().and_then(|a| refused(a.ip(), deny_private)).unwrap_or("no address");
                return Err(format!("{host} resolves only to addresses webhooks may not reach ({why})").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::refused;

    #[test]
    fn metadata_and_non_host_addresses_are_never_called_and_private_ones_only_when_allowed() {
        for always in
            ["169.254.169.254", "0.0.0.0", "255.255.255.255", "224.0.0.1", "::", "fe80::1", "::ffff:169.254.169.254"]
        {
            let ip = always.parse().expect("ip");
            assert!(refused(ip, false).is_some(), "{always}");
            assert!(refused(ip, true).is_some(), "{always}");
        }
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "fec0::1",
            "198.18.0.1",
            "240.0.0.1",
        ] {
            let ip = private.parse().expect("ip");
            assert!(refused(ip, false).is_none(), "{private} is allowed for development");
            assert!(refused(ip, true).is_some(), "{private} is refused by default");
        }
        for public in ["81.2.69.160", "2a00:1450:4009:81f::200e", "100.128.0.1", "172.32.0.1"] {
            assert!(refused(public.parse().expect("ip"), true).is_none(), "{public}");
        }
    }

    #[test]
    fn ipv6_forms_that_carry_an_ipv4_address_are_refused_by_default_and_checked_as_that_address_otherwise() {
        // IPv4-compatible, NAT64 (well-known and local-use), 6to4 and Teredo, each carrying
        // the metadata address 169.254.169.254 or loopback.
        for carried in [
            "::169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "2001:0:4136:e378:8000:63bf:5601:5601",
        ] {
            let ip = carried.parse().expect("ip");
            assert!(refused(ip, true).is_some(), "{carried} is refused by default");
        }
        for metadata in ["::169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1"] {
            assert!(refused(metadata.parse().expect("ip"), false).is_some(), "{metadata} carries a link-local address");
        }
        // Teredo's client address is inverted: 5601:5601 is 169.254.169.254's complement.
        assert!(refused("2001:0:4136:e378:8000:63bf:5601:5601".parse().expect("ip"), false).is_some());
        // Carrying a public address, they are refused only by default.
        assert!(refused("64:ff9b::5102:45a0".parse().expect("ip"), false).is_none());
        assert!(refused("64:ff9b::5102:45a0".parse().expect("ip"), true).is_some());
    }

    #[test]
    fn localhost_names_are_this_machine() {
        for name in ["localhost", "LOCALHOST.", "api.localhost", "localhost.localdomain"] {
            assert!(super::is_local_name(name), "{name}");
        }
        assert!(!super::is_local_name("localhost.example.org"));
    }
}
