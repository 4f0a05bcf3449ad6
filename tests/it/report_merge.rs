//! `mssp-check report`: reports from real runs against loopback servers, made to look like
//! four machines (mgmt01, ih01, ih02, cas01) by setting each report's `host` — the only
//! edit — then merged by the binary.
//!
//! The layout, all on loopback, with two DNS servers standing for two networks' views:
//! - mgmt01's 8470/8471: a TLS server on 127.0.0.1:M. From cas01's network mgmt01 resolves
//!   to 127.0.0.2, where nothing listens: blocked from some sources only.
//! - ih01's 8472: a TLS server on 127.0.0.1:P; from cas01's network ih01 is 127.0.0.3:P, a
//!   second TLS server with another certificate: `cert-differs`.
//! - ih02's 8472 (port Q): nothing listens, and ih02's own check says so: `not-listening`.
//! - cas01's 8473 (port C): cas01's own check finds it listening, but from mgmt01's network
//!   cas01 is 127.0.0.4, where it is refused: `listens-but-blocked`.
//! - ih01 archives from an IMAP server whose greeting carries `<script>`.
//! - The site file also names ih03, which never reports.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::fixtures::{self, Answer, Serve};
use crate::profiles::assert_schema;
use crate::{bin, check};

pub(crate) struct Scenario {
    pub(crate) reports: PathBuf,
    pub(crate) site: PathBuf,
    ports: Ports,
}

#[derive(Clone, Copy)]
struct Ports {
    mgmt: u16,
    ih01: u16,
    ih02: u16,
    ih03: u16,
    cas: u16,
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

/// A run's JSON report, as `--format json` writes it, with `host` set.
async fn report(args: Vec<String>, host: &str) -> serde_json::Value {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = check(&args).await;
    let mut out = Vec::new();
    mssp_check::report::render(&r, mssp_check::report::Style::Json, &mut out).expect("render");
    let mut v: serde_json::Value = serde_json::from_slice(&out).expect("json");
    v["host"] = serde_json::Value::String(host.into());
    v
}

async fn build() -> Scenario {
    let mgmt_id = fixtures::self_signed(&["mgmt01"]);
    let m_addr =
        fixtures::tls_server("127.0.0.1:0", mgmt_id, Serve::Answer(fixtures::HTTP_OK)).await;
    let pm = m_addr.port();
    let p_addr =
        fixtures::tls_server("127.0.0.1:0", fixtures::self_signed(&["ih01"]), Serve::Hold).await;
    let pp = p_addr.port();
    // The same port on another loopback address, another certificate.
    fixtures::tls_server(
        &format!("127.0.0.3:{pp}"),
        fixtures::self_signed(&["ih01"]),
        Serve::Hold,
    )
    .await;
    let pc = fixtures::tls_server(
        "127.0.0.1:0",
        fixtures::self_signed(&["cas01"]),
        Serve::Hold,
    )
    .await;
    let pc = pc.port();
    let pq = fixtures::closed_port("127.0.0.1").port();
    let pr = fixtures::closed_port("127.0.0.1").port();
    let imap =
        fixtures::canned_server("127.0.0.1:0", b"* OK <script>alert(1)</script> ready\r\n").await;

    let office = vec![
        ("mgmt01", Answer::Addrs(vec![ip("127.0.0.1")])),
        ("ih01", Answer::Addrs(vec![ip("127.0.0.1")])),
        ("ih02", Answer::Addrs(vec![ip("127.0.0.1")])),
        ("cas01", Answer::Addrs(vec![ip("127.0.0.4")])),
    ];
    let dmz = vec![
        ("mgmt01", Answer::Addrs(vec![ip("127.0.0.2")])),
        ("ih01", Answer::Addrs(vec![ip("127.0.0.3")])),
    ];
    let dns_office = fixtures::dns_server(office).await.to_string();
    let dns_dmz = fixtures::dns_server(dmz).await.to_string();
    let mgmt = format!("mgmt01:{pm}");
    let ih01 = format!("ih01:{pp}");
    let ihs = format!("ih01:{pp},ih02:{pq}");
    let cas = format!("cas01:{pc}");
    let imap = imap.to_string();
    let offset = |port: u16, base: u16| (port - base).to_string();
    let (off_p, off_q, off_c) = (offset(pp, 8472), offset(pq, 8472), offset(pc, 8473));
    let common = ["--timeout", "1s", "--dns-server"];
    let args = |extra: &[&str], dns: &str| -> Vec<String> {
        common
            .iter()
            .copied()
            .chain([dns])
            .chain(extra.iter().copied())
            .map(String::from)
            .collect()
    };
    let a_mgmt = args(
        &[
            "--role",
            "mgmt",
            "--ih",
            &ihs,
            "--cas",
            &cas,
            "--mailstore-host=127.0.0.1:1",
        ],
        &dns_office,
    );
    let a_ih01 = args(
        &[
            "--role",
            "ih",
            "--mgmt",
            &mgmt,
            "--imap",
            &imap,
            "--port-offset",
            &off_p,
        ],
        &dns_office,
    );
    let a_ih02 = args(
        &["--role", "ih", "--mgmt", &mgmt, "--port-offset", &off_q],
        &dns_office,
    );
    let a_cas = args(
        &[
            "--role",
            "cas",
            "--mgmt",
            &mgmt,
            "--ih",
            &ih01,
            "--port-offset",
            &off_c,
        ],
        &dns_dmz,
    );
    let (rm, ri1, ri2, rc) = tokio::join!(
        report(a_mgmt, "mgmt01"),
        report(a_ih01, "ih01"),
        report(a_ih02, "ih02"),
        report(a_cas, "cas01"),
    );
    // One place under target/ per process (a static is never dropped, so a temporary
    // directory would outlive the tests; two test binaries may run at once); made afresh.
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("report-merge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let reports = dir.join("reports");
    std::fs::create_dir_all(&reports).expect("mkdir");
    let save = |name: &str, v: &serde_json::Value| {
        std::fs::write(
            reports.join(name),
            serde_json::to_vec_pretty(v).expect("json"),
        )
        .expect("write");
    };
    // An older run of mgmt01 as well: the newer one must win.
    let mut older = rm.clone();
    older["started_at"] = "2000-01-01T00:00:00Z".into();
    save("a-mgmt01-old.json", &older);
    save("mgmt01.json", &rm);
    save("ih01.json", &ri1);
    save("ih02.json", &ri2);
    save("cas01.json", &rc);
    let site = dir.join("site.toml");
    std::fs::write(
        &site,
        format!(
            "[hosts]\nmgmt = \"mgmt01:{pm}\"\nih = [\"ih01:{pp}\", \"ih02:{pq}\", \"ih03:{pr}\"]\ncas = \"cas01:{pc}\"\n"
        ),
    )
    .expect("site");
    Scenario {
        reports,
        site,
        ports: Ports {
            mgmt: pm,
            ih01: pp,
            ih02: pq,
            ih03: pr,
            cas: pc,
        },
    }
}

/// The scenario, made once for every test here (its own runtime: the reports outlive it).
pub(crate) fn scenario() -> &'static Scenario {
    static S: OnceLock<Scenario> = OnceLock::new();
    S.get_or_init(|| {
        std::thread::spawn(|| {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(build())
        })
        .join()
        .expect("scenario builds")
    })
}

fn merge(args: &[&str]) -> (Option<i32>, String, String) {
    let out = bin().arg("report").args(args).output().expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn merged_json() -> serde_json::Value {
    let sc = scenario();
    let (code, out, err) = merge(&[s(&sc.reports), "--site", s(&sc.site), "--format", "json"]);
    assert_eq!(code, Some(1), "{err}");
    serde_json::from_str(&out).expect("json")
}

fn findings<'a>(v: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["kind"] == kind)
        .collect()
}

fn cell<'a>(v: &'a serde_json::Value, target: &str, probe: &str, source: &str) -> &'a str {
    let row = v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| {
            format!("{}:{}", r["host"].as_str().unwrap_or(""), r["port"]) == target
                && r["probe"] == probe
        })
        .unwrap_or_else(|| panic!("row {target} {probe}"));
    row["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .find(|c| c["source"] == source)
        .map_or("—", |c| c["verdict"].as_str().expect("verdict"))
}

#[test]
fn the_matrix_has_a_column_per_source_and_a_row_per_endpoint() {
    let v = merged_json();
    let ports = scenario().ports;
    let (m, p, c) = (ports.mgmt, ports.ih01, ports.cas);
    let hosts: Vec<&str> = v["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| s["host"].as_str().expect("host"))
        .collect();
    assert_eq!(hosts, ["mgmt01", "ih01", "ih02", "cas01"], "role order");
    let mg = format!("mgmt01:{m}");
    assert_eq!(cell(&v, &mg, "tls", "ih01"), "ok");
    assert_eq!(cell(&v, &mg, "tls", "ih02"), "ok");
    assert_eq!(cell(&v, &mg, "tls", "cas01"), "refused");
    assert_eq!(cell(&v, &mg, "tls", "mgmt01"), "—");
    assert_eq!(cell(&v, &format!("ih01:{p}"), "tls", "mgmt01"), "ok");
    assert_eq!(cell(&v, &format!("ih01:{p}"), "tls", "cas01"), "ok");
    assert_eq!(cell(&v, &format!("cas01:{c}"), "tls", "mgmt01"), "refused");
    // The problem seen from one source is one entry; skipped paths are no rows.
    assert!(v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .all(|r| r["cells"]
            .as_array()
            .expect("cells")
            .iter()
            .all(|c| c["verdict"] != "skipped")));
    let skipped = v["sources"][2]["skipped"].as_array().expect("skipped");
    // ih02 named no archiving target: its seven `any` paths (ports with its offset).
    assert_eq!(skipped.len(), 7, "ih02: {skipped:?}");
    assert!(
        skipped
            .iter()
            .all(|s| s.as_str().is_some_and(|s| s.starts_with("any:"))),
        "{skipped:?}"
    );
    assert_eq!(v["exit_code"], 1);
    // The older report of mgmt01 is named in a note, and not used.
    let notes = v["notes"].as_array().expect("notes");
    assert!(
        notes.iter().any(|n| {
            let note = n.as_str().unwrap_or("");
            note.contains("a-mgmt01-old.json")
                && note.contains("mgmt01.json")
                && note.contains("older")
        }),
        "{notes:?}"
    );
    assert_eq!(v["sources"][0]["files"].as_array().expect("files").len(), 1);
}

#[test]
fn the_json_validates_against_its_schema() {
    assert_schema("schemas/deployment-1.schema.json", &merged_json());
}

#[test]
fn a_certificate_that_differs_by_source_names_both_sources() {
    let v = merged_json();
    let port = scenario().ports.ih01;
    let cd = findings(&v, "cert-differs");
    assert_eq!(cd.len(), 1, "{cd:#?}");
    let f = cd[0];
    assert_eq!(f["target"], format!("ih01:{port}"));
    assert_eq!(f["severity"], "fail");
    let certs = f["certificates"].as_array().expect("certs");
    assert_eq!(certs.len(), 2);
    let who: Vec<&serde_json::Value> = certs.iter().map(|c| &c["sources"][0]).collect();
    assert!(
        who.contains(&&serde_json::json!("mgmt01")) && who.contains(&&serde_json::json!("cas01"))
    );
    assert_ne!(certs[0]["sha256"], certs[1]["sha256"]);
    let detail = f["detail"].as_str().expect("detail");
    assert!(detail.contains("TLS-inspecting middlebox"), "{detail}");
    let evidence = f["evidence"].to_string();
    assert!(evidence.contains("thumbprint"), "{evidence}");
}

#[test]
fn blocked_from_some_sources_names_both_sides() {
    let v = merged_json();
    let port = scenario().ports.mgmt;
    let blocked = findings(&v, "blocked-from-some");
    let f = blocked
        .iter()
        .find(|f| f["target"] == format!("mgmt01:{port}"))
        .unwrap_or_else(|| panic!("{blocked:#?}"));
    let d = f["detail"].as_str().expect("detail");
    assert!(
        d.contains("answers ih01 and ih02") && d.contains("blocked from cas01 (refused)"),
        "{d}"
    );
    assert!(d.contains("wrong source network"), "{d}");
}

#[test]
fn the_far_ends_own_check_tells_firewall_from_service() {
    let v = merged_json();
    let Ports {
        ih02: q, cas: c, ..
    } = scenario().ports;
    let lb = findings(&v, "listens-but-blocked");
    assert_eq!(lb.len(), 1, "{lb:#?}");
    let d = lb[0]["detail"].as_str().expect("detail");
    assert!(
        d.starts_with(&format!(
            "cas01 listens on {c} (its own check), but mgmt01 gets a reset"
        )),
        "{d}"
    );
    assert!(d.contains("the firewall between them"), "{d}");
    let nl = findings(&v, "not-listening");
    assert_eq!(nl.len(), 1, "{nl:#?}");
    let d = nl[0]["detail"].as_str().expect("detail");
    assert!(
        d.starts_with(&format!(
            "nothing listens on ih02:{q} (its own check): the service"
        )),
        "{d}"
    );
}

#[test]
fn the_site_file_names_who_never_reported_and_what_no_report_covers() {
    let v = merged_json();
    let r = scenario().ports.ih03;
    let nr = findings(&v, "not-reported");
    assert_eq!(nr.len(), 1, "{nr:#?}");
    assert!(nr[0]["detail"]
        .as_str()
        .expect("d")
        .starts_with("ih03 (Instance Host"));
    assert_eq!(v["summary"]["not_reported"], 1);
    let nc = findings(&v, "not-covered");
    let detail: Vec<&str> = nc
        .iter()
        .map(|f| f["detail"].as_str().expect("d"))
        .collect();
    assert!(
        detail.iter().any(|d| d.starts_with(&format!(
            "no report covers mgmt01 → ih03:{r} (multi-8472-mgmt-ih"
        ))),
        "{detail:#?}"
    );
    assert!(
        detail
            .iter()
            .any(|d| d.starts_with("no report covers cas01 → ih02:")),
        "{detail:#?}"
    );
    // Warnings: not in the exit code unless --strict.
    assert!(nc.iter().all(|f| f["severity"] == "warn"));
}

#[test]
fn the_table_shows_the_matrix_the_findings_and_a_summary() {
    let sc = scenario();
    let (code, out, err) = merge(&[s(&sc.reports), "--site", s(&sc.site)]);
    assert_eq!(code, Some(1), "{err}");
    let head = out
        .lines()
        .find(|l| l.contains("TARGET"))
        .unwrap_or_else(|| panic!("{out}"));
    let cols: Vec<&str> = head.split_whitespace().collect();
    assert_eq!(cols, ["TARGET", "PROBE", "mgmt01", "ih01", "ih02", "cas01"]);
    for needle in [
        "Found by the merge",
        "[cert-differs]",
        "[blocked-from-some]",
        "[listens-but-blocked]",
        "[not-reported] ih03",
        "Problems (",
        "Next: ",
        "4 hosts reported, 1 never reported;",
    ] {
        assert!(out.contains(needle), "{needle} in:\n{out}");
    }
    assert!(out.trim_end().ends_with("exit 1"), "{out}");
    assert!(!out.contains('\x1b'), "no colour when not a terminal");
}

#[test]
fn markdown_for_a_ticket() {
    let sc = scenario();
    let (code, out, _) = merge(&[s(&sc.reports), "--format", "markdown"]);
    assert_eq!(code, Some(1));
    assert!(out.starts_with("### mssp-check"), "{out}");
    assert!(
        out.contains("| target | probe | mgmt01 | ih01 | ih02 | cas01 |"),
        "{out}"
    );
    assert!(
        out.contains("**refused**") && out.contains("**`cert-differs`**"),
        "{out}"
    );
    assert!(!out.contains("<script>"), "{out}");
}

#[test]
fn html_is_one_self_contained_escaped_file() {
    let sc = scenario();
    let (code, out, err) = merge(&[s(&sc.reports), "--site", s(&sc.site), "--format", "html"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(out.starts_with("<!DOCTYPE html>"));
    for banned in ["src=", "href=\"http", "@import", "url(", "<link", "<script"] {
        assert!(!out.contains(banned), "{banned} in the HTML");
    }
    // The IMAP server's greeting is shown, as text.
    assert!(
        out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "greeting shown escaped"
    );
    // Every cell links to its evidence, and every link has its anchor.
    let links: Vec<&str> = out
        .split("href=\"#")
        .skip(1)
        .map(|s| s.split('"').next().expect("id"))
        .collect();
    assert!(links.len() > 10, "{}", links.len());
    for id in links {
        assert!(out.contains(&format!("id=\"{id}\"")), "anchor {id}");
    }
    assert!(out.contains("<span class=\"kind\">cert-differs</span>"));
}

#[test]
fn junit_has_a_suite_per_source_and_one_for_the_merge() {
    let sc = scenario();
    let (code, out, _) = merge(&[s(&sc.reports), "--site", s(&sc.site), "--format", "junit"]);
    assert_eq!(code, Some(1));
    for suite in ["mgmt01", "ih01", "ih02", "cas01", "deployment"] {
        assert!(
            out.contains(&format!("<testsuite name=\"{suite}\"")),
            "{suite}: {out}"
        );
    }
    assert!(out.contains("<failure type=\"cert-differs\""), "{out}");
    assert_junit_valid(&out);
}

#[test]
fn exit_code_over_all_reports() {
    let sc = scenario();
    let ih02 = sc.reports.join("ih02.json");
    // A host whose paths all pass: 0; the site's other hosts never reported, a warning
    // that fails only with --strict.
    let (code, out, err) = merge(&[s(&ih02)]);
    assert_eq!(code, Some(0), "{err}\n{out}");
    let (code, _, _) = merge(&[s(&ih02), "--site", s(&sc.site)]);
    assert_eq!(code, Some(0));
    let (code, _, _) = merge(&[s(&ih02), "--site", s(&sc.site), "--strict"]);
    assert_eq!(code, Some(1));
    let (code, _, _) = merge(&[s(&sc.reports.join("mgmt01.json"))]);
    assert_eq!(code, Some(1), "mgmt01 has failed paths");
}

#[test]
fn bad_inputs_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"schema\": \"mssp-check/report/1\", \"host\": ").expect("w");
    let profiles = dir.path().join("profiles.json");
    let listed = bin()
        .args(["profiles", "--format", "json"])
        .output()
        .expect("profiles");
    std::fs::write(&profiles, listed.stdout).expect("w");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let merged = dir.path().join("merged.json");
    let sc = scenario();
    let (_, view, _) = merge(&[s(&sc.reports), "--format", "json"]);
    std::fs::write(&merged, view).expect("w");
    let good = sc.reports.join("ih01.json");
    for (args, needle) in [
        (vec![s(&good), s(&broken)], "broken.json: not JSON"),
        (vec![s(&profiles)], "mssp-check/profiles/1"),
        (vec![s(&merged)], "merged deployment view"),
        (vec![s(&empty)], "no *.json file"),
        (
            vec![s(&good), "/nonexistent/x.json"],
            "/nonexistent/x.json: cannot read",
        ),
        (vec![s(&good), "--site", s(&broken)], "--site"),
    ] {
        let (code, out, err) = merge(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}");
        assert!(
            err.starts_with("mssp-check: error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    let (code, _, err) = merge(&[]);
    assert_eq!(code, Some(2), "{err}");
}

/// Validates JUnit XML against `schemas/junit-10.xsd` with xmllint: a skip where it is not
/// installed, a failure under CI (which installs it).
fn assert_junit_valid(xml: &str) {
    let Some(xmllint) = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("xmllint"))
            .find(|f| f.is_file())
    }) else {
        crate::skip_or_fail(
            "junit_has_a_suite_per_source_and_one_for_the_merge",
            "xmllint is not installed (Debian: libxml2-utils); the schema check did not run",
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("deployment.xml");
    std::fs::write(&file, xml).expect("write");
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/junit-10.xsd");
    let out = std::process::Command::new(xmllint)
        .args(["--noout", "--schema"])
        .arg(&schema)
        .arg(&file)
        .output()
        .expect("xmllint runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
