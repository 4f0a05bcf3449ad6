//! The monitoring formats of a real run on loopback: Prometheus text that `promtool`
//! accepts, and the Nagios plugin line with its exit codes.

use crate::fixtures::{self, self_signed, self_signed_with, Serve, HTTP_OK};
use crate::{bin, check};

const EWS_401: &[u8] =
    b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nContent-Length: 0\r\n\r\n";

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}

fn render(r: &mssp_check::report::Report, style: mssp_check::report::Style) -> String {
    let mut out = Vec::new();
    mssp_check::report::render(r, style, &mut out).expect("render");
    String::from_utf8(out).expect("utf-8")
}

#[tokio::test]
async fn prometheus_output_of_a_real_run_passes_promtool() {
    let mgmt = fixtures::tls_server(
        "127.0.0.1:0",
        self_signed(&["mgmt01"]),
        Serve::Answer(HTTP_OK),
    )
    .await;
    let closed = fixtures::closed_port("127.0.0.1");
    let r = check(&[
        "--role",
        "ih",
        "--mgmt",
        &mgmt.to_string(),
        "--imap",
        &closed.to_string(),
        "--timeout",
        "2s",
    ])
    .await;
    let text = render(&r, mssp_check::report::Style::Prometheus);
    let leaf = crate::row(&r, "multi-8471-ih-mgmt")
        .obs
        .tls
        .as_ref()
        .and_then(|t| t.chain.first())
        .and_then(mssp_check::observation::CertInfo::not_after_time)
        .expect("the mgmt leaf has an expiry");
    let line = |metric: &str, path: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{metric}{{path=\"{path}\"")))
            .unwrap_or_else(|| panic!("no {metric} for {path}:\n{text}"))
            .to_string()
    };
    assert!(line("mssp_check_path_up", "multi-8471-ih-mgmt").ends_with("} 1"));
    assert!(line("mssp_check_path_up", "multi-8471-ih-mgmt").contains("verdict=\"ok\""));
    assert!(line("mssp_check_path_up", "multi-143-ih-any").ends_with("} 0"));
    assert!(line("mssp_check_path_up", "multi-143-ih-any").contains("verdict=\"refused\""));
    assert!(line(
        "mssp_check_path_cert_not_after_timestamp_seconds",
        "multi-8471-ih-mgmt"
    )
    .ends_with(&format!("}} {}", leaf.unix_timestamp())));
    // Skipped paths have no samples, only a count.
    assert!(!text.contains("verdict=\"skipped\""), "{text}");
    assert!(text.contains(&format!(
        "mssp_check_run_paths{{result=\"skipped\"}} {}",
        r.summary.skipped
    )));
    assert!(text.contains("# TYPE mssp_check_run_timestamp_seconds gauge"));
    assert!(text.contains("mssp_check_run_duration_seconds "));

    let Some(promtool) = which("promtool") else {
        crate::skip_or_fail(
            "prometheus_output_of_a_real_run_passes_promtool",
            "promtool is not installed (Debian: prometheus); the format check did not run",
        );
        return;
    };
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("write");
    }
    let out = child.wait_with_output().expect("promtool ends");
    assert!(
        out.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs the binary with `--format nagios` off the test's runtime, so the fixtures keep
/// serving meanwhile.
async fn nagios(args: &[&str]) -> (Option<i32>, String) {
    let args: Vec<String> = args.iter().map(|a| (*a).to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = bin()
            .args(&args)
            .args(["--format", "nagios", "--no-proxy", "--timeout", "2s"])
            .output()
            .expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    })
    .await
    .expect("joined")
}

#[tokio::test(flavor = "multi_thread")]
async fn nagios_ok_warning_critical_and_unknown() {
    let mgmt = fixtures::tls_server(
        "127.0.0.1:0",
        self_signed(&["mgmt01"]),
        Serve::Answer(HTTP_OK),
    )
    .await
    .to_string();

    let (code, out) = nagios(&["--role", "ih", "--mgmt", &mgmt]).await;
    assert_eq!(code, Some(0), "{out}");
    let first = out.lines().next().expect("a status line");
    assert!(
        first.starts_with("MSSP-CHECK OK - 2 of 2 paths ok (7 skipped) | "),
        "{out}"
    );
    assert!(first.contains("'multi-8471-ih-mgmt 127.0.0.1'="), "{out}");
    assert!(first.ends_with("s;;;"), "{out}");
    assert_eq!(out.lines().count(), 1, "no problem lines: {out}");

    // A self-signed certificate on the customer's Exchange works, but warns.
    let ews = fixtures::tls_server(
        "127.0.0.1:0",
        self_signed(&["ews01"]),
        Serve::Answer(EWS_401),
    )
    .await
    .to_string();
    let (code, out) = nagios(&["--role", "ih", "--mgmt", &mgmt, "--ews", &ews]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.starts_with("MSSP-CHECK WARNING - 1 of 3 paths with warnings: ih -> "),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("WARNING: ih -> ") && l.contains("[untrusted-chain]")),
        "{out}"
    );

    let closed = fixtures::closed_port("127.0.0.1").to_string();
    let (code, out) = nagios(&["--role", "ih", "--mgmt", &mgmt, "--imap", &closed]).await;
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.starts_with(&format!(
            "MSSP-CHECK CRITICAL - 2 of 4 paths failed: ih -> {closed} refused, ih -> {closed} refused (5 skipped) | "
        )),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("CRITICAL: ")).count(),
        2,
        "{out}"
    );

    let (code, out) = nagios(&["--role", "ih", "--mgmt", "bad host!"]).await;
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.starts_with("MSSP-CHECK UNKNOWN - --mgmt 'bad host!' is not a valid host"),
        "{out}"
    );
    let (code, out) = nagios(&["--role", "nonsense"]).await;
    assert_eq!(code, Some(3), "{out}");
    assert!(out.starts_with("MSSP-CHECK UNKNOWN - "), "{out}");
}

/// A self-signed certificate for the Management Server that expires in `days` (negative:
/// expired), as the internal ports of SPE have.
fn mgmt_cert(days: i64) -> fixtures::Identity {
    self_signed_with(&["mgmt01"], |p| {
        let now = time::OffsetDateTime::now_utc();
        p.not_before = now - time::Duration::days(400);
        p.not_after = now + time::Duration::days(days);
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_ten_days_from_expiry_is_cert_expiring_in_every_format() {
    use mssp_check::report::Style;
    let mgmt = fixtures::tls_server("127.0.0.1:0", mgmt_cert(10), Serve::Answer(HTTP_OK))
        .await
        .to_string();
    let args = ["--role", "ih", "--mgmt", &mgmt, "--timeout", "2s"];
    let r = check(&args).await;
    let row = crate::row(&r, "multi-8471-ih-mgmt");
    assert_eq!(row.judgement.verdict.label(), "ok");
    assert_eq!(row.judgement.severity, mssp_check::verdict::Severity::Warn);
    let f = row
        .judgement
        .findings
        .iter()
        .find(|f| f.kind.label() == "cert-expiring")
        .expect("cert-expiring");
    // Ten days minus the seconds the test took: "in 9 days" or "in 10 days".
    assert!(
        f.detail
            .starts_with("the certificate CN=mgmt01 expires in 9 days")
            || f.detail
                .starts_with("the certificate CN=mgmt01 expires in 10 days"),
        "{}",
        f.detail
    );
    assert!(row
        .judgement
        .hint
        .as_deref()
        .is_some_and(|h| h.contains("re-pin")));

    let table = render(
        &r,
        Style::Table {
            color: false,
            width: None,
            view: mssp_check::report::TableView::default(),
        },
    );
    assert!(
        table.contains("[cert-expiring] the certificate CN=mgmt01 expires in"),
        "{table}"
    );
    // The row itself says why it warns, in words and by label.
    assert!(
        table.lines().any(|l| l.contains(" tls ")
            && l.contains("; a certificate of the chain expires within --expiry-warning days (30 by default) [cert-expiring]")),
        "{table}"
    );
    let json = render(&r, Style::Json);
    assert!(json.contains("\"kind\": \"cert-expiring\""), "{json}");
    let junit = render(&r, Style::Junit);
    assert!(junit.contains("[cert-expiring]"), "{junit}");
    let markdown = render(&r, Style::Markdown);
    assert!(markdown.contains("`cert-expiring`"), "{markdown}");
    let prom = render(&r, Style::Prometheus);
    assert!(
        prom.lines().any(
            |l| l.starts_with("mssp_check_path_finding{path=\"multi-8471-ih-mgmt\"")
                && l.contains("finding=\"cert-expiring\"")
                && l.ends_with(" 1")
        ),
        "{prom}"
    );
    let (code, nagios) = nagios(&args).await;
    assert_eq!(code, Some(1), "{nagios}");
    assert!(
        nagios.starts_with("MSSP-CHECK WARNING - 2 of 2 paths with warnings"),
        "{nagios}"
    );
    assert!(nagios.contains("[cert-expiring]"), "{nagios}");

    // Outside the window: no warning.
    let mut quiet = args.to_vec();
    quiet.extend(["--expiry-warning", "5"]);
    let r = check(&quiet).await;
    assert_eq!(
        crate::row(&r, "multi-8471-ih-mgmt").judgement.severity,
        mssp_check::verdict::Severity::Pass
    );
}

#[tokio::test]
async fn an_expired_internal_certificate_is_named_as_expired() {
    let mgmt = fixtures::tls_server("127.0.0.1:0", mgmt_cert(-3), Serve::Answer(HTTP_OK))
        .await
        .to_string();
    let r = check(&["--role", "ih", "--mgmt", &mgmt, "--timeout", "2s"]).await;
    let row = crate::row(&r, "multi-8471-ih-mgmt");
    let f = row
        .judgement
        .findings
        .iter()
        .find(|f| f.kind.label() == "cert-expired")
        .expect("cert-expired");
    assert!(
        f.detail.contains("expired 3 days ago") || f.detail.contains("expired 2 days ago"),
        "{}",
        f.detail
    );
    assert_eq!(row.judgement.severity, mssp_check::verdict::Severity::Warn);
}
