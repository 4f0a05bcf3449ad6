//! The end-to-end statement (DESIGN §5.1): what `mssp-check listen` tells a probe, inside
//! TLS, about the certificate it served and the source it saw; its text form, its parser and
//! its optional HMAC with a shared `--token`.
//!
//! The line is `MSSP-CHECK-E2E/1 cert-sha256=<hex> peer=<ip:port> [text-sha256=<hex>]
//! [nonce=<hex>] [mac=<hex>]`. It travels in an IMAP greeting's response code
//! (`* OK [MSSP-CHECK-E2E/1 …] text`), in the [`HTTP_HEADER`] of an HTTP answer, or alone on a
//! line on the internal (847x) ports. If the certificate a client saw is not `cert-sha256`,
//! someone in between terminated TLS.

use std::fmt::Write as _;
use std::net::SocketAddr;

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::hex;
use crate::sanitize::printable;

/// Opens every statement; the version changes when the format does.
pub const MAGIC: &str = "MSSP-CHECK-E2E/1";
/// Response header carrying the statement (https ports).
pub const HTTP_HEADER: &str = "X-MSSP-Check-E2E";
/// Request header in which a probe sends its nonce (32 hex digits).
pub const NONCE_HEADER: &str = "X-MSSP-Check-Nonce";
/// On the `tls` ports a probe may send `MSSP-CHECK-NONCE/1 <32 hex>\r\n` right after the
/// handshake; the responder waits [`NONCE_WAIT_MS`] for it.
pub const NONCE_LINE: &str = "MSSP-CHECK-NONCE/1";
/// How long the responder waits for a [`NONCE_LINE`] on a `tls` port before it speaks.
pub const NONCE_WAIT_MS: u64 = 300;

/// Hex digits of a SHA-256 (and of the HMAC-SHA256).
const SHA256_HEX: usize = 64;
/// Hex digits of a nonce (16 bytes).
const NONCE_HEX: usize = 32;
/// More `key=value` fields than this is not a statement.
const MAX_FIELDS: usize = 16;
/// Longest accepted field value (the longest real one is a scoped IPv6 peer).
const MAX_VALUE: usize = 128;
/// Cap, in characters, of peer-supplied text quoted in an error.
const QUOTE: usize = 40;

/// What the responder says about one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// SHA-256 of the DER leaf certificate the responder served, 64 lower-case hex digits.
    pub cert_sha256: String,
    /// The source address:port the responder saw (IPv4-mapped IPv6 shown as IPv4).
    pub peer: SocketAddr,
    /// SHA-256 (hex) of the text that follows the statement (IMAP greeting text).
    pub text_sha256: Option<String>,
    /// The probe's nonce, echoed (32 lower-case hex digits).
    pub nonce: Option<String>,
    /// HMAC-SHA256 (hex) over [`Statement::canonical`], keyed with the shared token.
    pub mac: Option<String>,
    /// The TLS session's exported keying material ([`EKM_LABEL`], RFC 5705 / RFC 8446 §7.5),
    /// 32 bytes as hex: equal on both ends only when they share one TLS session, so a
    /// middlebox that re-terminates TLS with the server's own certificate and key shows too.
    pub tls_ekm: Option<String>,
}

/// The exporter label of [`Statement::tls_ekm`].
pub const EKM_LABEL: &[u8] = b"EXPORTER-mssp-check-e2e";
/// Bytes of exported keying material.
pub const EKM_LEN: usize = 32;

impl Statement {
    /// The statement for a certificate and a peer, without the optional fields.
    #[must_use]
    pub fn new(cert_der: &[u8], peer: SocketAddr) -> Self {
        Statement {
            cert_sha256: sha256_hex(cert_der),
            peer,
            text_sha256: None,
            nonce: None,
            mac: None,
            tls_ekm: None,
        }
    }

    /// `MSSP-CHECK-E2E/1 cert-sha256=<hex> peer=<ip:port> [text-sha256=<hex>] [nonce=<hex>]
    /// [mac=<hex>]`; an IPv6 peer is written `[addr]:port`.
    #[must_use]
    pub fn to_line(&self) -> String {
        let mut s = format!(
            "{MAGIC} cert-sha256={} peer={}",
            self.cert_sha256, self.peer
        );
        for (key, value) in [
            ("text-sha256", &self.text_sha256),
            ("nonce", &self.nonce),
            ("tls-ekm", &self.tls_ekm),
            ("mac", &self.mac),
        ] {
            if let Some(v) = value {
                let _ = write!(s, " {key}={v}");
            }
        }
        s
    }

    /// Finds [`MAGIC`] anywhere in `text` and parses the fields after it, up to a `]` (the end
    /// of an IMAP response code), a line end or the end of `text`.
    ///
    /// # Errors
    /// No statement, a missing or duplicated field, or a value that is not what it should be
    /// (hex of the right length, an address:port). The message quotes at most a short,
    /// sanitised piece of the input.
    pub fn parse(text: &str) -> Result<Statement, String> {
        Self::parse_with_tail(text).map(|(s, _)| s)
    }

    /// Like [`Statement::parse`], and also returns the text after the statement's closing
    /// `]` and one space, up to the line end (`""` when there is no `]`): the text that
    /// `text-sha256` covers (see [`Statement::text_matches`]).
    ///
    /// # Errors
    /// As [`Statement::parse`].
    pub fn parse_with_tail(text: &str) -> Result<(Statement, &str), String> {
        let mut rest = find_magic(text).ok_or_else(|| format!("no {MAGIC} statement"))?;
        let mut fields = Fields::default();
        let mut count = 0;
        let tail = loop {
            rest = rest.trim_start_matches([' ', '\t']);
            match rest.as_bytes().first() {
                None | Some(b'\r' | b'\n') => break "",
                Some(b']') => {
                    let after = &rest[1..];
                    let after = after.strip_prefix(' ').unwrap_or(after);
                    break after.split(['\r', '\n']).next().unwrap_or("");
                }
                Some(_) => {}
            }
            count += 1;
            if count > MAX_FIELDS {
                return Err(format!("more than {MAX_FIELDS} fields"));
            }
            let (key, value, after) = next_field(rest)?;
            fields.set(key, value)?;
            rest = after;
        };
        Ok((fields.finish()?, tail))
    }

    /// The bytes the MAC covers:
    /// `cert-sha256=<hex>;peer=<ip:port>;text-sha256=<hex>|-;nonce=<hex>|-;tls-ekm=<hex>|-`.
    #[must_use]
    pub fn canonical(&self) -> String {
        format!(
            "cert-sha256={};peer={};text-sha256={};nonce={};tls-ekm={}",
            self.cert_sha256,
            self.peer,
            self.text_sha256.as_deref().unwrap_or("-"),
            self.nonce.as_deref().unwrap_or("-"),
            self.tls_ekm.as_deref().unwrap_or("-"),
        )
    }

    /// Sets `mac` to HMAC-SHA256(`token`, [`Statement::canonical`]).
    pub fn sign(&mut self, token: &[u8]) {
        let key = hmac::Key::new(hmac::HMAC_SHA256, token);
        let tag = hmac::sign(&key, self.canonical().as_bytes());
        self.mac = Some(hex::encode(tag.as_ref()));
    }

    /// Whether `mac` is present and is the HMAC of the other fields under `token`
    /// (compared in constant time).
    #[must_use]
    pub fn verify(&self, token: &[u8]) -> bool {
        let Some(mac) = self.mac.as_deref().and_then(hex::decode) else {
            return false;
        };
        let key = hmac::Key::new(hmac::HMAC_SHA256, token);
        hmac::verify(&key, self.canonical().as_bytes(), &mac).is_ok()
    }

    /// Whether `text-sha256` is present and is the SHA-256 of `tail` (from
    /// [`Statement::parse_with_tail`]).
    #[must_use]
    pub fn text_matches(&self, tail: &str) -> bool {
        self.text_sha256.as_deref() == Some(sha256_hex(tail.as_bytes()).as_str())
    }
}

/// A fresh nonce: 16 random bytes as 32 lower-case hex digits.
#[must_use]
pub fn new_nonce() -> String {
    let mut bytes = [0u8; 16];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        // The OS refused randomness (practically never). A nonce need only be unpredictable
        // enough not to be replayed; hash the clock and a counter instead of panicking.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let seed = format!("{t}/{n}/{}", std::process::id());
        let digest = ring::digest::digest(&ring::digest::SHA256, seed.as_bytes());
        bytes.copy_from_slice(&digest.as_ref()[..16]);
    }
    hex::encode(&bytes)
}

/// The line a probe sends on a `tls` port: `MSSP-CHECK-NONCE/1 <nonce>\r\n`.
#[must_use]
pub fn nonce_line(nonce: &str) -> String {
    format!("{NONCE_LINE} {nonce}\r\n")
}

/// The nonce of a `MSSP-CHECK-NONCE/1 <32 hex>` line (CR/LF optional), lower-cased.
#[must_use]
pub fn parse_nonce_line(line: &[u8]) -> Option<String> {
    let line = std::str::from_utf8(line)
        .ok()?
        .trim_end_matches(['\r', '\n']);
    valid_nonce(line.strip_prefix(NONCE_LINE)?.strip_prefix(' ')?)
}

/// `value` as a nonce (exactly 32 hex digits, surrounding spaces ignored), lower-cased.
#[must_use]
pub fn valid_nonce(value: &str) -> Option<String> {
    hex_value(value.trim(), NONCE_HEX)
}

/// SHA-256 of `bytes`, 64 lower-case hex digits.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// The text right after the first [`MAGIC`] that is followed by a separator.
fn find_magic(text: &str) -> Option<&str> {
    text.match_indices(MAGIC).find_map(|(at, _)| {
        let rest = &text[at + MAGIC.len()..];
        matches!(
            rest.as_bytes().first(),
            None | Some(b' ' | b'\t' | b']' | b'\r' | b'\n')
        )
        .then_some(rest)
    })
}

/// One `key=value` at the start of `s`: key, value, and what follows. A `peer` value in
/// brackets runs to its `]` and port, so an IPv6 peer does not end an IMAP response code.
fn next_field(s: &str) -> Result<(&str, &str, &str), String> {
    let is_end = |c: char| matches!(c, ' ' | '\t' | ']' | '\r' | '\n');
    let token_end = s.find(is_end).unwrap_or(s.len());
    let Some((key, _)) = s[..token_end].split_once('=') else {
        return Err(format!(
            "field {:?} is not key=value",
            printable(&s[..token_end], QUOTE)
        ));
    };
    if key.is_empty()
        || key.len() > 32
        || !key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!("bad field name {:?}", printable(key, QUOTE)));
    }
    let after_key = &s[key.len() + 1..];
    let from = if key == "peer" && after_key.starts_with('[') {
        // `[v6]:port`: its `]` is part of the value, not the end of a response code.
        after_key
            .find(']')
            .ok_or_else(|| "peer: unclosed [".to_string())?
            + 1
    } else {
        0
    };
    let value_end = after_key[from..]
        .find(is_end)
        .map_or(after_key.len(), |e| from + e);
    let (value, after) = after_key.split_at(value_end);
    if value.len() > MAX_VALUE {
        return Err(format!("{key}: value longer than {MAX_VALUE} characters"));
    }
    Ok((key, value, after))
}

#[derive(Default)]
struct Fields {
    cert_sha256: Option<String>,
    peer: Option<SocketAddr>,
    text_sha256: Option<String>,
    nonce: Option<String>,
    mac: Option<String>,
    tls_ekm: Option<String>,
}

impl Fields {
    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        fn put<T>(slot: &mut Option<T>, key: &str, v: T) -> Result<(), String> {
            if slot.replace(v).is_some() {
                return Err(format!("{key} appears twice"));
            }
            Ok(())
        }
        let hex_of = |len: usize| {
            hex_value(value, len).ok_or_else(|| {
                format!(
                    "{key}: expected {len} hex digits, got {:?}",
                    printable(value, QUOTE)
                )
            })
        };
        match key {
            "cert-sha256" => put(&mut self.cert_sha256, key, hex_of(SHA256_HEX)?),
            "text-sha256" => put(&mut self.text_sha256, key, hex_of(SHA256_HEX)?),
            "nonce" => put(&mut self.nonce, key, hex_of(NONCE_HEX)?),
            "mac" => put(&mut self.mac, key, hex_of(SHA256_HEX)?),
            "tls-ekm" => put(&mut self.tls_ekm, key, hex_of(EKM_LEN * 2)?),
            "peer" => {
                let peer = value.parse::<SocketAddr>().map_err(|_| {
                    format!(
                        "peer: expected address:port, got {:?}",
                        printable(value, QUOTE)
                    )
                })?;
                put(&mut self.peer, key, peer)
            }
            // A later version may add fields; they are not covered by this version's MAC.
            _ => Ok(()),
        }
    }

    fn finish(self) -> Result<Statement, String> {
        Ok(Statement {
            cert_sha256: self.cert_sha256.ok_or("cert-sha256 is missing")?,
            peer: self.peer.ok_or("peer is missing")?,
            text_sha256: self.text_sha256,
            nonce: self.nonce,
            mac: self.mac,
            tls_ekm: self.tls_ekm,
        })
    }
}

/// `value` when it is exactly `len` hex digits, lower-cased.
fn hex_value(value: &str, len: usize) -> Option<String> {
    (value.len() == len && value.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| value.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &[u8] = b"not really DER, but any bytes hash";

    fn full() -> Statement {
        Statement {
            text_sha256: Some(sha256_hex(b"mssp-check responder ready")),
            nonce: Some("00112233445566778899aabbccddeeff".into()),
            tls_ekm: Some("ab".repeat(EKM_LEN)),
            ..Statement::new(CERT, "[2001:db8::7]:50312".parse().expect("addr"))
        }
    }

    #[test]
    fn a_line_round_trips_with_its_fields_in_order() {
        let v4 = Statement::new(CERT, "192.0.2.7:50312".parse().expect("addr"));
        let mut signed = full();
        signed.sign(b"secret");
        for s in [v4, full(), signed.clone()] {
            assert_eq!(Statement::parse(&s.to_line()), Ok(s.clone()), "{s:?}");
        }
        let want = format!(
            "MSSP-CHECK-E2E/1 cert-sha256={} peer=[2001:db8::7]:50312 text-sha256={} nonce={} tls-ekm={} mac={}",
            signed.cert_sha256,
            signed.text_sha256.as_deref().unwrap_or_default(),
            signed.nonce.as_deref().unwrap_or_default(),
            signed.tls_ekm.as_deref().unwrap_or_default(),
            signed.mac.as_deref().unwrap_or_default(),
        );
        assert_eq!(signed.to_line(), want);
    }

    #[test]
    fn parses_inside_an_imap_greeting_and_returns_the_tail() {
        for peer in ["127.0.0.1:40000", "[::1]:40000"] {
            let s = Statement {
                text_sha256: Some(sha256_hex(b"mssp-check responder ready")),
                ..Statement::new(CERT, peer.parse().expect("addr"))
            };
            let greeting = format!("* OK [{}] mssp-check responder ready\r\n", s.to_line());
            let (parsed, tail) = Statement::parse_with_tail(&greeting).expect("parses");
            assert_eq!(parsed, s);
            assert_eq!(tail, "mssp-check responder ready");
            assert!(parsed.text_matches(tail));
            assert!(!parsed.text_matches("mssp-check responder ready (via proxy)"));
        }
    }

    #[test]
    fn parses_from_a_header_value_and_ignores_unknown_fields() {
        let s = full();
        let value = format!("{} future=1", s.to_line());
        assert_eq!(Statement::parse(&value), Ok(s.clone()));
        let upper = s
            .to_line()
            .replace(&s.cert_sha256, &s.cert_sha256.to_uppercase());
        assert_eq!(Statement::parse(&upper), Ok(s), "hex is case-insensitive");
        let (_, tail) = Statement::parse_with_tail(&value).expect("parses");
        assert_eq!(tail, "", "no ] and no text after the statement");
    }

    #[test]
    fn bad_input_is_an_error_naming_the_field() {
        let cert = "a".repeat(64);
        #[rustfmt::skip]
        let table: &[(String, &str)] = &[
            (String::new(), "no MSSP-CHECK-E2E/1"),
            ("MSSP-CHECK-E2E/10 cert-sha256=x".into(), "no MSSP-CHECK-E2E/1"),
            ("MSSP-CHECK-E2E/1".into(), "cert-sha256 is missing"),
            (format!("MSSP-CHECK-E2E/1 cert-sha256={cert}"), "peer is missing"),
            ("MSSP-CHECK-E2E/1 peer=1.2.3.4:5".into(), "cert-sha256 is missing"),
            (format!("MSSP-CHECK-E2E/1 cert-sha256={} peer=1.2.3.4:5", "a".repeat(63)), "cert-sha256: expected 64"),
            (format!("MSSP-CHECK-E2E/1 cert-sha256={}g peer=1.2.3.4:5", "a".repeat(63)), "cert-sha256: expected 64"),
            (format!("MSSP-CHECK-E2E/1 cert-sha256={cert} peer=1.2.3.4"), "peer: expected address:port"),
            (format!("MSSP-CHECK-E2E/1 cert-sha256={cert} peer=[::1:5"), "unclosed"),
            (format!("MSSP-CHECK-E2E/1 cert-sha256={cert} peer=1.2.3.4:5 nonce=abc"), "nonce: expected 32"),
            (format!("MSSP-CHECK-E2E/1 cert-sha256={cert} peer=1.2.3.4:5 mac=zz"), "mac: expected 64"),
            (format!("MSSP-CHECK-E2E/1 cert-sha256={cert} cert-sha256={cert} peer=1.2.3.4:5"), "appears twice"),
            (format!("MSSP-CHECK-E2E/1 cert-sha256={cert} peer=1.2.3.4:5 junk"), "not key=value"),
            (format!("MSSP-CHECK-E2E/1 cert-sha256={cert} Peer=1.2.3.4:5"), "bad field name"),
            (format!("MSSP-CHECK-E2E/1 cert-sha256={cert} {}", "x=1 ".repeat(20)), "more than 16"),
            (format!("MSSP-CHECK-E2E/1 cert-sha256={cert} peer={}", "9".repeat(200)), "longer than"),
        ];
        for (text, want) in table {
            let e = Statement::parse(text).expect_err(text);
            assert!(e.contains(want), "{text:?}: {e}");
        }
        // Errors quote little, and no control characters.
        let text = format!("{MAGIC} cert-sha256=\x1b[31m{}", "A".repeat(5000));
        let e = Statement::parse(&text).expect_err("bad");
        assert!(e.len() < 200 && !e.contains('\x1b'), "{e:?}");
    }

    #[test]
    fn garbage_never_panics() {
        // Deterministic xorshift: random insertions into a good line, and random bytes.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            usize::try_from(x % 4096).unwrap_or(0)
        };
        let alphabet: Vec<char> = "MSSP-E2E/1 =[]:.09afgpeer\r\n\t\u{e9}\u{202e}"
            .chars()
            .collect();
        let good = full().to_line();
        for _ in 0..5_000 {
            let mut s = good.clone();
            for _ in 0..next() % 8 {
                let at = next() % s.len();
                if s.is_char_boundary(at) {
                    s.insert(at, alphabet[next() % alphabet.len()]);
                }
            }
            let _ = Statement::parse(&s);
            let bytes: Vec<u8> = (0..next() % 200)
                .map(|_| u8::try_from(next() % 256).unwrap_or(0))
                .collect();
            let _ = Statement::parse(&format!("{MAGIC} {}", String::from_utf8_lossy(&bytes)));
        }
        let huge = format!("{MAGIC} {}", "peer=[".repeat(200_000));
        assert!(huge.len() > 1_000_000 && Statement::parse(&huge).is_err());
        let huge = format!("{} {good}", "MSSP-CHECK-E2E/1x".repeat(60_000));
        assert!(huge.len() > 1_000_000 && Statement::parse(&huge).is_ok());
    }

    #[test]
    fn sign_and_verify() {
        let mut s = full();
        assert!(!s.verify(b"token"), "no mac");
        s.sign(b"token");
        assert!(s.verify(b"token"));
        assert!(!s.verify(b"other"));
        let parsed = Statement::parse(&s.to_line()).expect("parses");
        assert!(parsed.verify(b"token"));
        let altered: [fn(&mut Statement); 7] = [
            |s| s.tls_ekm = None,
            |s| s.tls_ekm = Some("cd".repeat(EKM_LEN)),
            |s| s.cert_sha256 = "0".repeat(64),
            |s| s.peer = "[2001:db8::7]:50313".parse().expect("addr"),
            |s| s.text_sha256 = None,
            |s| s.nonce = Some("f".repeat(32)),
            |s| s.nonce = None,
        ];
        for alter in altered {
            let mut t = s.clone();
            alter(&mut t);
            assert!(!t.verify(b"token"), "{t:?}");
        }
        let mut bad = s.clone();
        bad.mac = Some("zz".into());
        assert!(!bad.verify(b"token"));
        let empty = Statement::new(b"", "10.0.0.1:1".parse().expect("addr"));
        assert_eq!(
            empty.canonical(),
            "cert-sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855;\
             peer=10.0.0.1:1;text-sha256=-;nonce=-;tls-ekm=-"
        );
    }

    #[test]
    fn nonces_are_fresh_hex_and_lines_parse() {
        let (a, b) = (new_nonce(), new_nonce());
        assert_ne!(a, b);
        assert_eq!(valid_nonce(&a), Some(a.clone()));
        assert_eq!(parse_nonce_line(nonce_line(&a).as_bytes()), Some(a.clone()));
        assert_eq!(
            parse_nonce_line(format!("{NONCE_LINE} {}", a.to_uppercase()).as_bytes()),
            Some(a)
        );
        for bad in [
            "MSSP-CHECK-NONCE/1 abc\r\n",
            "MSSP-CHECK-NONCE/1\r\n",
            "GET / HTTP/1.1\r\n",
        ] {
            assert_eq!(parse_nonce_line(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(parse_nonce_line(&[0xff, 0xfe]), None);
    }
}
