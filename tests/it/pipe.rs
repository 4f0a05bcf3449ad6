//! A reader that closes stdout early (`| head -1`) is not the tool's failure, in any format.

use std::process::Stdio;

use crate::bin;

/// Runs the binary with stdout a pipe whose reader is already gone.
fn run_into_closed_pipe(args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = bin()
        .args(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_stdout_is_not_a_failure_in_any_format() {
    let closed = crate::fixtures::closed_port("127.0.0.1").to_string();
    for format in ["table", "json", "junit", "markdown"] {
        let (code, stderr) = run_into_closed_pipe(&[
            "--role",
            "ih",
            "--mgmt",
            &closed,
            "--no-proxy",
            "--timeout",
            "2s",
            "--format",
            format,
        ]);
        // 1: the closed port is a blocked path; what matters is that it is not 3.
        assert_eq!(code, Some(1), "{format}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{format}: {stderr}");
        assert!(!stderr.contains("internal error"), "{format}: {stderr}");
    }
}

#[test]
fn lists_and_rules_into_a_closed_pipe_exit_0() {
    for args in [
        vec!["profiles", "--format", "json"],
        vec!["profiles"],
        vec![
            "firewall",
            "--role",
            "ih",
            "--mgmt",
            "127.0.0.1",
            "--cas",
            "127.0.0.2",
        ],
    ] {
        let (code, stderr) = run_into_closed_pipe(&args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}
