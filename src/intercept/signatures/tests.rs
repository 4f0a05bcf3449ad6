//! Unit tests of the signature database: the embedded file against realistic samples, and
//! the format rules of a user's signature file with the line of each error.

use super::*;

fn embedded() -> Signatures {
    Signatures::embedded().expect("the embedded signature file parses")
}

fn products(hits: &[&Signature]) -> Vec<String> {
    let mut v: Vec<String> = hits.iter().map(|s| s.product.clone()).collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn embedded_file_loads_with_enough_entries() {
    let s = embedded();
    assert!(s.len() >= 30, "only {} signatures", s.len());
    assert!(!s.is_empty());
    for sig in s.entries() {
        assert!(sig.source.starts_with("https://"), "{sig:?}");
    }
}

/// Every product the design brief names has an entry or is declared unsourced.
#[test]
fn every_named_product_is_covered_or_declared() {
    let s = embedded();
    let header: Vec<&str> = EMBEDDED
        .lines()
        .take_while(|l| !l.starts_with("[[signature]]"))
        .collect();
    let declared = |name: &str| {
        header
            .iter()
            .any(|l| l.contains(name) && l.contains("no sourced") && l.contains("local-root/pin"))
    };
    #[rustfmt::skip]
    let named = [
        "Fortinet", "Sophos", "Palo Alto", "Check Point", "Zscaler", "Netskope",
        "Cisco Umbrella", "Cisco Firepower", "Cisco IronPort", "Cisco ASA", "WatchGuard",
        "Barracuda", "Forcepoint", "Websense", "Blue Coat", "Symantec", "Kaspersky", "ESET",
        "Avast", "AVG", "Bitdefender", "Trend Micro", "McAfee", "Skyhigh", "Norton",
        "mitmproxy", "Burp", "PortSwigger", "Fiddler", "Charles", "sslsplit", "p3scan",
    ];
    for name in named {
        let has_entry = s.entries().iter().any(|e| e.product.contains(name));
        assert!(
            has_entry || declared(name),
            "{name}: no entry and not declared"
        );
    }
}

enum Sample {
    Issuer(&'static str),
    Greeting(Field, &'static str),
    Header(&'static str, &'static str),
    Body(&'static str),
}

fn hits<'a>(s: &'a Signatures, sample: &Sample) -> Vec<&'a Signature> {
    match sample {
        Sample::Issuer(dn) => s.match_issuer(dn),
        Sample::Greeting(f, g) => s.match_greeting(*f, g),
        Sample::Header(n, v) => s.match_header(n, v),
        Sample::Body(b) => s.match_body(b),
    }
}

/// Realistic samples: each matches exactly the products listed, and together they hit
/// every entry of the file.
#[test]
fn every_entry_matches_its_example_and_only_its_product() {
    use Sample::{Body, Greeting, Header, Issuer};
    let table: &[(&[&str], Sample)] = &[
        (&["Fortinet FortiGate"], Issuer("C=US, ST=California, L=Sunnyvale, O=Fortinet, OU=Certificate Authority, CN=FortiGate CA")),
        (&["Fortinet FortiGate"], Issuer("C=US, O=Fortinet Ltd., CN=FGT60E0000000000")),
        (&["Fortinet FortiGate"], Body("<html><head><title>Web Filter Violation</title></head><body class=\"blocked\"><div class=\"header\"><h2>Powered By Fortinet</h2><h1>FortiGuard Web Filtering</h1>")),
        (&["Fortinet FortiGate"], Body("<p>To have the rating of this web page re-evaluated <a href=\"http://url.fortinet.net/rate/submit.php?id=1\">please click here</a>.</p>")),
        (&["Sophos"], Issuer("CN=Sophos SSL CA_C1234567, O=Sophos")),
        (&["Sophos"], Issuer("CN=Sophos_CA_ABC123")),
        (&["Sophos UTM"], Issuer("CN=sophosutm Proxy CA, O=sophosutm")),
        (&["Sophos Web Appliance"], Issuer("CN=Sophos Web Appliance, O=Sophos Plc, C=GB")),
        (&["Cisco Umbrella"], Issuer("C=US, O=Cisco, CN=Cisco Umbrella Root CA")),
        (&["Cisco Umbrella"], Issuer("O=Cisco, CN=Cisco Umbrella Primary SubCA")),
        (&["Zscaler"], Issuer("C=US, ST=California, L=San Jose, O=Zscaler Inc., OU=Zscaler Inc., CN=Zscaler Root CA")),
        (&["Zscaler"], Issuer("C = US, ST = California, O = Zscaler Inc., OU = Zscaler Inc., CN = \"Zscaler Intermediate Root CA (zscloud.net) (t) \"")),
        (&["Zscaler"], Header("Server", "Zscaler/5.6")),
        (&["Zscaler"], Body("<html>\n<head>\n<title>Internet Security by Zscaler</title>")),
        (&["Forcepoint"], Issuer("CN=Forcepoint Cloud CA, O=Forcepoint LLC, C=US")),
        (&["Blue Coat / Symantec ProxySG"], Issuer("CN=proxy.example, O=Blue Coat")),
        (&["Blue Coat / Symantec ProxySG"], Header("x-bluecoat-via", "ce2cfae06b3f12b4")),
        (&["McAfee Web Gateway"], Issuer("CN=McAfee Web Gateway, O=Example Corp")),
        (&["Trend Micro InterScan Web Security Suite"], Issuer("CN=IWSS.TREND")),
        (&["ContentKeeper"], Issuer("CN=ContentKeeper Appliance CA (1234), O=ContentKeeper Technologies")),
        (&["Cyberoam"], Issuer("CN=gateway.example, O=Cyberoam Certificate Authority")),
        (&["NetSpark"], Issuer("CN=www.netspark.com, O=NetSpark")),
        (&["Smoothwall"], Issuer("CN=Smoothwall-default-root-certificate-authority")),
        (&["SonicWall"], Issuer("CN=192.168.168.168, O=HTTPS Management Certificate for SonicWALL")),
        (&["Kaspersky"], Issuer("C=RU, O=AO Kaspersky Lab (TEST ONLY), CN=Kaspersky Anti-Virus Personal Root Certificate")),
        (&["Kaspersky"], Issuer("O=AO Kaspersky Lab, CN=Kaspersky Web Anti-Virus Certification Authority")),
        (&["ESET"], Issuer("CN=ESET SSL Filter CA, O=\"ESET, spol. s r. o.\", C=SK")),
        (&["Avast"], Issuer("O=avast! Web/Mail Shield, CN=avast! Web/Mail Shield Root")),
        (&["Bitdefender"], Issuer("CN=Bitdefender Personal CA.Net-Defender, O=Bitdefender")),
        (&["Norton"], Issuer("CN=Norton Web/Mail Shield Self-signed Root,OU=generated by Norton Antivirus for self-signed certificates,O=Norton Web/Mail Shield")),
        (&["p3scan"], Greeting(Field::Pop3Greeting, "+OK Dovecot ready.\r\n\r\n+OK P3Scan'ing...\r\n")),
        (&["p3scan"], Greeting(Field::Pop3Greeting, "+OK\r\n-ERR Not Identified\r\n")),
        (&["an HTTP proxy"], Header("Via", "1.1 67211fbb6cd8 (squid/3.4.8)")),
        (&["Squid"], Header("X-Squid-Error", "ERR_ACCESS_DENIED 0")),
        (&["Squid"], Header("Server", "squid/3.1.20")),
        (&["an HTTP proxy"], Header("Proxy-Authenticate", "Basic realm=\"proxy\"")),
        (&["mitmproxy"], Issuer("CN=mitmproxy, O=mitmproxy")),
        (&["Burp Suite (PortSwigger)"], Issuer("C=PortSwigger, ST=PortSwigger, L=PortSwigger, O=PortSwigger, OU=PortSwigger CA, CN=PortSwigger CA")),
        (&["Fiddler"], Issuer("OU=Created by http://www.fiddler2.com, O=DO_NOT_TRUST, CN=DO_NOT_TRUST_FiddlerRoot")),
        (&["Fiddler Everywhere"], Issuer("CN=Fiddler_Root_Certificate_Authority")),
        (&["Fiddler Everywhere"], Issuer("CN=Fiddler Root Certificate Authority")),
        (&["Charles Proxy"], Issuer("CN=Charles Proxy Custom Root Certificate (built on EMODO-PQ05F\\, 11 Apr 2022)")),
    ];
    let s = embedded();
    let mut hit = vec![false; s.len()];
    for (expected, sample) in table {
        let found = hits(&s, sample);
        let mut want: Vec<String> = expected.iter().map(ToString::to_string).collect();
        want.sort();
        assert_eq!(products(&found), want, "sample for {expected:?}");
        for f in found {
            let i = s.entries().iter().position(|e| std::ptr::eq(e, f));
            hit[i.expect("a hit is an entry")] = true;
        }
    }
    for (sig, was_hit) in s.entries().iter().zip(hit) {
        assert!(was_hit, "no sample hits {sig:?}");
    }
}

/// Ordinary answers and public CAs match nothing.
#[test]
fn ordinary_values_match_nothing() {
    let s = embedded();
    #[rustfmt::skip]
    let names = [
        "DigiCert Global Root G2", "ISRG Root X1", "R11", "Let's Encrypt", "GlobalSign",
        "Sectigo", "Microsoft Azure RSA TLS Issuing CA 03", "Go Daddy",
        "Amazon RSA 2048 M02", "DigiCert Inc", "Microsoft Corporation", "Amazon",
        "GoDaddy.com, Inc.", "Sectigo Limited", "GlobalSign nv-sa", "www.digicert.com",
        "Cisco Systems, Inc.", "Fortinet, Inc.", "Sophos Ltd",
    ];
    for n in names {
        for dn in [format!("CN={n}"), format!("O={n}"), format!("OU={n}")] {
            assert!(s.match_issuer(&dn).is_empty(), "{dn} matched");
        }
    }
    for dn in [
        "C=US, O=Let's Encrypt, CN=R11",
        "C=US, O=DigiCert Inc, OU=www.digicert.com, CN=DigiCert Global Root G2",
        "C=US, O=Microsoft Corporation, CN=Microsoft Azure RSA TLS Issuing CA 03",
        "C=US, O=Amazon, CN=Amazon RSA 2048 M02",
        "CN=mgmt01",
    ] {
        assert!(s.match_issuer(dn).is_empty(), "{dn} matched");
    }
    let greetings = [
        "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n",
        "+OK Dovecot (Debian) ready.\r\n",
        "* OK The Microsoft Exchange IMAP4 service is ready.\r\n",
        "+OK The Microsoft Exchange POP3 service is ready.\r\n",
        "-ERR [AUTH] Authentication failed.\r\n",
    ];
    for g in greetings {
        for f in [Field::ImapGreeting, Field::Pop3Greeting] {
            assert!(s.match_greeting(f, g).is_empty(), "{g:?} matched");
        }
    }
    let headers = [
        ("Server", "Microsoft-IIS/10.0"),
        ("Server", "nginx"),
        ("X-Powered-By", "ASP.NET"),
        ("Server", "Microsoft-HTTPAPI/2.0"),
        ("WWW-Authenticate", "Basic realm=\"mail.example.com\""),
        ("X-FEServer", "DM2PR42CA011"),
        ("Content-Type", "text/html; charset=utf-8"),
    ];
    for (n, v) in headers {
        assert!(s.match_header(n, v).is_empty(), "{n}: {v} matched");
    }
    for body in [
        "<html><head><title>401 Unauthorized</title></head><body><center><h1>401 Unauthorized</h1></center><hr><center>nginx</center>",
        "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\"><title>IIS Windows Server</title>",
        "",
    ] {
        assert!(s.match_body(body).is_empty(), "{body:?} matched");
    }
}

#[test]
fn matching_is_case_insensitive_and_field_specific() {
    let s = embedded();
    assert_eq!(
        products(&s.match_issuer("cn=fortigate ca")),
        ["Fortinet FortiGate"]
    );
    // An issuer CN pattern does not fire on an O attribute.
    assert!(s.match_issuer("O=FortiGate CA").is_empty());
    // `exact` needs the whole value.
    assert!(s.match_issuer("O=Fortinet Customer PKI").is_empty());
    // A greeting of one protocol is not tested with the other's signatures.
    assert!(s
        .match_greeting(Field::ImapGreeting, "+OK P3Scan'ing...")
        .is_empty());
    assert!(s
        .match_greeting(Field::IssuerCn, "+OK P3Scan'ing...")
        .is_empty());
    assert_eq!(
        products(&s.match_header("VIA", "1.1 gw")),
        ["an HTTP proxy"]
    );
}

#[test]
fn hostile_inputs_do_not_panic() {
    let s = embedded();
    let mega = 1 << 20;
    let inputs = [
        "a".repeat(mega),
        ",CN=".repeat(mega / 4),
        "\\".repeat(mega),
        "\"".repeat(mega),
        "é€𝄞\u{0}".repeat(mega / 10),
        format!("{}FortiGate CA", "Forti".repeat(mega / 5)),
    ];
    for input in &inputs {
        let _ = s.match_issuer(input);
        let _ = s.match_issuer(&format!("CN={input}"));
        let _ = s.match_greeting(Field::Pop3Greeting, input);
        let _ = s.match_greeting(Field::ImapGreeting, input);
        let _ = s.match_header("Via", input);
        let _ = s.match_header(input, input);
        let _ = s.match_body(input);
    }
    // A match at the very end of a 1 MB body is still found.
    let late = format!(
        "{}Internet Security by Zscaler",
        "Internet Security by ".repeat(mega / 21)
    );
    assert_eq!(products(&s.match_body(&late)), ["Zscaler"]);
}

#[test]
fn advice_fills_host_and_port() {
    let s = embedded();
    let forti = s.match_issuer("CN=FortiGate CA")[0];
    let a = forti.advice_for("mgmt01", 8471);
    assert!(a.contains("mgmt01:8471"), "{a}");
    assert!(!a.contains('{'), "{a}");
    assert!(forti.advice_for("::1", 993).contains("[::1]:993"));
    let sig = Signature {
        advice: "x {host}/{port} {other} {".into(),
        ..(*forti).clone()
    };
    assert_eq!(sig.advice_for("{port}", 1), "x {port}/1 {other} {");
}

#[test]
fn extend_and_empty() {
    let mut s = Signatures::default();
    assert!(s.is_empty());
    let one = parse(&entry(
        "issuer-cn",
        "pattern = \"Lab CA\"\nmatch = \"exact\"\n",
    ))
    .expect("valid");
    s.extend(embedded());
    let n = s.len();
    s.extend(one);
    assert_eq!(s.len(), n + 1);
    assert_eq!(products(&s.match_issuer("CN=Lab CA")), ["Lab"]);
}

#[test]
fn unreadable_file_is_line_zero() {
    let e = Signatures::load_file(Path::new("/nonexistent/sigs.toml")).expect_err("fails");
    assert_eq!((e.line, e.column), (0, 0));
    assert!(e.message.contains("cannot read"), "{e}");
    assert!(
        e.to_string().starts_with("/nonexistent/sigs.toml:0:0: "),
        "{e}"
    );
}

fn parse(text: &str) -> Result<Signatures, SignatureError> {
    Signatures::parse(Path::new("s.toml"), text)
}

/// A valid entry on lines 1-6 of `field`, plus `extra` lines from line 7 on.
fn entry(field: &str, extra: &str) -> String {
    format!(
        "[[signature]]\nproduct = \"Lab\"\nkind = \"utm\"\nfield = \"{field}\"\n\
         advice = \"exclude {{host}}:{{port}}\"\nsource = \"https://example.org/x\"\n{extra}"
    )
}

fn error(text: &str) -> SignatureError {
    parse(text).expect_err("must be rejected")
}

#[test]
fn syntax_error_names_its_line() {
    let e = error("[[signature]]\nproduct = \"x\"\nkind = utm\n");
    assert_eq!(e.line, 3, "{e}");
    assert!(e.to_string().starts_with("s.toml:3:"), "{e}");
}

#[test]
fn unknown_key_is_rejected_at_its_line() {
    let e = error(&entry(
        "issuer-cn",
        "pattern = \"p\"\nmatch = \"exact\"\nweak = true\n",
    ));
    assert_eq!(e.line, 9, "{e}");
    assert!(
        e.message.contains("weak") && e.message.contains("product"),
        "{e}"
    );
    let e = error("[meta]\nschema = 1\n");
    assert_eq!(e.line, 1, "{e}");
}

#[test]
fn unknown_values_list_the_expected_ones() {
    let e = error(&entry("issuer-cn", "pattern = \"p\"\nmatch = \"regex\"\n"));
    assert_eq!((e.line, e.column), (8, 9), "{e}");
    assert!(
        e.message.contains("contains") && e.message.contains("exact"),
        "{e}"
    );
    let e = error(&entry("issuer-c", "pattern = \"p\"\nmatch = \"exact\"\n"));
    assert_eq!(e.line, 4, "{e}");
    assert!(
        e.message.contains("issuer-cn") && e.message.contains("http-body"),
        "{e}"
    );
    let e = error(
        &entry("issuer-cn", "pattern = \"p\"\nmatch = \"exact\"\n")
            .replace("\"utm\"", "\"firewall\""),
    );
    assert_eq!(e.line, 3, "{e}");
    assert!(
        e.message.contains("antivirus") && e.message.contains("debugging"),
        "{e}"
    );
}

#[test]
fn header_is_required_exactly_for_http_header() {
    let e = error(&entry(
        "http-header",
        "pattern = \"p\"\nmatch = \"exact\"\n",
    ));
    assert_eq!(e.line, 4, "{e}");
    assert!(e.message.contains("needs `header`"), "{e}");
    let e = error(&entry(
        "issuer-o",
        "pattern = \"p\"\nmatch = \"exact\"\nheader = \"Via\"\n",
    ));
    assert_eq!(e.line, 9, "{e}");
    let e = error(&entry("http-header", "header = \"Bad Name\"\n"));
    assert_eq!(e.line, 7, "{e}");
    let ok = parse(&entry("http-header", "header = \"X-Lab\"\n")).expect("presence entry");
    assert_eq!(ok.entries()[0].pattern, None);
    assert_eq!(products(&ok.match_header("x-lab", "")), ["Lab"]);
}

#[test]
fn pattern_rules() {
    let e = error(&entry("issuer-cn", ""));
    assert_eq!(e.line, 4, "{e}");
    assert!(e.message.contains("`pattern` is required"), "{e}");
    let e = error(&entry("issuer-cn", "match = \"exact\"\npattern = \"  \"\n"));
    assert_eq!(e.line, 8, "{e}");
    let long = "x".repeat(MAX_PATTERN_CHARS + 1);
    let e = error(&entry(
        "http-body",
        &format!("match = \"contains\"\npattern = \"{long}\"\n"),
    ));
    assert!(e.message.contains("201 characters"), "{e}");
    assert!(parse(&entry(
        "http-body",
        &format!(
            "match = \"contains\"\npattern = \"{}\"\n",
            "é".repeat(MAX_PATTERN_CHARS)
        )
    ))
    .is_ok());
    let e = error(&entry("issuer-cn", "pattern = \"p\"\n"));
    assert_eq!(e.line, 7, "{e}");
    assert!(e.message.contains("needs `match`"), "{e}");
    let e = error(&entry(
        "http-header",
        "header = \"Via\"\nmatch = \"prefix\"\n",
    ));
    assert_eq!(e.line, 8, "{e}");
}

#[test]
fn source_and_advice_rules() {
    let ok = entry("issuer-cn", "pattern = \"p\"\nmatch = \"exact\"\n");
    let e = error(&ok.replace("https://example.org/x", "example.org/x"));
    assert_eq!((e.line, e.column), (6, 10), "{e}");
    assert!(e.message.contains("http:// or https://"), "{e}");
    assert!(error(&ok.replace("https://example.org/x", "https://")).line == 6);
    let e = error(&ok.replace("exclude {host}:{port}", " "));
    assert_eq!(e.line, 5, "{e}");
    assert!(e.message.contains("`advice` is empty"), "{e}");
    let e = error(&ok.replace("{port}", "{prot}"));
    assert!(e.message.contains("{prot}"), "{e}");
    let e = error(
        &entry("issuer-cn", "pattern = \"p\"\nmatch = \"exact\"\n")
            .replace("source = \"https://example.org/x\"\n", ""),
    );
    assert_eq!(e.line, 1, "{e}");
    assert!(e.message.contains("missing field `source`"), "{e}");
}

#[test]
fn errors_point_into_the_right_entry() {
    let good = entry("issuer-cn", "pattern = \"p\"\nmatch = \"exact\"\n");
    let bad =
        entry("issuer-cn", "pattern = \"p\"\nmatch = \"exact\"\n").replace("https://", "ftp://");
    let e = error(&format!("# header\n\n{good}\n{bad}"));
    assert_eq!(e.line, 2 + 9 + 6, "{e}");
}

#[test]
fn names_serialize_as_in_the_file() {
    assert_eq!(Field::IssuerOu.label(), "issuer-ou");
    assert_eq!(Kind::Antivirus.label(), "antivirus");
    assert_eq!(MatchKind::Prefix.label(), "prefix");
    let s = embedded();
    let v = toml::to_string(&s.entries()[0]).expect("serializes");
    assert!(
        v.contains("field = \"issuer-cn\"") && v.contains("match = \"exact\""),
        "{v}"
    );
}

#[test]
fn line_col_is_one_based_and_safe() {
    use crate::config::profile::line_col;
    assert_eq!(line_col("ab\ncd", 4), (2, 2));
    assert_eq!(line_col("ab", 0), (1, 1));
    assert_eq!(line_col("é\né", 5), (2, 2));
    assert_eq!(line_col("é\né", 4), (2, 1));
    assert_eq!(line_col("é", 1), (1, 1));
    assert_eq!(line_col("x", 99), (1, 2));
}
