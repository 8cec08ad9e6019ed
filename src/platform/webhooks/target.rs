//! Where a webhook may be sent. Only `http(s)://host[:port]/path` URLs, and
//! — unless `SONGMAY_WEBHOOK_ALLOW_PRIVATE` — only hosts that resolve to
//! public addresses: an admin account (or a stolen token) must not turn the
//! service into a probe of the provincial network (server-side request
//! forgery). The address is checked when the subscription is made and
//! again before every delivery (a name can change what it points to).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use awc::http::Uri;

/// The longest wait for a host name to resolve.
const LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// A URL that may be called: its parts, checked.
#[derive(Debug, Clone)]
pub struct Target {
    pub uri: Uri,
    host: String,
    port: u16,
}

/// Why a URL is refused (said to the admin, never with the URL itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not an absolute http(s) URL with a host (or with a user or password in it).
    Malformed(&'static str),
    /// The host does not resolve.
    Unresolved,
    /// The host resolves to a loopback, private, link-local or otherwise
    /// internal address.
    Private,
}

impl Refusal {
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Malformed(why) => why,
            Refusal::Unresolved => "the host does not resolve",
            Refusal::Private => "the host resolves to a private, loopback or link-local address",
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Malformed(_) => "url",
            Refusal::Unresolved => "unresolved",
            Refusal::Private => "private_target",
        }
    }
}

/// Reads `url`: an absolute http or https URL with a host.
pub fn parse(url: &str) -> Result<Target, Refusal> {
    let uri: Uri = url.parse().map_err(|_| Refusal::Malformed("not a URL"))?;
    let port = match uri.scheme_str() {
        Some("https") => 443,
        Some("http") => 80,
        _ => return Err(Refusal::Malformed("must start with https:// or http://")),
    };
    let authority = uri.authority().ok_or(Refusal::Malformed("names no host"))?;
    if authority.as_str().contains('@') {
        return Err(Refusal::Malformed("must not carry a user or password"));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if host.is_empty() {
        return Err(Refusal::Malformed("names no host"));
    }
    Ok(Target {
        port: authority.port_u16().unwrap_or(port),
        host,
        uri,
    })
}

/// Resolves the target's host and refuses an internal address (unless
/// `allow_private`).
pub async fn check(target: &Target, allow_private: bool) -> Result<(), Refusal> {
    // A resolver that does not answer is not waited for long: this runs on
    // an admin's request (and before each delivery).
    let lookup = tokio::net::lookup_host((target.host.as_str(), target.port));
    let addresses: Vec<IpAddr> = actix_web::rt::time::timeout(LOOKUP_TIMEOUT, lookup)
        .await
        .map_err(|_| Refusal::Unresolved)?
        .map_err(|_| Refusal::Unresolved)?
        .map(|address| address.ip())
        .collect();
    if addresses.is_empty() {
        return Err(Refusal::Unresolved);
    }
    if !allow_private && addresses.iter().any(|ip| is_internal(*ip)) {
        return Err(Refusal::Private);
    }
    Ok(())
}

/// Loopback, private (RFC 1918, unique-local), link-local, carrier-grade
/// NAT, unspecified, broadcast and multicast addresses, and IPv4 addresses
/// written as IPv6.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_internal_v4(v4),
            None => is_internal_v6(v6),
        },
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        // 100.64.0.0/10, carrier-grade NAT.
        || (a == 100 && (64..128).contains(&b))
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7 unique local, fe80::/10 link-local.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_http_urls_with_a_host_and_no_credentials() {
        assert!(parse("https://dulieu.hoabinh.gov.vn/hooks").is_ok());
        assert!(parse("http://127.0.0.1:8080/x").is_ok());
        for bad in [
            "ftp://example.org/",
            "/relative",
            "https://user:pw@example.org/",
            "not a url",
            "",
            "file:///etc/passwd",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
        for public in ["8.8.8.8", "203.113.131.1", "2001:4860:4860::8888"] {
            assert!(!is_internal(public.parse().unwrap()), "{public}");
        }
    }
}
