//! A second look at a server that refused this tool's TLS (TLS 1.2+ with forward-secret AEAD
//! suites, what rustls speaks): one hand-made TLS 1.2 `ClientHello` that also offers the
//! legacy suites Windows still accepts (RSA key exchange, CBC, DHE, 3DES), and a parser for
//! what comes back in plaintext ([`Flight`]) — the `ServerHello` (version and suite chosen) and the
//! `Certificate` message (the chain, judged like any other). The handshake is never
//! finished: no key exchange, no data.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

mod flight;

pub use flight::{Flight, MAX_READ};

/// The suites offered, in preference order, with their IANA names. Modern ones first, so
/// that a server that has them picks them; the rest are what old servers have.
const SUITES: &[(u16, &str)] = &[
    (0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    (0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
    (0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
    (0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
    (0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"),
    (0xc028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"),
    (0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    (0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
    (0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"),
    (0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"),
    (0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
    (0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"),
    (0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"),
    (0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"),
    (0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"),
    (0x006b, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"),
    (0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"),
    (0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"),
    (0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256"),
    (0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384"),
    (0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256"),
    (0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256"),
    (0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA"),
    (0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"),
    (0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
];

/// What the server answered to the legacy `ClientHello`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// It chose a version and a suite, and sent its chain (DER, leaf first; empty when the
    /// `Certificate` message did not come).
    Hello {
        version: u16,
        suite: u16,
        chain: Vec<Vec<u8>>,
    },
    /// It refused this too, with a TLS alert.
    Alert { description: u8 },
    /// Anything else: closed, silent, not TLS, malformed.
    Nothing(String),
}

/// `TLSv1.0` … `TLSv1.2`, or the number.
#[must_use]
pub fn version_name(v: u16) -> String {
    crate::observation::version_label(rustls::ProtocolVersion::from(v))
}

/// The IANA name of an offered suite, or its number.
#[must_use]
pub fn suite_name(s: u16) -> String {
    SUITES
        .iter()
        .find(|(id, _)| *id == s)
        .map_or_else(|| format!("suite 0x{s:04x}"), |(_, n)| (*n).to_string())
}

/// Whether rustls could have spoken this version and suite (ECDHE with AES-GCM in TLS 1.2):
/// then the server refused for another reason, and the legacy look explains nothing.
#[must_use]
pub fn modern(version: u16, suite: u16) -> bool {
    version == 0x0303 && matches!(suite, 0xc02f | 0xc030 | 0xc02b | 0xc02c)
}

fn u16_be(v: usize) -> [u8; 2] {
    u16::try_from(v).unwrap_or(u16::MAX).to_be_bytes()
}

/// One extension: type, length, body.
fn ext(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&u16_be(body.len()));
    out.extend_from_slice(body);
}

/// The `ClientHello` record: TLS 1.2 at most (no `supported_versions`), every suite this
/// module knows (modern ones first, then the legacy ones), SNI when `sni` is a name, the
/// groups and signature schemes old servers need.
#[must_use]
pub fn client_hello(sni: Option<&str>, random: [u8; 32]) -> Vec<u8> {
    let mut exts = Vec::new();
    if let Some(name) = sni {
        let mut list = vec![0u8]; // host_name
        list.extend_from_slice(&u16_be(name.len()));
        list.extend_from_slice(name.as_bytes());
        let mut body = u16_be(list.len()).to_vec();
        body.extend_from_slice(&list);
        ext(&mut exts, 0x0000, &body);
    }
    // supported_groups: x25519, secp256r1, secp384r1.
    ext(
        &mut exts,
        0x000a,
        &[0, 6, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18],
    );
    // ec_point_formats: uncompressed.
    ext(&mut exts, 0x000b, &[1, 0]);
    // signature_algorithms: RSA-PSS, PKCS#1 and ECDSA with SHA-256/384/512, then SHA-1.
    let schemes: [u16; 10] = [
        0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0403, 0x0503, 0x0201, 0x0203,
    ];
    let mut sig = u16_be(schemes.len() * 2).to_vec();
    for s in schemes {
        sig.extend_from_slice(&s.to_be_bytes());
    }
    ext(&mut exts, 0x000d, &sig);
    // renegotiation_info (empty): some old servers insist on it.
    ext(&mut exts, 0xff01, &[0]);

    let mut hello = vec![0x03, 0x03]; // client_version TLS 1.2
    hello.extend_from_slice(&random);
    hello.push(0); // no session id
    hello.extend_from_slice(&u16_be(SUITES.len() * 2));
    for (id, _) in SUITES {
        hello.extend_from_slice(&id.to_be_bytes());
    }
    hello.extend_from_slice(&[1, 0]); // compression: null
    hello.extend_from_slice(&u16_be(exts.len()));
    hello.extend_from_slice(&exts);

    let mut hs = vec![0x01];
    let len = u32::try_from(hello.len()).unwrap_or(0).to_be_bytes();
    hs.extend_from_slice(&len[1..]);
    hs.extend_from_slice(&hello);

    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&u16_be(hs.len()));
    record.extend_from_slice(&hs);
    record
}

/// Sends the legacy `ClientHello` on `stream` and reads the answer through a [`Flight`],
/// each read bounded by `step`.
pub async fn ask<S>(stream: &mut S, sni: Option<&str>, step: Duration) -> Answer
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut random = [0u8; 32];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random);
    if let Err(e) = stream.write_all(&client_hello(sni, random)).await {
        return Answer::Nothing(format!("could not send: {e}"));
    }
    let mut flight = Flight::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match tokio::time::timeout(step, stream.read(&mut buf)).await {
            Err(_) | Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => {
                if flight.feed(buf.get(..n).unwrap_or_default()) {
                    break;
                }
            }
        }
    }
    flight.answer()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `ServerHello` + `Certificate` + `ServerHelloDone` flight, as an old server sends it.
    pub(super) fn flight(version: u16, suite: u16, certs: &[&[u8]]) -> Vec<u8> {
        let mut hello = version.to_be_bytes().to_vec();
        hello.extend_from_slice(&[7u8; 32]);
        hello.push(0);
        hello.extend_from_slice(&suite.to_be_bytes());
        hello.push(0);
        let mut list = Vec::new();
        for c in certs {
            list.extend_from_slice(&u32::try_from(c.len()).expect("len").to_be_bytes()[1..]);
            list.extend_from_slice(c);
        }
        let mut cert = u32::try_from(list.len()).expect("len").to_be_bytes()[1..].to_vec();
        cert.extend_from_slice(&list);
        let mut hs = Vec::new();
        for (kind, body) in [(2u8, hello), (11, cert), (14, Vec::new())] {
            hs.push(kind);
            hs.extend_from_slice(&u32::try_from(body.len()).expect("len").to_be_bytes()[1..]);
            hs.extend_from_slice(&body);
        }
        // Split across two records, as servers do with long chains.
        let cut = hs.len() / 2;
        let mut out = Vec::new();
        for part in [&hs[..cut], &hs[cut..]] {
            out.extend_from_slice(&[0x16, 0x03, 0x01]);
            out.extend_from_slice(&u16_be(part.len()));
            out.extend_from_slice(part);
        }
        out
    }

    #[test]
    fn the_client_hello_is_well_formed() {
        let h = client_hello(Some("mail.example.test"), [1; 32]);
        assert_eq!(&h[..3], &[0x16, 0x03, 0x01]);
        let record_len = usize::from(u16::from_be_bytes([h[3], h[4]]));
        assert_eq!(record_len, h.len() - 5);
        assert_eq!(h[5], 1, "ClientHello");
        let hs_len = usize::from(h[6]) << 16 | usize::from(h[7]) << 8 | usize::from(h[8]);
        assert_eq!(hs_len, h.len() - 9);
        assert_eq!(&h[9..11], &[0x03, 0x03]);
        let suites_len = usize::from(u16::from_be_bytes([h[44], h[45]]));
        assert_eq!(suites_len, SUITES.len() * 2);
        assert!(h.windows(17).any(|w| w == b"mail.example.test"), "SNI");
        let bare = client_hello(None, [1; 32]);
        assert_eq!(
            bare.len(),
            h.len() - (9 + "mail.example.test".len()),
            "no SNI without a name"
        );
    }

    #[tokio::test]
    async fn an_old_servers_flight_is_read() {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        let certs: [&[u8]; 2] = [b"leaf-der", b"ca-der"];
        let answer = flight(0x0301, 0x002f, &certs);
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let _ = server.read(&mut buf).await;
            let _ = server.write_all(&answer).await;
            let mut hold = [0u8; 1];
            let _ = server.read(&mut hold).await;
        });
        let got = ask(&mut client, None, Duration::from_secs(2)).await;
        assert_eq!(
            got,
            Answer::Hello {
                version: 0x0301,
                suite: 0x002f,
                chain: vec![b"leaf-der".to_vec(), b"ca-der".to_vec()],
            }
        );
        assert_eq!(version_name(0x0301), "TLSv1.0");
        assert_eq!(suite_name(0x002f), "TLS_RSA_WITH_AES_128_CBC_SHA");
        assert!(!modern(0x0303, 0x002f) && modern(0x0303, 0xc02f));
    }

    #[tokio::test]
    async fn alerts_garbage_and_silence_end_it() {
        for (reply, want) in [
            (
                &b"\x15\x03\x01\x00\x02\x02\x28"[..],
                Some(Answer::Alert { description: 40 }),
            ),
            (&b"HTTP/1.1 400 Bad Request\r\n\r\n"[..], None),
            (&b""[..], None),
        ] {
            let (mut client, mut server) = tokio::io::duplex(4096);
            let reply = reply.to_vec();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = server.read(&mut buf).await;
                let _ = server.write_all(&reply).await;
            });
            let got = ask(&mut client, None, Duration::from_millis(300)).await;
            match want {
                Some(w) => assert_eq!(got, w),
                None => assert!(matches!(got, Answer::Nothing(_)), "{got:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_huge_record_length_does_not_allocate_or_hang() {
        let (mut client, mut server) = tokio::io::duplex(4096);
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let _ = server.read(&mut buf).await;
            // A handshake message that claims 16 MiB, then silence.
            let _ = server
                .write_all(b"\x16\x03\x03\x00\x04\x0b\xff\xff\xff")
                .await;
            let mut hold = [0u8; 1];
            let _ = server.read(&mut hold).await;
        });
        let got = ask(&mut client, None, Duration::from_millis(300)).await;
        assert!(matches!(got, Answer::Nothing(_)), "{got:?}");
    }

    /// `real` read by [`ask`] from a server that sends it, and fed whole to a [`Flight`]:
    /// the two must agree.
    async fn ask_and_feed(real: Vec<u8>) -> Answer {
        let mut fed = Flight::new();
        assert!(fed.feed(&real), "the whole flight settles the answer");
        let fed = fed.answer();
        let (mut client, mut peer) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let _ = peer.read(&mut buf).await;
            let _ = peer.write_all(&real).await;
            let mut hold = [0u8; 1];
            let _ = peer.read(&mut hold).await;
        });
        let asked = ask(&mut client, Some("legacy.test"), Duration::from_secs(2)).await;
        assert_eq!(asked, fed);
        asked
    }

    #[tokio::test]
    async fn ask_and_the_flight_reader_agree_on_a_real_servers_flight() {
        // A real TLS 1.2 server (rustls with the responder's identity) answers the hello.
        let identity = crate::responder::Identity::generate(Some("legacy.test")).expect("id");
        let config = identity.server_config().expect("server config");
        let mut server = rustls::ServerConnection::new(config).expect("server");
        let hello = client_hello(Some("legacy.test"), [3; 32]);
        server.read_tls(&mut &hello[..]).expect("read the hello");
        server
            .process_new_packets()
            .expect("rustls accepts the legacy ClientHello");
        let mut real = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut real).expect("write the flight");
        }

        let asked = ask_and_feed(real).await;
        let Answer::Hello {
            version,
            suite,
            chain,
        } = asked
        else {
            panic!("no ServerHello read from a real server: {asked:?}");
        };
        assert!(modern(version, suite), "{version:#x} {suite:#x}");
        let want: Vec<Vec<u8>> = identity.chain.iter().map(|c| c.to_vec()).collect();
        assert_eq!(chain, want);
    }

    #[tokio::test]
    async fn an_openssl_tls_1_0_servers_flight_is_read() {
        // What `openssl s_server -tls1 -cipher AES128-SHA:@SECLEVEL=0` sent (a fuzz seed; its
        // first byte is the fuzzer's chunk size): ServerHello, one certificate, Done.
        let seed = include_bytes!("../../../fuzz/corpus/legacy_tls/seed-openssl-tls10-rsa");
        let Answer::Hello {
            version,
            suite,
            chain,
        } = ask_and_feed(seed[1..].to_vec()).await
        else {
            panic!("no ServerHello read from OpenSSL's flight");
        };
        assert_eq!((version, suite), (0x0301, 0x002f));
        assert_eq!(chain.len(), 1);
        let (_, leaf) = x509_parser::parse_x509_certificate(&chain[0]).expect("a certificate");
        assert_eq!(leaf.subject().to_string(), "CN=legacy.test");
    }
}
