//! The binary as a user meets it: exit codes and one-line errors that name the input.

use crate::bin;

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = bin().args(args).output().expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_input_is_one_line_naming_it_and_exit_2() {
    for (args, needle) in [
        (vec!["--role", "dba", "--mgmt", "m"], "dba"),
        (vec!["--role", "ih"], "--role ih needs --mgmt"),
        (
            vec!["--role", "ih", "--mgmt", "mgmt 01"],
            "'mgmt 01' is not a valid host",
        ),
        (
            vec!["--role", "ih", "--mgmt", "mgmt01:0"],
            "port 0 in 'mgmt01:0'",
        ),
        (vec!["--role", "ih", "--mgmt", "mgmt01:65536"], "port 65536"),
        (vec!["--role", "mgmt", "--ih", "a,,[::1"], "without ']'"),
        (
            vec!["--role", "ih", "--mgmt", "m", "--timeout", "soon"],
            "'soon' is not a duration",
        ),
        (
            vec![
                "--role",
                "ih",
                "--mgmt",
                "m",
                "--public-ca",
                "/nonexistent.pem",
            ],
            "/nonexistent.pem",
        ),
        (vec!["--role", "ih", "--mgmt", "m", "--bogus"], "--bogus"),
        (vec!["profiles", "--mode", "dual"], "dual"),
    ] {
        let (code, stdout, stderr) = run(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: nothing on stdout");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{args:?}: one line: {stderr}"
        );
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(stderr.starts_with("mssp-check: error: "), "{stderr}");
    }
}

#[test]
fn check_subcommand_and_bare_flags_are_the_same() {
    let closed = crate::fixtures::closed_port("127.0.0.1").to_string();
    let a = run(&["--role", "ih", "--mgmt", &closed, "--format", "json"]);
    let b = run(&[
        "check", "--role", "ih", "--mgmt", &closed, "--format", "json",
    ]);
    assert_eq!(a.0, Some(1));
    assert_eq!(b.0, Some(1));
    let va: serde_json::Value = serde_json::from_str(&a.1).expect("json");
    let vb: serde_json::Value = serde_json::from_str(&b.1).expect("json");
    assert_eq!(
        va["results"].as_array().map(Vec::len),
        vb["results"].as_array().map(Vec::len)
    );
}

#[test]
fn help_lists_exit_codes() {
    let (code, stdout, _) = run(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("Exit codes:") && stdout.contains("--mgmt"));
}

#[test]
fn table_has_no_colour_when_piped_and_ends_with_a_summary() {
    let closed = crate::fixtures::closed_port("127.0.0.1").to_string();
    let (code, stdout, _) = run(&["--role", "ih", "--mgmt", &closed]);
    assert_eq!(code, Some(1));
    assert!(!stdout.contains('\x1b'), "no escape codes into a pipe");
    assert!(stdout.contains("VERDICT") && stdout.contains("refused"));
    // The checked paths first; the skipped ones folded into one line per missing flag.
    let lines: Vec<&str> = stdout.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.contains("VERDICT"))
        .expect("header");
    assert!(lines[header + 1].contains("refused") && lines[header + 2].contains("refused"));
    assert_eq!(
        lines[header + 3],
        " skipped: 110, 995 (add --pop3 HOST) · 143, 993 (add --imap HOST) · 389, 636 (add --ldap HOST) · 443 (add --ews HOST)"
    );
    assert!(!stdout.contains("add --pop3 HOST to test"), "{stdout}");
    let last = stdout.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("9 paths: 2 refused, 7 skipped; 1 with warnings"),
        "{last}"
    );
    assert!(last.contains("(exit 1"), "{last}");
    let (_, forced, _) = run(&["--role", "ih", "--mgmt", &closed, "--color", "always"]);
    assert!(forced.contains('\x1b'));
}

#[test]
fn json_report_matches_the_schema() {
    let closed = crate::fixtures::closed_port("127.0.0.1").to_string();
    let (code, stdout, _) = run(&["--role", "ih", "--mgmt", &closed, "--format", "json"]);
    assert_eq!(code, Some(1));
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    crate::profiles::assert_schema("schemas/report-1.schema.json", &doc);
    assert_eq!(doc["schema"], "mssp-check/report/1");
    assert_eq!(doc["summary"]["failed"], 1);
    assert_eq!(doc["summary"]["warned"], 1);
    assert_eq!(doc["summary"]["skipped"], 7);
}

#[test]
fn a_site_file_names_every_host() {
    let dir = tempfile::tempdir().expect("tmp");
    let closed = crate::fixtures::closed_port("127.0.0.1");
    let site = dir.path().join("site.toml");
    std::fs::write(
        &site,
        format!(
            "[hosts]\nmgmt = \"127.0.0.1:{}\"\nih = [\"127.0.0.1:{}\"]\n[targets]\nmailstore = \"127.0.0.1:1\"\n[options]\ntimeout = \"1s\"\n",
            closed.port(),
            closed.port()
        ),
    )
    .expect("write");
    let site = site.to_string_lossy().into_owned();
    // The same file serves every role; --role picks what applies.
    for role in ["ih", "cas", "mgmt"] {
        let (code, stdout, stderr) = run(&["--site", &site, "--role", role, "--format", "json"]);
        assert_eq!(code, Some(1), "{role}: {stderr}");
        let doc: serde_json::Value = serde_json::from_str(&stdout).expect("json");
        assert!(
            doc["results"]
                .as_array()
                .expect("results")
                .iter()
                .any(|r| r["verdict"] == "refused"),
            "{role}"
        );
    }
    // A flag wins over the file.
    let (_, stdout, _) = run(&[
        "--site",
        &site,
        "--role",
        "ih",
        "--mgmt",
        "127.0.0.1:2",
        "--format",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let r = doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["path"] == "multi-8471-ih-mgmt")
        .cloned()
        .expect("row");
    assert_eq!(r["port"], 2);
}

#[test]
fn a_malformed_site_file_names_file_and_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let site = dir.path().join("site.toml");
    std::fs::write(&site, "[hosts]\nmgmt = \"mgmt01\"\nih = 7\n").expect("write");
    let site = site.to_string_lossy().into_owned();
    for args in [
        vec!["--site", &site, "--role", "ih"],
        vec!["firewall", "--site", &site, "--role", "ih"],
    ] {
        let (code, stdout, stderr) = run(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stdout.is_empty());
        assert!(stderr.contains("site.toml:3:"), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
    let (code, _, stderr) = run(&["--site", "/nonexistent/site.toml", "--role", "ih"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("/nonexistent/site.toml"), "{stderr}");
}

#[test]
fn firewall_rules_from_the_command_line() {
    let (code, stdout, stderr) = run(&[
        "firewall",
        "--role",
        "ih",
        "--mgmt",
        "198.18.0.10",
        "--cas",
        "198.18.0.12",
        "--format",
        "powershell",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("New-NetFirewallRule") && stdout.contains("-LocalPort 8472"),
        "{stdout}"
    );
    assert!(stdout.contains("198.18.0.10") && stdout.contains("198.18.0.12"));
    for (args, needle) in [
        (vec!["firewall", "--role", "ih"], "--mgmt"),
        (vec!["firewall", "--role", "client"], "no inbound"),
        (
            vec![
                "firewall",
                "--role",
                "mgmt",
                "--ih",
                "198.18.0.11",
                "--cas",
                "198.18.0.12",
                "--admin-net",
                "10.0.0.0/40",
            ],
            "10.0.0.0/40",
        ),
    ] {
        let (code, _, stderr) = run(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn listen_refuses_roles_without_inbound_ports() {
    let (code, _, stderr) = run(&["listen", "--role", "adm"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no inbound ports"), "{stderr}");
    let (code, _, stderr) = run(&["listen", "--role", "ih", "--duration", "forever"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--duration 'forever'"), "{stderr}");
}

#[test]
fn the_demo_shows_ok_refused_and_intercepted() {
    let (code, stdout, stderr) = run(&["demo"]);
    assert_eq!(code, Some(0), "{stderr}");
    for needle in [
        "end-to-end verified",
        " refused ",
        " intercepted ",
        "e2e-mismatch",
    ] {
        assert!(stdout.contains(needle), "{needle} in:\n{stdout}");
    }
}

#[test]
fn junit_validates_against_the_xunit_schema() {
    let closed = crate::fixtures::closed_port("127.0.0.1").to_string();
    let (code, stdout, _) = run(&["--role", "ih", "--mgmt", &closed, "--format", "junit"]);
    assert_eq!(code, Some(1));
    assert!(
        stdout.contains("<testsuites") && stdout.contains("failures=\"1\""),
        "{stdout}"
    );
    assert!(stdout.contains("<failure type=\"refused\""));
    assert_eq!(stdout.matches("<skipped").count(), 7);
    let Ok(xmllint) = which("xmllint") else {
        crate::skip_or_fail(
            "junit_validates_against_the_xunit_schema",
            "xmllint is not installed (Debian: libxml2-utils); the schema check did not run",
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("report.xml");
    std::fs::write(&file, &stdout).expect("write");
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/junit-10.xsd");
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

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|f| f.is_file())
        })
        .ok_or(())
}

#[test]
fn markdown_for_a_ticket() {
    let closed = crate::fixtures::closed_port("127.0.0.1").to_string();
    let (code, stdout, _) = run(&["--role", "ih", "--mgmt", &closed, "--format", "markdown"]);
    assert_eq!(code, Some(1));
    assert!(stdout.starts_with("### mssp-check"), "{stdout}");
    assert!(stdout.contains("| ih → mgmt |") && stdout.contains("**refused**"));
    // 8471 fails; 8470, the optional pairing path, warns.
    assert!(
        stdout.contains("#### Problems (1) and warnings (1)") && stdout.contains("  - Next: "),
        "{stdout}"
    );
}

/// The hosts users type: one line naming the input (cut when huge), exit 2; or accepted.
mod inputs {
    use test_case::test_case;

    use super::run;

    fn huge() -> String {
        "h".repeat(120 * 1024)
    }

    #[test_case(&["--ih", "fe80::1%"], "zone '%': empty" ; "empty zone")]
    #[test_case(&["--ih", "[fe80::1%a/b]:8472"], "'/' is not allowed" ; "zone with a slash")]
    #[test_case(&["--ih", "10.0.0.1%eth0"], "IPv6 address only" ; "zone on ipv4")]
    #[test_case(&["--ih", "b\u{fc}cher-.example"], "not a valid internationalised" ; "bad idn")]
    #[cfg_attr(target_os = "linux", test_case(&["--ih", "fe80::1%nosuchif9"], "no network interface named 'nosuchif9'" ; "unknown interface"))]
    fn refused(extra: &[&str], needle: &str) {
        let mut args = vec!["--role", "mgmt", "--cas", "127.0.0.1", "--no-proxy"];
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = run(&args);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stdout.is_empty());
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{stderr}");
    }

    #[test_case("--ih" ; "host list")]
    #[test_case("--mgmt" ; "one host")]
    #[test_case("--timeout" ; "duration")]
    #[test_case("--pin" ; "pin")]
    #[test_case("--dns-server" ; "dns server")]
    #[test_case("--public-ca" ; "file")]
    #[test_case("--proxy" ; "proxy")]
    fn a_120_kb_argument_is_cut(flag: &str) {
        let value = format!("{}:99999", huge());
        let mut args = vec!["--role", "ih", "--no-proxy"];
        if flag != "--mgmt" {
            args.extend(["--mgmt", "127.0.0.1"]);
        }
        let args: Vec<&str> = args
            .into_iter()
            .filter(|a| !(flag == "--proxy" && *a == "--no-proxy"))
            .chain([flag, value.as_str()])
            .collect();
        let (code, _, stderr) = run(&args);
        assert_eq!(code, Some(2), "{}", &stderr[..stderr.len().min(300)]);
        assert!(
            stderr.len() < 500,
            "{} bytes: {}",
            stderr.len(),
            &stderr[..300]
        );
        assert!(stderr.contains("bytes)"), "{stderr}");
    }
}

#[test]
fn explain_names_every_word_and_refuses_an_unknown_one() {
    let (code, stdout, _) = run(&["explain", "cert-expiring"]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.starts_with("cert-expiring (finding)\n  What it means: "),
        "{stdout}"
    );
    assert!(stdout.contains("How to fix:"), "{stdout}");
    let (code, stdout, _) = run(&["explain"]);
    assert_eq!(code, Some(0));
    assert_eq!(stdout.lines().count(), mssp_check::explain::all().len());
    let (code, stdout, stderr) = run(&["explain", "blocked"]);
    assert_eq!(code, Some(2));
    assert!(stdout.is_empty());
    assert!(
        stderr.starts_with("mssp-check: error: explain blocked: not a verdict or finding; the known ones are verdicts: ok, refused,")
            && stderr.contains("cert-expiring"),
        "{stderr}"
    );
}

#[test]
fn man_page_is_roff_that_groff_reads() {
    let (code, page, _) = run(&["man"]);
    assert_eq!(code, Some(0));
    assert!(page.contains("\n.TH mssp-check 1 "), "{page}");
    assert!(page.contains("expiry\\-warning"), "{page}");
    let Ok(groff) = which("groff") else {
        crate::skip_or_fail(
            "man_page_is_roff_that_groff_reads",
            "groff is not installed (Debian: groff-base); the page was not typeset",
        );
        return;
    };
    let mut child = std::process::Command::new(groff)
        // -k: UTF-8 input through preconv; -ww: every warning.
        .args(["-k", "-man", "-Tutf8", "-ww"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("groff runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(page.as_bytes()).expect("write");
    }
    let out = child.wait_with_output().expect("groff ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "{stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("mssp-check-explain(1)"), "{text}");
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let (code, script, _) = run(&["completions", shell]);
        assert_eq!(code, Some(0), "{shell}");
        for sub in ["profiles", "firewall", "listen", "explain", "completions"] {
            assert!(script.contains(sub), "{shell} lacks {sub}");
        }
    }
    let (code, _, stderr) = run(&["completions", "tcsh"]);
    assert_eq!(code, Some(2), "{stderr}");
}

/// The monitoring examples call the binary with flags it accepts, in the format they claim.
#[test]
fn monitoring_examples_use_flags_that_parse() {
    use clap::Parser;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/monitoring");
    let unit = std::fs::read_to_string(dir.join("mssp-check.service")).expect("unit");
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let args = exec
        .split("/usr/local/bin/mssp-check ")
        .nth(1)
        .and_then(|rest| rest.split(" >").next())
        .expect("the mssp-check command");
    let cli = mssp_check::cli::Cli::try_parse_from(
        std::iter::once("mssp-check").chain(args.split_whitespace()),
    )
    .expect("the unit's flags parse");
    assert_eq!(cli.check.format, mssp_check::cli::Format::Prometheus);
    let task = std::fs::read_to_string(dir.join("Register-MsspCheckTask.ps1")).expect("ps1");
    assert!(task.contains("--format prometheus") && task.contains("Register-ScheduledTask"));
}

#[test]
fn quiet_shows_only_problems_and_verbose_the_phases() {
    let closed = crate::fixtures::closed_port("127.0.0.1").to_string();
    let (code, stdout, _) = run(&["--role", "ih", "--mgmt", &closed, "-q"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with(" ih → mgmt "))
            .count(),
        2,
        "{stdout}"
    );
    assert!(
        !stdout.contains(" skipped: ") && !stdout.contains("On this machine"),
        "{stdout}"
    );
    let (_, stdout, _) = run(&["--role", "ih", "--mgmt", &closed, "-v"]);
    assert!(
        stdout.contains("PHASES") && stdout.contains("connect "),
        "{stdout}"
    );
}

/// `--site` without `--role`: the machine finds itself in the site file (here by an address
/// of its own, 127.0.0.1), checks every role the file gives it, and names itself as the
/// file does; not found, exit 2 naming what was tried.
#[test]
fn the_site_file_tells_this_machine_its_roles() {
    let closed = crate::fixtures::closed_port("127.0.0.1");
    let dir = tempfile::tempdir().expect("tmp");
    let site = dir.path().join("site.toml");
    std::fs::write(
        &site,
        format!(
            "[hosts]\nmgmt = \"127.0.0.1\"\ncas = \"127.0.0.1\"\nih = [\"ih09.invalid\"]\n[targets]\nmailstore = \"{closed}\"\n[options]\ntimeout = \"1s\"\n"
        ),
    )
    .expect("write");
    let site_arg = site.display().to_string();
    let (code, stdout, stderr) = run(&["--site", &site_arg, "--format", "json", "--no-proxy"]);
    assert_eq!(code, Some(1), "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(doc["host"], "127.0.0.1");
    assert_eq!(doc["roles"], serde_json::json!(["mgmt", "cas"]));
    assert_eq!(doc["addresses"], serde_json::json!(["127.0.0.1"]));
    let sources: std::collections::BTreeSet<&str> = doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["source"].as_str())
        .collect();
    assert_eq!(sources, ["cas", "mgmt"].into_iter().collect());
    crate::profiles::assert_schema("schemas/report-1.schema.json", &doc);

    // --role still wins.
    let (_, stdout, _) = run(&[
        "--site",
        &site_arg,
        "--role",
        "cas",
        "--format",
        "json",
        "--no-proxy",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(doc["roles"], serde_json::json!(["cas"]));

    // Wine binds any address, so every site name looks like this machine there.
    if cfg!(windows) {
        crate::skip_or_fail(
            "the_site_file_tells_this_machine_its_roles (not found)",
            "the Windows build runs under Wine, which binds any address",
        );
        return;
    }
    let elsewhere = dir.path().join("elsewhere.toml");
    std::fs::write(
        &elsewhere,
        "[hosts]\nmgmt = \"198.18.0.1\"\nih = \"ih09.invalid\"\n",
    )
    .expect("write");
    let (code, stdout, stderr) = run(&["--site", &elsewhere.display().to_string()]);
    assert_eq!(code, Some(2));
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("this machine is not in the site file"),
        "{stderr}"
    );
    assert!(stderr.contains("ih09.invalid → NXDOMAIN"), "{stderr}");
}

/// `--only` and `--skip` leave ports of the tables out, reported as skipped and named in the
/// folded line; a port the role does not use, or not a port, is exit 2 naming it.
#[test]
fn only_and_skip_choose_the_ports() {
    let closed = crate::fixtures::closed_port("127.0.0.1").to_string();
    let (code, stdout, _) = run(&[
        "--role", "ih", "--mgmt", &closed, "--only", "8471", "--format", "json",
    ]);
    assert_eq!(code, Some(1));
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let checked: Vec<&str> = doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["verdict"] != "skipped")
        .filter_map(|r| r["path"].as_str())
        .collect();
    assert_eq!(checked, ["multi-8471-ih-mgmt"]);
    let reason = doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["path"] == "multi-8470-ih-mgmt")
        .and_then(|r| r["reason"].as_str())
        .unwrap_or_default()
        .to_string();
    assert_eq!(reason, "excluded by --only");

    let (_, stdout, _) = run(&[
        "--role", "ih", "--mgmt", &closed, "--skip", "8470", "--color", "never",
    ]);
    assert!(stdout.contains("8470 (excluded by --skip)"), "{stdout}");

    for (args, needle) in [
        (
            vec!["--only", "25"],
            "--only 25: no path of role ih uses port 25; its ports are",
        ),
        (vec!["--skip", "imap"], "--skip 'imap': not a port"),
        (
            vec!["--only", "8471", "--skip", "8470"],
            "cannot be used with",
        ),
    ] {
        let mut line = vec!["--role", "ih", "--mgmt", "mgmt01"];
        line.extend(args);
        let (code, _, stderr) = run(&line);
        assert_eq!(code, Some(2), "{line:?}");
        assert!(stderr.contains(needle), "{line:?}: {stderr}");
    }
}

/// A huge argument that clap itself rejects is cut in the error too (issue 13).
#[test]
fn a_huge_argument_rejected_by_clap_is_cut() {
    let huge = "x".repeat(120_000);
    let (code, _, stderr) = run(&["--role", &huge]);
    assert_eq!(code, Some(2));
    assert!(stderr.len() < 1000, "{} bytes", stderr.len());
    assert!(stderr.contains("bytes)"), "{stderr}");
}
