//! The HTTP proxy this machine is configured with: `--proxy`, the environment
//! (`HTTPS_PROXY`, `NO_PROXY`), or on Windows the WinHTTP and WinINet settings. Credentials
//! in a setting are dropped: never sent, never shown. MailStore's licensing connection to
//! my.mailstore.com uses the system proxy when one is set; the tunnel itself is
//! `probe::proxy`.

use super::HostSpec;

/// A proxy setting that cannot be used, named by where it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin} {message}")]
#[non_exhaustive]
pub struct BadProxySetting {
    /// `--proxy` or `HTTPS_PROXY`.
    pub origin: &'static str,
    /// What is wrong, with any credentials masked.
    pub message: String,
}

/// A proxy to use, and where the setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySetting {
    pub host: HostSpec,
    /// `HTTPS_PROXY`, `--proxy`, `WinHTTP`, `WinINet`.
    pub source: &'static str,
    /// The setting carried `user:password@`: dropped, never sent and never shown.
    pub had_credentials: bool,
}

impl ProxySetting {
    /// `http://proxy:3128`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.host)
    }
}

/// Parses a proxy URL or `host:port` (scheme http only; port default 8080). Credentials
/// (`http://user:password@proxy:3128`) are dropped: never sent, never shown, not even in an
/// error.
///
/// # Errors
/// A message naming the input (with any credentials masked).
pub fn parse(text: &str, source: &'static str) -> Result<ProxySetting, String> {
    let t = text.trim();
    let (scheme, rest) = match t.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, t),
    };
    let rest = rest.trim_end_matches('/');
    let (userinfo, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let shown = crate::sanitize::echo(&format!(
        "{}{}{hostport}",
        scheme.map(|s| format!("{s}://")).unwrap_or_default(),
        if userinfo.is_some() { "***@" } else { "" }
    ));
    if let Some(s) = scheme.filter(|s| !s.eq_ignore_ascii_case("http")) {
        return Err(format!(
            "'{shown}': proxy scheme '{}' is not supported; expected http://HOST:PORT",
            crate::sanitize::echo(s)
        ));
    }
    let mut host = HostSpec::parse(hostport).map_err(|e| format!("proxy '{shown}': {e}"))?;
    host.port = Some(host.port.unwrap_or(8080));
    Ok(ProxySetting {
        host,
        source,
        had_credentials: userinfo.is_some(),
    })
}

/// The proxy for `target`: `--proxy` wins, `--no-proxy` disables, else the environment
/// (`HTTPS_PROXY`/`https_proxy`, honouring `NO_PROXY`), else on Windows the `WinHTTP` and
/// `WinINet` settings.
///
/// # Errors
/// A malformed setting, naming where it came from.
pub fn detect(
    cli: Option<&str>,
    disabled: bool,
    target: &str,
) -> Result<Option<ProxySetting>, BadProxySetting> {
    let bad = |origin: &'static str| move |message| BadProxySetting { origin, message };
    if disabled {
        return Ok(None);
    }
    if let Some(p) = cli {
        return parse(p, "--proxy").map(Some).map_err(bad("--proxy"));
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    if let Some(v) = env("HTTPS_PROXY").or_else(|| env("https_proxy")) {
        let no_proxy = env("NO_PROXY")
            .or_else(|| env("no_proxy"))
            .unwrap_or_default();
        if bypassed(&no_proxy, target) {
            return Ok(None);
        }
        return parse(&v, "HTTPS_PROXY")
            .map(Some)
            .map_err(bad("HTTPS_PROXY"));
    }
    Ok(windows::system_proxy())
}

/// `NO_PROXY` semantics as curl has them: `*`, or a list of names that match the target or
/// a parent domain.
fn bypassed(no_proxy: &str, target: &str) -> bool {
    let target = target.to_ascii_lowercase();
    no_proxy
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|e| {
            let e = e.trim_start_matches('.').to_ascii_lowercase();
            e == "*" || target == e || target.ends_with(&format!(".{e}"))
        })
}

#[cfg(windows)]
mod windows {
    //! The proxy settings of WinHTTP (what services use; `netsh winhttp show proxy`) and of
    //! WinINet (the logged-in user's Internet Options).
    use super::{parse, ProxySetting};
    use winreg::enums::{HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE};
    use winreg::RegKey;

    const KEY: &str = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings";

    pub(super) fn system_proxy() -> Option<ProxySetting> {
        winhttp().or_else(wininet)
    }

    fn winhttp() -> Option<ProxySetting> {
        let key = RegKey::predef(HKEY_LOCAL_MACHINE)
            .open_subkey(format!(r"{KEY}\Connections"))
            .ok()?;
        let blob: Vec<u8> = key
            .get_raw_value("WinHttpSettings")
            .ok()?
            .bytes
            .into_owned();
        let server = super::winhttp_blob(&blob)?;
        pick_https(&server).and_then(|s| parse(&s, "WinHTTP").ok())
    }

    fn wininet() -> Option<ProxySetting> {
        let key = RegKey::predef(HKEY_CURRENT_USER).open_subkey(KEY).ok()?;
        let enabled: u32 = key.get_value("ProxyEnable").ok()?;
        if enabled == 0 {
            return None;
        }
        let server: String = key.get_value("ProxyServer").ok()?;
        pick_https(&server).and_then(|s| parse(&s, "WinINet").ok())
    }

    /// `proxy:8080`, or `http=a:80;https=b:443`.
    fn pick_https(server: &str) -> Option<String> {
        if !server.contains('=') {
            return Some(server.trim().to_string()).filter(|s| !s.is_empty());
        }
        server
            .split(';')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("https"))
            .map(|(_, v)| v.trim().to_string())
    }
}

#[cfg(not(windows))]
mod windows {
    pub(super) fn system_proxy() -> Option<super::ProxySetting> {
        None
    }
}

/// The proxy server of a `WinHttpSettings` value: a little-endian structure of a version, a
/// counter, flags (bit 2 set: a proxy is configured), then a length-prefixed proxy string
/// and a length-prefixed bypass list.
#[cfg_attr(not(windows), allow(dead_code))]
fn winhttp_blob(b: &[u8]) -> Option<String> {
    let u32_at = |i: usize| -> Option<usize> {
        let bytes: [u8; 4] = b.get(i..i + 4)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(bytes)).ok()
    };
    let flags = u32_at(8)?;
    if flags & 0x2 == 0 {
        return None;
    }
    let len = u32_at(12)?;
    let server = b.get(16..16usize.checked_add(len)?)?;
    Some(String::from_utf8_lossy(server).trim().to_string()).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls() {
        let p = parse("http://proxy.corp:3128/", "--proxy").expect("url");
        assert_eq!(p.url(), "http://proxy.corp:3128");
        assert_eq!(
            parse("proxy.corp", "x").expect("bare").host.port,
            Some(8080)
        );
        assert!(parse("socks5://p:1080", "x")
            .expect_err("socks")
            .contains("not supported"));
        // Credentials are dropped and never shown, not even in an error.
        let p = parse("http://user:s3cret@proxy.corp:3128", "HTTPS_PROXY").expect("creds");
        assert!(p.had_credentials);
        assert_eq!(p.url(), "http://proxy.corp:3128");
        let e = parse("http://user:s3cret@proxy.corp:99999", "x").expect_err("port");
        assert!(!e.contains("s3cret") && e.contains("***@"), "{e}");
        let e = parse("socks5://user:s3cret@p:1080", "x").expect_err("socks");
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[test]
    fn a_bad_setting_names_where_it_came_from() {
        let e = detect(
            Some("socks5://user:s3cret@p:1080"),
            false,
            "my.mailstore.com",
        )
        .expect_err("socks");
        assert_eq!(e.origin, "--proxy");
        assert_eq!(
            e.to_string(),
            "--proxy 'socks5://***@p:1080': proxy scheme 'socks5' is not supported; expected http://HOST:PORT"
        );
        assert_eq!(
            detect(Some("socks5://p:1080"), true, "x"),
            Ok(None),
            "--no-proxy wins"
        );
        let p = detect(Some("proxy.corp:3128"), false, "x").expect("ok");
        assert_eq!(
            p.map(|p| (p.url(), p.source)),
            Some(("http://proxy.corp:3128".into(), "--proxy"))
        );
    }

    #[test]
    fn no_proxy_lists() {
        assert!(bypassed("*", "my.mailstore.com"));
        assert!(bypassed("localhost, .mailstore.com", "my.mailstore.com"));
        assert!(bypassed("my.mailstore.com", "my.mailstore.com"));
        assert!(!bypassed("store.com", "my.mailstore.com"));
        assert!(!bypassed("", "my.mailstore.com"));
    }

    #[test]
    fn winhttp_settings_blob() {
        let server = b"proxy.corp:8080";
        let mut blob = vec![0x28, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0];
        blob.extend_from_slice(&u32::try_from(server.len()).expect("len").to_le_bytes());
        blob.extend_from_slice(server);
        blob.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(winhttp_blob(&blob).as_deref(), Some("proxy.corp:8080"));
        blob[8] = 1; // direct access
        assert_eq!(winhttp_blob(&blob), None);
        assert_eq!(winhttp_blob(&blob[..10]), None);
        let mut lying = blob.clone();
        lying[8] = 3;
        lying[12] = 0xff;
        assert_eq!(
            winhttp_blob(&lying),
            None,
            "a length past the end is ignored"
        );
    }
}
