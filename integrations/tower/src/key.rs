//! The default key: the client's IP address.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use std::hash::Hash;

use http::request::Parts;
use http::HeaderName;

/// The client IP of a request: the first address in `header` when one is
/// named and parses (e.g. `x-forwarded-for` behind a proxy you trust), else
/// the peer address from axum's `ConnectInfo<SocketAddr>` or a plain
/// `SocketAddr` extension, else `0.0.0.0` — one shared key for every client
/// whose address is unknown.
///
/// ```
/// use std::net::{IpAddr, SocketAddr};
/// use http::{HeaderName, Request};
/// let (mut parts, ()) = Request::new(()).into_parts();
/// parts.extensions.insert(SocketAddr::from(([10, 0, 0, 7], 5555)));
/// assert_eq!(weir_tower::client_ip(&parts, None), IpAddr::from([10, 0, 0, 7]));
///
/// parts.headers.insert("x-forwarded-for", "203.0.113.9, 10.0.0.1".parse().unwrap());
/// let xff = HeaderName::from_static("x-forwarded-for");
/// assert_eq!(weir_tower::client_ip(&parts, Some(&xff)), IpAddr::from([203, 0, 113, 9]));
/// ```
pub fn client_ip(parts: &Parts, header: Option<&HeaderName>) -> IpAddr {
    if let Some(ip) = header.and_then(|name| from_header(parts, name)) {
        return ip;
    }
    #[cfg(feature = "axum")]
    if let Some(info) = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return info.0.ip();
    }
    if let Some(addr) = parts.extensions.get::<SocketAddr>() {
        return addr.ip();
    }
    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
}

fn from_header(parts: &Parts, name: &HeaderName) -> Option<IpAddr> {
    let value = parts.headers.get(name)?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    first
        .parse::<IpAddr>()
        .ok()
        .or_else(|| first.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// What a guard can key requests by: any `Hash + Eq + Clone` type
/// (implemented for all of them).
pub trait Key: Hash + Eq + Clone {}

impl<T: Hash + Eq + Clone> Key for T {}
