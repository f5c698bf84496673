//! The default key: the URL's origin host.

/// `host:port` of `url`, with the scheme's default port filled in — the key
/// [`LimitMiddleware`](crate::LimitMiddleware) uses unless told otherwise.
///
/// ```
/// let url = reqwest::Url::parse("https://example.com/a?b").unwrap();
/// assert_eq!(weir_reqwest::host_key(&url), "example.com:443");
/// let url = reqwest::Url::parse("http://[::1]:8080/").unwrap();
/// assert_eq!(weir_reqwest::host_key(&url), "[::1]:8080");
/// ```
pub fn host_key(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}
