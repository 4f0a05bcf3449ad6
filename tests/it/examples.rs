//! The fan-out examples in `examples/`: the Ansible playbook passes `ansible-playbook
//! --syntax-check`, the CI files parse as YAML with the keys GitLab and GitHub require, and
//! every `mssp-check …` command line in them is accepted by our own CLI parser, so that an
//! example cannot drift from the CLI. Nothing here contacts a host: the syntax check reads
//! files only.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use mssp_check::cli::{Cli, Command as Sub, Format};
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|f| f.is_file())
}

// ---------------------------------------------------------------------------------------------
// Command lines in the examples

/// What makes `mssp-check WORD` a command line rather than prose: WORD is an option or one of
/// these subcommands.
const SUBCOMMANDS: [&str; 6] = ["check", "profiles", "firewall", "listen", "demo", "report"];

/// Replaces template expressions (Ansible's `{{ … }}`, GitHub's `${{ … }}`) by one word, so that
/// a placeholder stays one argument.
fn without_templates(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let before = &rest[..start];
        out.push_str(before.strip_suffix('$').unwrap_or(before));
        out.push('X');
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// Splits what follows the binary into arguments as a shell would, up to the end of the
/// command: a redirection, a pipe, `;`, `&&`, a comment, a closing parenthesis, a Markdown
/// backtick, or the closing quote of a string the command line sits in.
fn arguments(rest: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else {
            return args;
        };
        if matches!(first, '>' | '|' | ';' | '&' | '#' | '(' | ')' | '}' | '`') {
            return args;
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            if c == '`' {
                if !word.is_empty() {
                    args.push(word);
                }
                return args;
            }
            chars.next();
            if c == '"' || c == '\'' {
                let mut closed = false;
                for q in chars.by_ref() {
                    if q == c {
                        closed = true;
                        break;
                    }
                    word.push(q);
                }
                // An unmatched quote closes the string the whole command line was written in.
                if !closed {
                    if !word.is_empty() {
                        args.push(word);
                    }
                    return args;
                }
            } else {
                word.push(c);
            }
        }
        // `2>` and `2>&1`: a redirection of stderr.
        if word.starts_with("2>") {
            return args;
        }
        args.push(word);
    }
}

/// The `mssp-check` command lines of one line of text, as argument lists after the binary. The
/// binary is `mssp-check`, `mssp-check.exe`, a path or a placeholder ending in them, or the
/// PowerShell script's `$MsspCheck`.
fn commands_in(line: &str) -> Vec<Vec<String>> {
    let line = without_templates(line);
    let lower = line.to_ascii_lowercase();
    let mut found = Vec::new();
    for (name, exe) in [("mssp-check", true), ("$msspcheck", false)] {
        let mut from = 0;
        while let Some(i) = lower[from..].find(name).map(|i| i + from) {
            from = i + name.len();
            let mut end = from;
            if exe && lower[end..].starts_with(".exe") {
                end += 4;
            }
            if lower[end..].starts_with(['"', '\'']) {
                end += 1;
            }
            if !line[end..].starts_with(char::is_whitespace) {
                continue;
            }
            let args = arguments(&line[end..]);
            let is_command = args
                .first()
                .is_some_and(|a| a.starts_with("--") || SUBCOMMANDS.contains(&a.as_str()));
            if is_command {
                found.push(args);
            }
        }
    }
    found
}

#[derive(Debug, Default)]
struct Found {
    checks: usize,
    reports: usize,
}

/// Parses every command line of a file with the real CLI parser; the checks must be the
/// fan-out's (site file, JSON, the role found on the machine), the merges must name the site.
fn check_file(rel: &str, errors: &mut Vec<String>) -> Found {
    let text = std::fs::read_to_string(root().join(rel)).expect("example file");
    let mut found = Found::default();
    for (n, line) in text.lines().enumerate() {
        for args in commands_in(line) {
            let at = format!("{rel}:{}: mssp-check {}", n + 1, args.join(" "));
            let cli =
                match Cli::try_parse_from(std::iter::once("mssp-check".to_string()).chain(args)) {
                    Ok(cli) => cli,
                    Err(e) => {
                        errors.push(format!("{at}\n    {}", e.to_string().trim_end()));
                        continue;
                    }
                };
            match cli.command {
                None | Some(Sub::Check(_)) => {
                    let c = match &cli.command {
                        Some(Sub::Check(c)) => c,
                        _ => &cli.check,
                    };
                    if c.site.is_none() || c.role.is_some() || c.format != Format::Json {
                        errors.push(format!(
                            "{at}\n    a fan-out check is `--site FILE --format json` with no --role"
                        ));
                    }
                    found.checks += 1;
                }
                Some(Sub::Report(r)) => {
                    if r.site.is_none() {
                        errors.push(format!("{at}\n    a merge names the site file (--site)"));
                    }
                    found.reports += 1;
                }
                Some(_) => {}
            }
        }
    }
    found
}

#[test]
fn the_extractor_finds_commands_in_every_notation_the_examples_use() {
    let cases: [(&str, &[&[&str]]); 9] = [
        (
            "cmd.exe /d /c 'mssp-check.exe --site site.toml --format json > report.json 2> e.txt'",
            &[&["--site", "site.toml", "--format", "json"]],
        ),
        (
            "  cmd: sh -c './mssp-check --site site.toml --format json > report.json'",
            &[&["--site", "site.toml", "--format", "json"]],
        ),
        (
            r#"cmd: "{{ d | quote }}/linux/mssp-check report {{ o }}/hosts --site {{ s }} --color never""#,
            &[&["report", "X/hosts", "--site", "X", "--color", "never"]],
        ),
        (
            "& $MsspCheck report $hostDir --site $SiteFile --format html",
            &[&[
                "report",
                "$hostDir",
                "--site",
                "$SiteFile",
                "--format",
                "html",
            ]],
        ),
        (
            r#"run: files/linux/mssp-check report r/hosts --site "${{ x }}" --format markdown >> "$S" || true"#,
            &[&["report", "r/hosts", "--site", "X", "--format", "markdown"]],
        ),
        (
            "# merges them with `mssp-check report DIR --site site.toml`: the matrix",
            &[&["report", "DIR", "--site", "site.toml"]],
        ),
        (
            "    mssp-check report OUTDIR\\hosts --site site.toml      (table, on the console)",
            &[&["report", "OUTDIR\\hosts", "--site", "site.toml"]],
        ),
        // Not command lines: the playbook's file name, a job name, prose.
        (
            "ansible-playbook -i inv.ini examples/ansible/mssp-check.yml -e a=b",
            &[],
        ),
        ("mssp-check-staging: mssp-check needs no root", &[]),
    ];
    for (line, want) in cases {
        let got = commands_in(line);
        let want: Vec<Vec<String>> = want
            .iter()
            .map(|a| a.iter().map(|s| (*s).to_string()).collect())
            .collect();
        assert_eq!(got, want, "{line}");
    }
}

#[test]
fn every_mssp_check_command_line_in_the_examples_is_accepted_by_the_cli() {
    // (file, at least this many checks, at least this many merges)
    let files = [
        ("examples/powershell/Invoke-MsspCheck.ps1", 2, 3),
        ("examples/ansible/mssp-check.yml", 3, 3),
        ("examples/ansible/inventory.example.ini", 0, 0),
        ("examples/ci/gitlab-ci.yml", 0, 1),
        ("examples/ci/github-actions.yml", 0, 1),
        ("examples/README.md", 1, 2),
    ];
    let mut errors = Vec::new();
    let mut counts = Vec::new();
    for (file, checks, reports) in files {
        let found = check_file(file, &mut errors);
        counts.push((file, found, checks, reports));
    }
    // The parser's own message first: it says what drifted.
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    for (file, found, checks, reports) in counts {
        assert!(
            found.checks >= checks && found.reports >= reports,
            "{file}: found {found:?}, expected at least {checks} checks and {reports} merges"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Ansible

#[test]
fn the_ansible_playbook_passes_the_syntax_check() {
    const TEST: &str = "the_ansible_playbook_passes_the_syntax_check";
    let Some(ansible) = which("ansible-playbook") else {
        crate::skip_or_fail(TEST, "ansible-playbook is not installed (Debian: ansible)");
        return;
    };
    let home = tempfile::tempdir().expect("tmp");
    let out = Command::new(ansible)
        .current_dir(root())
        .args([
            "--syntax-check",
            "-i",
            "examples/ansible/inventory.example.ini",
            "examples/ansible/mssp-check.yml",
        ])
        // Ansible's own temporary files, not the user's ~/.ansible.
        .env("ANSIBLE_LOCAL_TEMP", home.path())
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .expect("ansible-playbook runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // ansible-core alone does not carry the ansible.windows collection (win_copy, win_command).
    if !out.status.success() && text.contains("couldn't resolve module/action 'ansible.windows.") {
        crate::skip_or_fail(
            TEST,
            "the ansible.windows collection is not installed (Debian: ansible)",
        );
        return;
    }
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("playbook: examples/ansible/mssp-check.yml"),
        "{text}"
    );
}

/// The playbook's merge on the controller, run for real over the loopback reports of the merge
/// tests (`tests/it/report_merge.rs`): the controller is this machine (`ansible_connection=local`),
/// the plays that copy and run on the hosts are skipped (`--start-at-task`), since no host is
/// reachable from a test. Unix only: the controller's binary is a symbolic link, and Ansible
/// has no Windows controller.
#[cfg(unix)]
#[test]
fn the_playbooks_merge_writes_junit_and_html_on_the_controller() {
    const TEST: &str = "the_playbooks_merge_writes_junit_and_html_on_the_controller";
    let Some(ansible) = which("ansible-playbook") else {
        crate::skip_or_fail(TEST, "ansible-playbook is not installed (Debian: ansible)");
        return;
    };
    let sc = crate::report_merge::scenario();
    let tmp = tempfile::tempdir().expect("tmp");
    let files = tmp.path().join("files");
    std::fs::create_dir_all(files.join("linux")).expect("mkdir");
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_mssp-check"),
        files.join("linux/mssp-check"),
    )
    .expect("symlink");
    let out = tmp.path().join("out");
    std::fs::create_dir_all(out.join("hosts")).expect("mkdir");
    for entry in std::fs::read_dir(&sc.reports).expect("reports") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name");
        std::fs::copy(&path, out.join("hosts").join(name)).expect("copy");
    }
    let inventory = tmp.path().join("inventory.ini");
    std::fs::write(
        &inventory,
        "[mssp_windows]\n[mssp_linux]\nlocalhost ansible_connection=local \
         ansible_python_interpreter=\"{{ ansible_playbook_python }}\"\n\
         [mssp:children]\nmssp_windows\nmssp_linux\n",
    )
    .expect("inventory");
    let play = |fail_on_problems: bool| {
        let out = Command::new(&ansible)
            .current_dir(root())
            .arg("-i")
            .arg(&inventory)
            .args([
                "--start-at-task",
                "Merge - the matrix and the problems",
                "examples/ansible/mssp-check.yml",
            ])
            .arg("-e")
            .arg(format!("mssp_check_files={}", files.display()))
            .arg("-e")
            .arg(format!("mssp_check_site={}", sc.site.display()))
            .arg("-e")
            .arg(format!("mssp_check_out={}", out.display()))
            .arg("-e")
            .arg(format!("mssp_check_fail_on_problems={fail_on_problems}"))
            .env("ANSIBLE_LOCAL_TEMP", tmp.path().join("ansible-local"))
            .env("ANSIBLE_REMOTE_TEMP", tmp.path().join("ansible-remote"))
            .env("ANSIBLE_NOCOLOR", "1")
            .output()
            .expect("ansible-playbook runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };

    // The merge exits 1 (cert-differs and more in the scenario): a result, the play succeeds.
    let (code, text) = play(false);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("cert-differs"),
        "the matrix in the log: {text}"
    );
    let junit = std::fs::read_to_string(out.join("deployment.xml")).expect("deployment.xml");
    for suite in ["mgmt01", "ih01", "cas01", "deployment"] {
        assert!(
            junit.contains(&format!("<testsuite name=\"{suite}\"")),
            "{suite}: {junit}"
        );
    }
    assert!(junit.contains("<failure type=\"cert-differs\""), "{junit}");
    let html = std::fs::read_to_string(out.join("deployment.html")).expect("deployment.html");
    assert!(
        html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"),
        "{html}"
    );
    assert!(
        html.contains("cert-differs") && html.contains("ih03"),
        "{html}"
    );

    // For CI: the same merge fails the play, after writing the files.
    std::fs::remove_file(out.join("deployment.html")).expect("rm");
    let (code, text) = play(true);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("the merge exited 1"), "{text}");
    assert!(out.join("deployment.html").is_file());
}

// ---------------------------------------------------------------------------------------------
// CI files

/// A YAML file as JSON, read by `PyYAML` (no YAML crate in the dependencies); `None` when no
/// python3 with `PyYAML` is installed.
fn yaml(rel: &str) -> Option<Value> {
    const TO_JSON: &str =
        "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)";
    for python in ["python3", "/usr/bin/python3"] {
        let Ok(out) = Command::new(python)
            .args(["-c", TO_JSON])
            .stdin(std::fs::File::open(root().join(rel)).expect("example file"))
            .output()
        else {
            continue;
        };
        if out.status.success() {
            return Some(serde_json::from_slice(&out.stdout).expect("PyYAML wrote JSON"));
        }
        // PyYAML's errors (yaml.scanner.ScannerError, yaml.parser.ParserError…) say the file
        // is broken; anything else (no PyYAML in this python3) sends us to the next one.
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("yaml."), "{rel} is not valid YAML: {err}");
    }
    None
}

fn str_list(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn the_gitlab_job_has_what_gitlab_requires_and_publishes_the_junit() {
    let Some(doc) = yaml("examples/ci/gitlab-ci.yml") else {
        crate::skip_or_fail(
            "the_gitlab_job_has_what_gitlab_requires_and_publishes_the_junit",
            "python3 with PyYAML is not installed (Debian: python3-yaml)",
        );
        return;
    };
    let top = doc.as_object().expect("a mapping at the top");
    let stages = str_list(&top["stages"]);
    // GitLab's global keywords; every other key not starting with '.' is a job.
    let global = [
        "stages",
        "variables",
        "default",
        "include",
        "workflow",
        "image",
        "services",
        "before_script",
        "after_script",
        "cache",
    ];
    let jobs: Vec<_> = top
        .iter()
        .filter(|(k, _)| !global.contains(&k.as_str()) && !k.starts_with('.'))
        .collect();
    assert!(!jobs.is_empty());
    let mut junit = Vec::new();
    for (name, job) in &jobs {
        let script = str_list(&job["script"]);
        assert!(!script.is_empty(), "{name}: a job needs a script");
        let stage = job["stage"].as_str().unwrap_or("test");
        assert!(
            stages.contains(&stage),
            "{name}: stage {stage} not in {stages:?}"
        );
        for need in str_list(&job["needs"]) {
            assert!(
                top.contains_key(need),
                "{name}: needs an unknown job {need}"
            );
        }
        if let Some(path) = job["artifacts"]["reports"]["junit"].as_str() {
            junit.push((name.as_str(), path, job));
        }
    }
    let [(name, path, job)] = junit[..] else {
        panic!("one job publishes a JUnit report: {junit:?}");
    };
    assert_eq!(path, "mssp-reports/deployment.xml", "{name}");
    // Also when the checks failed: that is when the report is read.
    assert_eq!(job["artifacts"]["when"], "always", "{name}");
    assert!(
        str_list(&job["artifacts"]["paths"]).contains(&"mssp-reports/"),
        "{name}: the HTML and the hosts' reports as an artifact"
    );
    assert!(
        str_list(&job["script"])
            .iter()
            .any(|l| l.contains("examples/ansible/mssp-check.yml")),
        "{name}: runs the playbook"
    );
}

#[test]
fn the_github_workflow_has_what_github_requires_and_publishes_the_reports() {
    let Some(doc) = yaml("examples/ci/github-actions.yml") else {
        crate::skip_or_fail(
            "the_github_workflow_has_what_github_requires_and_publishes_the_reports",
            "python3 with PyYAML is not installed (Debian: python3-yaml)",
        );
        return;
    };
    // YAML 1.1 reads the key `on` as the boolean true.
    assert!(
        doc.get("on").or_else(|| doc.get("true")).is_some(),
        "no `on:`"
    );
    let jobs = doc["jobs"].as_object().expect("jobs");
    assert!(!jobs.is_empty());
    let mut uses = Vec::new();
    let mut runs = Vec::new();
    for (name, job) in jobs {
        assert!(!job["runs-on"].is_null(), "{name}: runs-on");
        let steps = job["steps"].as_array().expect("steps");
        assert!(!steps.is_empty(), "{name}");
        let needs = match &job["needs"] {
            Value::String(s) => vec![s.as_str()],
            v => str_list(v),
        };
        for need in needs {
            assert!(
                jobs.contains_key(need),
                "{name}: needs an unknown job {need}"
            );
        }
        for step in steps {
            match (step["uses"].as_str(), step["run"].as_str()) {
                (Some(u), None) => uses.push((u, step)),
                (None, Some(r)) => runs.push(r),
                _ => panic!("{name}: a step has either uses or run: {step}"),
            }
        }
    }
    let upload = uses
        .iter()
        .find(|(u, s)| {
            u.starts_with("actions/upload-artifact@") && s["with"]["path"] == "mssp-reports/"
        })
        .expect("the reports uploaded as an artifact");
    assert_eq!(upload.1["if"], "always()");
    let junit = uses
        .iter()
        .find(|(u, _)| u.starts_with("mikepenz/action-junit-report@"))
        .expect("a test-report action");
    assert_eq!(
        junit.1["with"]["report_paths"],
        "mssp-reports/deployment.xml"
    );
    assert!(
        runs.iter().any(|r| r.contains("$GITHUB_STEP_SUMMARY")),
        "the job summary"
    );
    assert!(
        runs.iter()
            .any(|r| r.contains("examples/ansible/mssp-check.yml")),
        "runs the playbook"
    );
}
