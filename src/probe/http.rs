//! Sans-IO HTTP/1.1 (RFC 9112): the one credential-free GET a probe sends, and a bounded reader of the answer's head and the start of its body.

use crate::probe::starttls::{compatible, not_protocol, text, DialogueStep, Failure, MAX_SEEN};

/// Largest response head (status line, headers, blank line; interim 1xx heads included).
pub const MAX_HEAD: usize = 16 * 1024;
/// How much of the body is kept; reading stops there.
pub const MAX_BODY_PREFIX: usize = 4 * 1024;
/// Sent as `User-Agent`.
pub const USER_AGENT: &str = concat!("mssp-check/", env!("CARGO_PKG_VERSION"));

use std::fmt::Write as _;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Keeps visible ASCII; in a path, percent-encodes everything else, in a host, drops it (no
/// header or request-line injection through either).
fn clean(s: &str, percent: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x21..=0x7e).contains(&b) {
            out.push(char::from(b));
        } else if percent {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

/// `GET path HTTP/1.1` with Host, User-Agent, `Accept: */*` and `Connection: close`; no credentials.
#[must_use]
pub fn get_request(host_header: &str, path: &str) -> Vec<u8> {
    get_request_with(host_header, path, &[])
}

/// [`get_request`] with more headers (names and values cleaned like the host).
#[must_use]
pub fn get_request_with(host_header: &str, path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let host = clean(host_header, false);
    let mut path = clean(path, true);
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    let mut extra_lines = String::new();
    for (name, value) in extra {
        let _ = write!(
            extra_lines,
            "{}: {}\r\n",
            clean(name, false),
            clean(value, false)
        );
    }
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\n{extra_lines}Connection: close\r\n\r\n"
    )
    .into_bytes()
}

/// The final response head and the first bytes of the body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpHead {
    pub status: u16,
    pub reason: String,
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub version: String,
    /// In order, names as sent, values trimmed (obs-fold joined with a space).
    pub headers: Vec<(String, String)>,
    /// Lossy text of at most [`MAX_BODY_PREFIX`] bytes, raw (chunk-size lines stay in).
    pub body_prefix: String,
}

impl HttpHead {
    /// The first value of header `name`, ASCII case-insensitively.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name`, in order.
    #[must_use]
    pub fn headers_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Auth schemes of every `WWW-Authenticate` challenge, as sent (`Negotiate`, `NTLM`, ...).
    #[must_use]
    pub fn auth_schemes(&self) -> Vec<String> {
        self.headers_all("www-authenticate")
            .into_iter()
            .flat_map(challenge_schemes)
            .collect()
    }

    /// Auth schemes of every `Proxy-Authenticate` challenge (a 407 from a proxy).
    #[must_use]
    pub fn proxy_auth_schemes(&self) -> Vec<String> {
        self.headers_all("proxy-authenticate")
            .into_iter()
            .flat_map(challenge_schemes)
            .collect()
    }

    /// The `Server` header.
    #[must_use]
    pub fn server(&self) -> Option<&str> {
        self.header("server")
    }
}

/// Schemes in one challenge list (RFC 9110 §11.6.1): commas outside quotes separate both
/// challenges and auth-params; a segment is a new challenge unless its token is followed by `=`.
fn challenge_schemes(value: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let (mut quoted, mut escaped, mut start) = (false, false, 0);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                segments.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    segments.push(&value[start..]);
    segments
        .into_iter()
        .filter_map(|segment| {
            let segment = segment.trim();
            let end = segment.find([' ', '\t', '=']).unwrap_or(segment.len());
            let (token, rest) = segment.split_at(end);
            (!token.is_empty() && !rest.trim_start().starts_with('=')).then(|| token.to_string())
        })
        .collect()
}

/// Index just past the blank line ending a head (`\n\r\n` or a lenient `\n\n`), searching from `from`.
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    (from..buf.len()).find_map(|i| match (buf[i], buf.get(i + 1), buf.get(i + 2)) {
        (b'\n', Some(b'\n'), _) => Some(i + 2),
        (b'\n', Some(b'\r'), Some(b'\n')) => Some(i + 3),
        _ => None,
    })
}

fn malformed(detail: String) -> Failure {
    Failure::Malformed { detail }
}

fn parse_head(raw: &[u8]) -> Result<HttpHead, Failure> {
    let mut lines = raw
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next().unwrap_or_default();
    if !status_line.starts_with(b"HTTP/1.") {
        return Err(not_protocol("http", raw));
    }
    let status_line = String::from_utf8_lossy(status_line);
    let (version, rest) = status_line.split_once(' ').unwrap_or((&status_line, ""));
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    let status = match code.parse::<u16>() {
        Ok(s) if code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()) && s >= 100 => s,
        _ => {
            return Err(malformed(format!(
                "status line {:?}",
                text(status_line.as_bytes(), MAX_SEEN)
            )))
        }
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let line = String::from_utf8_lossy(line);
        if line.starts_with([' ', '\t']) {
            // obs-fold (RFC 9112 §5.2): a continuation of the previous value.
            match headers.last_mut() {
                Some((_, v)) => {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                None => return Err(malformed("continuation line before any header".into())),
            }
            continue;
        }
        match line.split_once(':') {
            Some((name, value)) if !name.is_empty() && !name.contains([' ', '\t']) => {
                headers.push((name.to_string(), value.trim().to_string()));
            }
            _ => {
                return Err(malformed(format!(
                    "header line {:?}",
                    text(line.as_bytes(), MAX_SEEN)
                )))
            }
        }
    }
    Ok(HttpHead {
        status,
        reason: reason.to_string(),
        version: version.to_string(),
        headers,
        body_prefix: String::new(),
    })
}

/// Sans-IO reader of one response: feed what the socket gives to [`HttpResponse::receive`],
/// call [`HttpResponse::eof`] on a zero-byte read, stop reading once [`HttpResponse::is_done`].
#[derive(Debug)]
pub struct HttpResponse {
    /// Head bytes not yet parsed.
    buf: Vec<u8>,
    /// `buf` has no head end before this index.
    scanned: usize,
    /// Bytes of interim (1xx) heads already skipped; they count against [`MAX_HEAD`].
    interim: usize,
    head: Option<HttpHead>,
    body: Vec<u8>,
    body_limit: usize,
    done: bool,
    result: Result<HttpHead, Failure>,
}

impl Default for HttpResponse {
    fn default() -> Self {
        HttpResponse::new()
    }
}

impl HttpResponse {
    #[must_use]
    pub fn new() -> Self {
        HttpResponse {
            buf: Vec::new(),
            scanned: 0,
            interim: 0,
            head: None,
            body: Vec::new(),
            body_limit: 0,
            done: false,
            result: Err(Failure::Unfinished),
        }
    }

    /// Bytes read from the peer.
    pub fn receive(&mut self, mut bytes: &[u8]) {
        while !self.done && !bytes.is_empty() {
            if self.head.is_some() {
                let take = (self.body_limit - self.body.len()).min(bytes.len());
                self.body.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                if self.body.len() >= self.body_limit {
                    self.finish();
                }
            } else {
                let room = MAX_HEAD.saturating_sub(self.interim + self.buf.len());
                let take = room.min(bytes.len());
                self.buf.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                self.scan();
            }
        }
    }

    /// The peer closed its side.
    pub fn eof(&mut self) {
        if self.done {
            return;
        }
        if self.head.is_some() {
            return self.finish();
        }
        let failure = if self.interim == 0 && !compatible(&self.buf, &[b"HTTP/1."]) {
            not_protocol("http", &self.buf)
        } else {
            Failure::Closed {
                during: DialogueStep::HttpHead,
            }
        };
        self.fail(failure);
    }

    /// Whether reading can stop.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// `"http-head"` or `"http-body"`, for naming a driver timeout.
    #[must_use]
    pub fn step(&self) -> DialogueStep {
        match (self.done, &self.head) {
            (true, _) => DialogueStep::Done,
            (false, None) => DialogueStep::HttpHead,
            (false, Some(_)) => DialogueStep::HttpBody,
        }
    }

    /// The final head; `Err(Failure::Unfinished)` before [`HttpResponse::is_done`].
    ///
    /// # Errors
    /// Why the answer is not a usable HTTP/1.x response.
    pub fn outcome(&self) -> Result<&HttpHead, &Failure> {
        self.result.as_ref()
    }

    /// Like [`HttpResponse::outcome`], by value.
    ///
    /// # Errors
    /// As [`HttpResponse::outcome`].
    pub fn into_outcome(self) -> Result<HttpHead, Failure> {
        self.result
    }

    /// Looks for the end of the head in `buf`; parses it, skipping interim 1xx heads.
    fn scan(&mut self) {
        loop {
            let first = &self.buf[..self.buf.len().min(MAX_SEEN)];
            if self.interim == 0
                && !compatible(first, &[b"HTTP/1."])
                && (first.len() >= MAX_SEEN || first.contains(&b'\n'))
            {
                let f = not_protocol("http", first);
                return self.fail(f);
            }
            let Some(end) = head_end(&self.buf, self.scanned) else {
                self.scanned = self.buf.len().saturating_sub(2);
                if self.interim + self.buf.len() >= MAX_HEAD {
                    self.fail(Failure::TooMuchData { limit: MAX_HEAD });
                }
                return;
            };
            let rest = self.buf.split_off(end);
            let raw = std::mem::replace(&mut self.buf, rest);
            self.scanned = 0;
            let head = match parse_head(&raw) {
                Ok(head) => head,
                Err(f) => return self.fail(f),
            };
            // 1xx (but 101, which ends HTTP/1.1 on this connection) is interim: another head follows.
            if (100..200).contains(&head.status) && head.status != 101 {
                self.interim += end;
                continue;
            }
            self.body_limit = body_limit(&head);
            self.head = Some(head);
            let body = std::mem::take(&mut self.buf);
            if self.body_limit == 0 {
                self.finish();
            } else {
                self.receive(&body);
            }
            return;
        }
    }

    fn fail(&mut self, f: Failure) {
        self.done = true;
        self.buf = Vec::new();
        self.result = Err(f);
    }

    fn finish(&mut self) {
        self.done = true;
        self.buf = Vec::new();
        if let Some(mut head) = self.head.take() {
            head.body_prefix = String::from_utf8_lossy(&self.body).into_owned();
            self.result = Ok(head);
        }
    }
}

/// How many body bytes to wait for: none for 101/204/304, up to Content-Length when it is
/// valid and no Transfer-Encoding overrides it (RFC 9112 §6.3), else up to the prefix cap.
fn body_limit(head: &HttpHead) -> usize {
    if matches!(head.status, 101 | 204 | 304) {
        return 0;
    }
    let length = match (
        head.header("transfer-encoding"),
        head.headers_all("content-length").as_slice(),
    ) {
        (None, [one]) => one.parse::<usize>().ok(),
        _ => None,
    };
    length.map_or(MAX_BODY_PREFIX, |n| n.min(MAX_BODY_PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Exchange on-premises EWS without credentials (domain research §4.4).
    const EWS_401: &[u8] = b"HTTP/1.1 401 Unauthorized\r\nServer: Microsoft-IIS/10.0\r\nrequest-id: 1b2f0c8e-3c55-4a0e-9d1b-2d5c0e6f7a10\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\nX-Powered-By: ASP.NET\r\nX-FEServer: CAS01\r\nDate: Sun, 29 Nov 2026 10:00:00 GMT\r\nContent-Length: 0\r\n\r\n";
    const PAGE_200: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 45\r\n\r\n<!DOCTYPE html><html><body>hi</body></html>\r\n";
    const SQUID_403: &[u8] = b"HTTP/1.1 403 Forbidden\r\nServer: squid/5.7\r\nX-Squid-Error: ERR_ACCESS_DENIED 0\r\nVia: 1.1 proxy01 (squid/5.7)\r\nVia: 1.1 edge\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n<html><head><title>ERROR: The requested URL could not be retrieved</title></head></html>";

    /// name, bytes, eof, status, body prefix length, done before eof.
    type Row<'a> = (&'a str, &'a [u8], bool, u16, usize, bool);

    /// Feeds `bytes` whole and byte by byte (eof at the end unless done first); both must agree.
    fn read(bytes: &[u8], eof: bool) -> HttpResponse {
        let mut whole = HttpResponse::new();
        whole.receive(bytes);
        let mut trickle = HttpResponse::new();
        for b in bytes {
            if trickle.is_done() {
                break;
            }
            trickle.receive(&[*b]);
        }
        if eof {
            whole.eof();
            trickle.eof();
        }
        assert_eq!(whole.outcome(), trickle.outcome(), "trickle differs");
        whole
    }

    #[test]
    fn the_request_is_exact_and_injection_free() {
        assert_eq!(
            String::from_utf8_lossy(&get_request("mail.example.com", "/EWS/Exchange.asmx")),
            format!("GET /EWS/Exchange.asmx HTTP/1.1\r\nHost: mail.example.com\r\nUser-Agent: mssp-check/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n", env!("CARGO_PKG_VERSION"))
        );
        let evil = String::from_utf8_lossy(&get_request("[::1]:8443\r\nX-Evil: 1", "a b\r\nÄ"))
            .into_owned();
        assert!(
            evil.starts_with("GET /a%20b%0D%0A%C3%84 HTTP/1.1\r\nHost: [::1]:8443X-Evil:1\r\n"),
            "{evil}"
        );
        assert_eq!(evil.matches("\r\n").count(), 6, "no extra header lines");
    }

    #[test]
    fn ews_401_lists_both_schemes_and_ends_without_eof() {
        let r = read(EWS_401, false);
        assert!(r.is_done(), "Content-Length: 0 ends the answer");
        let head = r.outcome().map_err(Clone::clone);
        let Ok(head) = head else { panic!("{head:?}") };
        assert_eq!(
            (head.status, head.reason.as_str(), head.version.as_str()),
            (401, "Unauthorized", "HTTP/1.1")
        );
        assert_eq!(head.auth_schemes(), ["Negotiate", "NTLM"]);
        assert_eq!(head.server(), Some("Microsoft-IIS/10.0"));
        assert_eq!(head.header("x-feserver"), Some("CAS01"));
        assert_eq!(head.headers_all("WWW-AUTHENTICATE"), ["Negotiate", "NTLM"]);
        assert_eq!(head.body_prefix, "");
    }

    #[test]
    fn challenges_are_split_into_schemes() {
        #[rustfmt::skip]
        let table: &[(&str, &[&str])] = &[
            ("Negotiate, NTLM", &["Negotiate", "NTLM"]),
            ("Basic realm=\"mail.example.com\"", &["Basic"]),
            ("Bearer client_id=\"00000002-0000-0ff1-ce00-000000000000\", trusted_issuers=\"00000001-0000-0000-c000-000000000000@*\", token_types=\"app_asserted_user_v1 service_asserted_app_v1\", authorization_uri=\"https://login.windows.net/common/oauth2/authorize\"", &["Bearer"]),
            ("Basic realm=\"a, b\", charset=\"UTF-8\", Negotiate oYIBCg==", &["Basic", "Negotiate"]),
            ("Digest realm=\"x\\\", y\", qop=\"auth\"", &["Digest"]),
            ("", &[]),
        ];
        for (value, want) in table {
            assert_eq!(challenge_schemes(value), *want, "{value}");
        }
    }

    #[test]
    fn other_answers_are_read_as_far_as_needed() {
        let mut big = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
        big.extend(std::iter::repeat_n(b'x', 10_000));
        let mut chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n".to_vec();
        chunked.extend_from_slice(b"5\r\nhello\r\n0\r\n\r\n");
        #[rustfmt::skip]
        let table: &[Row] = &[
            // name, bytes, eof, status, body prefix length, done before eof
            ("200 html, Content-Length reached", PAGE_200, false, 200, 45, true),
            ("403 squid, read to eof", SQUID_403, true, 403, 88, false),
            ("no length: 4 KiB then stop", &big, false, 200, MAX_BODY_PREFIX, true),
            ("chunked ignores Content-Length", &chunked, true, 200, 15, false),
            ("204 has no body", b"HTTP/1.1 204 No Content\r\n\r\n", false, 204, 0, true),
            ("100 Continue is skipped", b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", false, 401, 0, true),
            ("bare LF lines, empty reason", b"HTTP/1.1 302\nLocation: http://portal/\nContent-Length: 0\n\n", false, 302, 0, true),
        ];
        for (name, bytes, eof, status, body, early) in table {
            let mut r = HttpResponse::new();
            r.receive(bytes);
            assert_eq!(r.is_done(), *early, "{name}: done before eof");
            let r = read(bytes, *eof);
            let head = r.outcome().map_err(Clone::clone);
            let Ok(head) = head else {
                panic!("{name}: {head:?}")
            };
            assert_eq!(
                (head.status, head.body_prefix.len()),
                (*status, *body),
                "{name}"
            );
        }
        let squid = read(SQUID_403, true).into_outcome().unwrap_or_default();
        assert_eq!(
            squid.headers_all("via"),
            ["1.1 proxy01 (squid/5.7)", "1.1 edge"]
        );
        assert!(squid.body_prefix.contains("could not be retrieved"));
    }

    #[test]
    fn folded_headers_are_joined() {
        let r = read(
            b"HTTP/1.1 401 X\r\nWWW-Authenticate: Negotiate,\r\n NTLM\r\nContent-Length: 0\r\n\r\n",
            false,
        );
        assert_eq!(
            r.outcome().map(HttpHead::auth_schemes),
            Ok(vec!["Negotiate".to_string(), "NTLM".to_string()])
        );
    }

    #[test]
    fn a_head_over_16_kib_fails_and_keeps_nothing() {
        let mut bytes = b"HTTP/1.1 200 OK\r\n".to_vec();
        while bytes.len() <= MAX_HEAD {
            bytes.extend_from_slice(
                b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
            );
        }
        bytes.extend_from_slice(b"\r\n");
        let r = read(&bytes, true);
        assert_eq!(r.outcome(), Err(&Failure::TooMuchData { limit: MAX_HEAD }));
        assert!(r.buf.capacity() == 0 && r.is_done());
        let mut exact = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        exact.resize(MAX_HEAD - 4, b'a');
        exact.extend_from_slice(b"\r\n\r\n");
        assert_eq!(
            read(&exact, true).outcome().map(|h| h.status),
            Ok(200),
            "exactly 16 KiB is fine"
        );
    }

    #[test]
    fn broken_answers_fail_with_a_reason() {
        #[rustfmt::skip]
        let table: &[(&[u8], Failure)] = &[
            (b"SSH-2.0-OpenSSH_9.2\r\n", Failure::NotProtocol { expected: "http", seen: "SSH-2.0-OpenSSH_9.2".into(), looks_like: Some("ssh") }),
            (&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46], Failure::NotProtocol { expected: "http", seen: "\u{15}\u{3}\u{3}\0\u{2}\u{2}F".into(), looks_like: Some("tls") }),
            (b"", Failure::Closed { during: DialogueStep::HttpHead }),
            (b"HTTP/1.1 200 OK\r\nServer: x\r\n", Failure::Closed { during: DialogueStep::HttpHead }),
            (b"HTTP/1.1 2000 OK\r\n\r\n", Failure::Malformed { detail: "status line \"HTTP/1.1 2000 OK\"".into() }),
            (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", Failure::Malformed { detail: "header line \"no colon here\"".into() }),
            (b"HTTP/1.1 200 OK\r\n folded first\r\n\r\n", Failure::Malformed { detail: "continuation line before any header".into() }),
        ];
        for (bytes, want) in table {
            assert_eq!(read(bytes, true).outcome(), Err(want), "{bytes:?}");
        }
        assert_eq!(HttpResponse::new().outcome(), Err(&Failure::Unfinished));
    }

    #[test]
    fn steps_are_named() {
        let mut r = HttpResponse::default();
        assert_eq!(r.step(), DialogueStep::HttpHead);
        r.receive(b"HTTP/1.1 200 OK\r\n\r\nabc");
        assert_eq!(r.step(), DialogueStep::HttpBody);
        r.eof();
        assert_eq!(
            (r.step(), r.outcome().map(|h| h.body_prefix.as_str())),
            (DialogueStep::Done, Ok("abc"))
        );
    }
}
