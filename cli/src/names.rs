//! Safe file names for `--save DIR`, the same as the JS CLI's
//! (js/cli/names.js): readable from the URL's host and path, unique by a
//! hash of the whole URL.
//!
//! Invariants: a name is never a path — only `[A-Za-z0-9._-]`, no `..`, no
//! leading `.`, `_` or `-` — and at most 100 + 13 characters long, so
//! `DIR/name` is always inside `DIR`. [`save_path`] checks it again anyway.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

const MAX_READABLE: usize = 100;

/// The file name (not a path) for the body of `url` (its href).
pub fn file_name_for(url: &str) -> String {
    let readable = match reqwest::Url::parse(url) {
        Ok(u) => {
            let mut s = u.host_str().unwrap_or("").to_owned();
            if let Some(port) = u.port() {
                s.push(':');
                s.push_str(&port.to_string());
            }
            s.push_str(u.path());
            s
        }
        Err(_) => url.to_owned(),
    };
    // Runs of anything else become one `_`; runs of dots become `_`.
    let mut clean = String::with_capacity(readable.len());
    let mut in_other = false;
    for c in readable.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
            clean.push(c);
            in_other = false;
        } else if !in_other {
            clean.push('_');
            in_other = true;
        }
    }
    let mut dotless = String::with_capacity(clean.len());
    let mut chars = clean.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '.' && chars.peek() == Some(&'.') {
            while chars.peek() == Some(&'.') {
                chars.next();
            }
            dotless.push('_');
        } else {
            dotless.push(c);
        }
    }
    let trimmed = dotless
        .trim_start_matches(['.', '_', '-'])
        .trim_end_matches(['.', '_']);
    let readable: String = trimmed.chars().take(MAX_READABLE).collect();
    let digest = Sha256::digest(url.as_bytes());
    let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    let readable = if readable.is_empty() {
        "index"
    } else {
        &readable
    };
    format!("{readable}-{hash}")
}

/// `DIR/name` for `url`; an error if it were not inside `DIR`.
pub fn save_path(dir: &Path, url: &str) -> Result<PathBuf, String> {
    let name = file_name_for(url);
    let path = dir.join(&name);
    if path.parent() != Some(dir) || name.contains('/') || name.starts_with('.') {
        return Err(format!(
            "refusing to write outside {}: {name}",
            dir.display()
        ));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_names_as_the_js_cli() {
        // From js/cli/names.js (node -e "import('./js/cli/names.js').then(m => …)").
        assert_eq!(file_name_for("http://h/"), "h-ad8295a7a69d");
        assert_eq!(
            file_name_for("http://127.0.0.1:8080/a/b.txt"),
            "127.0.0.1_8080_a_b.txt-153ffd671e31"
        );
        for (url, name) in [
            ("http://h/a/../../etc/passwd", "h_etc_passwd-2ddfa9bac3e1"),
            ("http://h/%2e%2e/%2e%2e/x", "h_x-5a0309f0b335"),
            ("not a url/../..", "not_a_url-47e27353342a"),
            ("http://h/.hidden", "h_.hidden-542ab973ba7a"),
            ("http://ü.example/ä?x", "xn--tda.example_C3_A4-fd779f25dd10"),
        ] {
            assert_eq!(file_name_for(url), name, "{url}");
        }
    }

    #[test]
    fn never_a_path() {
        let urls = [
            "http://h/a/../../etc/passwd".to_owned(),
            "http://h/%2e%2e/%2e%2e/x".to_owned(),
            "http://h/q?x=../../y".to_owned(),
            "http://h/q?x=../../z".to_owned(),
            format!("http://h/{}", "a".repeat(5000)),
            "http://h/".to_owned(),
            "not a url/../..".to_owned(),
            "http://h/.hidden".to_owned(),
        ];
        let names: Vec<String> = urls.iter().map(|u| file_name_for(u)).collect();
        let distinct: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(distinct.len(), urls.len());
        for n in &names {
            assert!(n.len() <= 120, "{n}");
            assert!(
                !n.contains("..") && !n.contains('/') && !n.starts_with('.'),
                "{n}"
            );
            assert!(n.chars().next().unwrap().is_ascii_alphanumeric(), "{n}");
        }
        let dir = Path::new("/tmp/out");
        assert!(save_path(dir, &urls[0]).unwrap().starts_with(dir));
    }
}
