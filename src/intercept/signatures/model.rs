//! What a signature is: the field it looks at, the kind of product, how its pattern
//! compares, the entry with its advice and source, and the error of a file that is not one.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What part of an observation a signature looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Field {
    /// The CN attribute of a certificate's issuer.
    IssuerCn,
    /// The O attribute of a certificate's issuer.
    IssuerO,
    /// The OU attribute of a certificate's issuer.
    IssuerOu,
    /// Any line an IMAP server sends before login (greeting, CAPABILITY).
    ImapGreeting,
    /// Any line a POP3 server sends before login (greeting, CAPA).
    Pop3Greeting,
    /// An HTTP header; the signature names which one.
    HttpHeader,
    /// The first bytes of an HTTP body.
    HttpBody,
}

impl Field {
    /// The name used in the signature file.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Field::IssuerCn => "issuer-cn",
            Field::IssuerO => "issuer-o",
            Field::IssuerOu => "issuer-ou",
            Field::ImapGreeting => "imap-greeting",
            Field::Pop3Greeting => "pop3-greeting",
            Field::HttpHeader => "http-header",
            Field::HttpBody => "http-body",
        }
    }
}

/// What sort of product intercepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Utm,
    Antivirus,
    Proxy,
    Debugging,
}

impl Kind {
    /// The name used in the signature file.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Kind::Utm => "utm",
            Kind::Antivirus => "antivirus",
            Kind::Proxy => "proxy",
            Kind::Debugging => "debugging",
        }
    }
}

/// How a pattern is compared; always ASCII case-insensitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatchKind {
    Contains,
    Prefix,
    Exact,
}

impl MatchKind {
    /// The name used in the signature file.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            MatchKind::Contains => "contains",
            MatchKind::Prefix => "prefix",
            MatchKind::Exact => "exact",
        }
    }
}

/// One known product marker. A header-only signature (`field` http-header without
/// `pattern`) matches when the header is present; its `match_kind` is then `Contains`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    pub product: String,
    pub kind: Kind,
    pub field: Field,
    pub header: Option<String>,
    #[serde(rename = "match")]
    pub match_kind: MatchKind,
    pub pattern: Option<String>,
    pub advice: String,
    pub source: String,
}

impl Signature {
    /// The next step, with `{host}` and `{port}` filled in (an IPv6 host in brackets).
    #[must_use]
    pub fn advice_for(&self, host: &str, port: u16) -> String {
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        let port = port.to_string();
        let mut out = String::with_capacity(self.advice.len() + host.len());
        let mut rest = self.advice.as_str();
        // One pass, so a `{port}` inside the host name is not expanded again.
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            if let Some(t) = tail.strip_prefix("{host}") {
                out.push_str(&host);
                rest = t;
            } else if let Some(t) = tail.strip_prefix("{port}") {
                out.push_str(&port);
                rest = t;
            } else {
                out.push('{');
                rest = &tail[1..];
            }
        }
        out.push_str(rest);
        out
    }
}

/// A signature file that could not be used, with the place of the problem.
/// Line and column count from 1; line 0 means the whole file (e.g. unreadable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
#[non_exhaustive]
pub struct SignatureError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}
