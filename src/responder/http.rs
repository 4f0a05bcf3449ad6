//! The responder's HTTPS answer: read one HTTP/1.1 request head (RFC 9112, at most
//! [`MAX_REQUEST_HEAD`] bytes), answer `200 OK` with the statement in the
//! [`e2e::HTTP_HEADER`] header, close.

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::e2e;
use crate::sanitize::printable;

use super::context::{statement_details, Ctx, LINGER};
use super::stream::{describe, finish};

/// Largest request head read.
pub const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// The `Server` header.
pub const SERVER: &str = concat!("mssp-check-responder/", env!("CARGO_PKG_VERSION"));
/// Characters of the request target quoted in the log.
const LOG_TARGET: usize = 60;

/// What the responder uses of a request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub target: String,
    /// A valid [`e2e::NONCE_HEADER`], lower-cased.
    pub nonce: Option<String>,
    /// The nonce header was there but is not 32 hex digits.
    pub bad_nonce: bool,
}

/// Index just past the blank line that ends a head (`\r\n\r\n`, or a lenient `\n\n`).
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    (from..buf.len()).find_map(|i| match (buf[i], buf.get(i + 1), buf.get(i + 2)) {
        (b'\n', Some(b'\n'), _) => Some(i + 2),
        (b'\n', Some(b'\r'), Some(b'\n')) => Some(i + 3),
        _ => None,
    })
}

/// `method SP request-target SP HTTP/1.x`, then header lines.
///
/// # Errors
/// Which part of the head is malformed.
pub fn parse_request(head: &[u8]) -> Result<Request, &'static str> {
    let text = std::str::from_utf8(head).map_err(|_| "the request head is not UTF-8")?;
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let mut parts = first.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the request line is not 'METHOD target HTTP/1.1'");
    };
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if method.is_empty() || method.len() > 16 || !method.bytes().all(tchar) {
        return Err("bad method");
    }
    if target.is_empty() || !target.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err("bad request target");
    }
    if !matches!(version, "HTTP/1.1" | "HTTP/1.0") {
        return Err("not HTTP/1.0 or HTTP/1.1");
    }
    let (mut nonce, mut bad_nonce) = (None, false);
    for line in lines.take_while(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err("a header line without ':'");
        };
        if name.eq_ignore_ascii_case(e2e::NONCE_HEADER) {
            nonce = e2e::valid_nonce(value);
            bad_nonce = nonce.is_none();
        }
    }
    Ok(Request {
        method: method.to_string(),
        target: target.to_string(),
        nonce,
        bad_nonce,
    })
}

/// A complete response: status line, the fixed headers, the statement header, the body
/// (left out for HEAD, but counted in `Content-Length`).
#[must_use]
pub fn response(status: &str, statement_line: &str, body: &str, head_only: bool) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\nCache-Control: no-store\r\nServer: {SERVER}\r\n{}: {statement_line}\r\n\r\n",
        body.len(),
        e2e::HTTP_HEADER,
    );
    if !head_only {
        r.push_str(body);
    }
    r.into_bytes()
}

fn body(port: u16) -> String {
    format!(
        "mssp-check responder on port {port}: not MailStore SPE, but a stand-in that lets \
         firewalls be checked before go-live.\n\
         The {} header says which certificate this end served and which source address it \
         saw; a client that saw another certificate is being intercepted.\n",
        e2e::HTTP_HEADER
    )
}

/// Reads the head (bounded), answers, closes; returns the result for the log.
pub(super) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    ctx: &Ctx,
    s: &mut S,
    peer: SocketAddr,
    port: u16,
    version: &'static str,
    ekm: Option<&str>,
) -> String {
    let (mut buf, mut scanned) = (Vec::new(), 0);
    let head = loop {
        if let Some(end) = head_end(&buf, scanned) {
            break Some(end);
        }
        scanned = buf.len().saturating_sub(2);
        if buf.len() >= MAX_REQUEST_HEAD {
            break None;
        }
        let mut chunk = vec![0u8; (MAX_REQUEST_HEAD - buf.len()).min(4096)];
        match s.read(&mut chunk).await {
            Ok(0) if buf.is_empty() => {
                return format!("{version} up; the client closed without a request")
            }
            Ok(0) => {
                return format!("{version} up; the client closed in the middle of the request head")
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return format!("{version} up; {}", describe(&e)),
        }
    };
    let (status, request) = match head.map(|end| parse_request(&buf[..end])) {
        None => (
            "431 Request Header Fields Too Large",
            Err("request head larger than 16 KiB"),
        ),
        Some(Err(why)) => ("400 Bad Request", Err(why)),
        Some(Ok(r)) => ("200 OK", Ok(r)),
    };
    let nonce = request.as_ref().ok().and_then(|r| r.nonce.clone());
    let statement = ctx.statement(peer, None, nonce, ekm);
    let head_only = request.as_ref().is_ok_and(|r| r.method == "HEAD");
    let bytes = response(status, &statement.to_line(), &body(port), head_only);
    let written = async {
        s.write_all(&bytes).await?;
        s.flush().await
    }
    .await;
    let what = match &request {
        Ok(r) => format!(
            "{} {} -> {status}",
            r.method,
            printable(&r.target, LOG_TARGET)
        ),
        Err(why) => format!("{status} ({why})"),
    };
    if let Err(e) = written {
        return format!("{what}; {}", describe(&e));
    }
    finish(s, LINGER).await;
    let bad_nonce = if request.as_ref().is_ok_and(|r| r.bad_nonce) {
        "; the nonce header was not 32 hex digits and was ignored"
    } else {
        ""
    };
    format!(
        "{what}, statement sent {}{bad_nonce}",
        statement_details(version, &statement)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_request_parses_with_its_nonce() {
        let nonce = "00112233445566778899AABBCCDDEEFF";
        let head = format!(
            "GET /EWS/Exchange.asmx HTTP/1.1\r\nHost: cas01\r\nx-mssp-check-nonce:  {nonce} \r\n\r\n"
        );
        let r = parse_request(head.as_bytes()).expect("parses");
        assert_eq!(
            r,
            Request {
                method: "GET".into(),
                target: "/EWS/Exchange.asmx".into(),
                nonce: Some(nonce.to_ascii_lowercase()),
                bad_nonce: false,
            }
        );
        let bad = parse_request(b"HEAD / HTTP/1.0\nX-MSSP-Check-Nonce: xyz\n\n").expect("parses");
        assert_eq!(
            (bad.method.as_str(), bad.nonce, bad.bad_nonce),
            ("HEAD", None, true)
        );
    }

    #[test]
    fn malformed_heads_are_named() {
        #[rustfmt::skip]
        let table: &[(&[u8], &str)] = &[
            (b"\x16\x03\x01\x02\x00\r\n\r\n", "request line"),
            (b"GET /\r\n\r\n", "request line"),
            (b"GET / HTTP/2\r\n\r\n", "not HTTP/1.0"),
            (b"G(T / HTTP/1.1\r\n\r\n", "bad method"),
            (b"GET /\x7f HTTP/1.1\r\n\r\n", "bad request target"),
            (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", "without ':'"),
            (b"GET / HTTP/1.1\r\nX: \xff\r\n\r\n", "not UTF-8"),
        ];
        for (head, want) in table {
            let e = parse_request(head).expect_err("malformed");
            assert!(e.contains(want), "{head:?}: {e}");
        }
    }

    #[test]
    fn head_end_finds_both_line_ends() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nbody", 0), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nbody", 15), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.1\n\nbody", 0), Some(16));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n", 0), None);
    }

    #[test]
    fn the_response_is_what_the_probe_parses() {
        let line = "MSSP-CHECK-E2E/1 cert-sha256=aa peer=127.0.0.1:1";
        let bytes = response("200 OK", line, "hello\n", false);
        let mut reader = crate::probe::http::HttpResponse::new();
        reader.receive(&bytes);
        reader.eof();
        let head = reader.outcome().expect("a response");
        assert_eq!(head.status, 200);
        assert_eq!(head.header("content-type"), Some("text/plain"));
        assert_eq!(head.header("connection"), Some("close"));
        assert_eq!(head.server(), Some(SERVER));
        assert_eq!(head.header(e2e::HTTP_HEADER), Some(line));
        assert_eq!(head.body_prefix, "hello\n");
        let head_only = response("200 OK", line, "hello\n", true);
        let want = format!(
            "Content-Length: 6\r\nConnection: close\r\nCache-Control: no-store\r\n\
             Server: {SERVER}\r\nX-MSSP-Check-E2E: {line}\r\n\r\n"
        );
        assert!(String::from_utf8_lossy(&head_only).ends_with(&want));
    }
}
