//! Which addresses a webhook may be sent to. A webhook's URL is chosen by a partner, and the
//! server (not the partner) makes the request, so the server must not become a way into
//! networks the partner cannot reach: link-local addresses (cloud metadata services answer
//! at 169.254.169.254), unspecified, multicast and broadcast addresses are never called, and
//! with `WEBHOOK_DENY_PRIVATE_ADDRESSES` neither are loopback, private, shared (100.64/10)
//! or unique-local ones. Names are checked when they are resolved, before every connection,
//! so a name that later points somewhere else is caught; literal addresses when a hook is
//! registered and again before each attempt.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why `ip` may not be called, if it may not.
pub fn refused(ip: IpAddr, deny_private: bool) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4, deny_private),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => refused_v4(v4, deny_private),
            None => refused_v6(v6, deny_private),
        },
    }
}

fn refused_v4(ip: Ipv4Addr, deny_private: bool) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
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
    if deny_private && (ip.is_loopback() || unique_local) {
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
        for private in
            ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "::1", "fd00::1", "::ffff:10.0.0.1"]
        {
            let ip = private.parse().expect("ip");
            assert!(refused(ip, false).is_none(), "{private} is allowed by default");
            assert!(refused(ip, true).is_some(), "{private} is refused when private addresses are");
        }
        for public in ["81.2.69.160", "2a00:1450:4009:81f::200e", "100.128.0.1", "172.32.0.1"] {
            assert!(refused(public.parse().expect("ip"), true).is_none(), "{public}");
        }
    }
}
