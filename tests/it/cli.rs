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
