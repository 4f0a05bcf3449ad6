//! The files to merge: directories expanded to their `*.json`, each file read with a size
//! cap and decoded (UTF-8, or UTF-16 as Windows PowerShell writes it), and superseded
//! reports of a host dropped with a note.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::input::{parse, usage, Run};
use crate::error::UsageError;
use crate::sanitize::printable;

/// The most read of one file. A real report of a large deployment is a few MB; a bigger file
/// is not a report, and reading it whole would only exhaust memory.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// A file name for messages: hostile names (escape sequences) are made printable.
#[must_use]
pub fn shown(path: &Path) -> String {
    printable(&path.display().to_string(), 300)
}

/// The files named on the command line: a directory stands for its `*.json` files (not
/// recursive), in name order.
///
/// # Errors
/// An input that does not exist, or a directory without a JSON file.
pub fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, UsageError> {
    let mut files = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input)
            .map_err(|e| usage(format!("{}: cannot read: {e}", shown(input))))?;
        if !meta.is_dir() {
            files.push(input.clone());
            continue;
        }
        let entries = std::fs::read_dir(input)
            .map_err(|e| usage(format!("{}: cannot list the directory: {e}", shown(input))))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("json"))
                    && p.is_file()
            })
            .collect();
        if found.is_empty() {
            return Err(usage(format!(
                "{}: no *.json file in this directory; expected the reports of `mssp-check --format json`",
                shown(input)
            )));
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// Reads at most [`MAX_FILE_BYTES`] of a file.
fn read_capped(path: &Path) -> Result<Vec<u8>, UsageError> {
    let file = File::open(path).map_err(|e| usage(format!("{}: cannot read: {e}", shown(path))))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| usage(format!("{}: cannot read: {e}", shown(path))))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(usage(format!(
            "{}: larger than 64 MiB, the most read of one report; not a report of mssp-check",
            shown(path)
        )));
    }
    Ok(bytes)
}

/// The bytes as UTF-8: a UTF-8 byte-order mark is dropped, and UTF-16 with one is
/// converted, because Windows PowerShell 5.1 writes `>` redirections as UTF-16 and
/// `Out-File -Encoding utf8` with a BOM.
fn decode(bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    let utf16 = |rest: &[u8], le: bool| -> Result<Vec<u8>, String> {
        let units: Vec<u16> = rest
            .chunks(2)
            .map(|c| {
                let pair = [c[0], c.get(1).copied().unwrap_or(0)];
                if le {
                    u16::from_le_bytes(pair)
                } else {
                    u16::from_be_bytes(pair)
                }
            })
            .collect();
        String::from_utf16(&units)
            .map(String::into_bytes)
            .map_err(|_| "UTF-16 that does not decode; expected UTF-8 JSON".to_string())
    };
    match bytes.as_slice() {
        [0xef, 0xbb, 0xbf, rest @ ..] => Ok(rest.to_vec()),
        [0xff, 0xfe, rest @ ..] => utf16(rest, true),
        [0xfe, 0xff, rest @ ..] => utf16(rest, false),
        _ => Ok(bytes),
    }
}

/// Two reports of one host: the newer (`started_at`; RFC 3339 in UTC sorts as text) wins,
/// and a note names both files. Reports of one host with no role in common (one run per
/// role, as before a site file named every role of a machine) are both kept: together they
/// are that host's view.
#[must_use]
pub fn dedupe(runs: Vec<Run>) -> (Vec<Run>, Vec<String>) {
    let mut kept: Vec<Run> = Vec::new();
    let mut notes = Vec::new();
    for run in runs {
        let same = kept.iter().position(|k| {
            k.host.eq_ignore_ascii_case(&run.host) && k.roles.iter().any(|r| run.roles.contains(r))
        });
        let Some(i) = same else {
            kept.push(run);
            continue;
        };
        // Equal times: the file named later wins, as a later copy usually is the re-run.
        let (newer, older) = if run.started_at >= kept[i].started_at {
            (run, kept.remove(i))
        } else {
            (kept.remove(i), run)
        };
        notes.push(format!(
            "two reports from {}: {} ({}) is used, {} ({}) is older and ignored",
            printable(&newer.host, 60),
            newer.file,
            printable(&newer.started_at, 40),
            older.file,
            printable(&older.started_at, 40)
        ));
        kept.insert(i, newer);
    }
    (kept, notes)
}

/// Reads every input (files and directories) and drops superseded reports.
///
/// # Errors
/// The first input that is not a report, naming it.
pub fn load(inputs: &[PathBuf]) -> Result<(Vec<Run>, Vec<String>), UsageError> {
    let files = expand(inputs)?;
    if files.is_empty() {
        return Err(usage("no report given".into()));
    }
    let mut runs = Vec::with_capacity(files.len());
    for f in &files {
        runs.push(read(f)?);
    }
    Ok(dedupe(runs))
}

/// Reads one report file.
///
/// # Errors
/// Unreadable, oversized, not JSON, another schema, or not the shape of a report: each
/// message names the file.
pub fn read(path: &Path) -> Result<Run, UsageError> {
    let name = shown(path);
    let bytes = decode(read_capped(path)?).map_err(|e| usage(format!("{name}: {e}")))?;
    parse(&name, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::profile::Role;
    use crate::deployment::input::MAX_TEXT;
    use crate::verdict::{Severity, Verdict};

    fn write(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    const MINIMAL: &str = r#"{"schema":"mssp-check/report/1","role":"ih","host":"ih01",
        "started_at":"2026-11-29T10:00:00Z","results":[{"path":"multi-8471-ih-mgmt",
        "port":8471,"source":"ih","target":"mgmt","host":"mgmt01","probe":"tls",
        "verdict":"refused","required":true,"future_field":{"x":1}}],"added":[1,2]}"#;

    #[test]
    fn a_minimal_report_with_unknown_fields_reads() {
        let dir = tempfile::tempdir().expect("tmp");
        let run = read(&write(dir.path(), "a.json", MINIMAL.as_bytes())).expect("reads");
        assert_eq!(run.host, "ih01");
        assert_eq!(run.roles, vec![Role::Ih]);
        assert_eq!(run.results[0].severity, Severity::Fail);
        assert_eq!(run.results[0].verdict, Verdict::Refused);
    }

    #[test]
    fn the_fields_of_the_site_file_change_are_read_when_present() {
        let dir = tempfile::tempdir().expect("tmp");
        let text = MINIMAL.replace(
            "\"role\":\"ih\",",
            "\"role\":\"mgmt\",\"roles\":[\"mgmt\",\"cas\"],\"os_hostname\":\"WIN-7Q2\",\"addresses\":[\"198.18.0.2\",\"fd00::1\",\"bogus\"],",
        );
        let run = read(&write(dir.path(), "m.json", text.as_bytes())).expect("reads");
        assert_eq!(run.roles, [Role::Mgmt, Role::Cas]);
        assert_eq!(run.os_hostname.as_deref(), Some("WIN-7Q2"));
        assert_eq!(run.addresses.len(), 2, "an unparsable address is dropped");
    }

    #[test]
    fn errors_name_the_file_and_say_what_it_is() {
        let dir = tempfile::tempdir().expect("tmp");
        for (name, text, needle) in [
            ("broken.json", "{\"schema\": ", "not JSON"),
            ("array.json", "[1,2]", "not an object"),
            ("plain.json", "{\"a\":1}", "without a \"schema\""),
            (
                "deploy.json",
                "{\"schema\":\"mssp-check/deployment/1\"}",
                "merged deployment view",
            ),
            (
                "profiles.json",
                "{\"schema\":\"mssp-check/profiles/1\",\"paths\":[]}",
                "mssp-check profiles",
            ),
            (
                "short.json",
                "{\"schema\":\"mssp-check/report/1\",\"host\":\"x\"}",
                "missing field",
            ),
        ] {
            let e = read(&write(dir.path(), name, text.as_bytes())).expect_err(name);
            assert!(e.0.contains(name) && e.0.contains(needle), "{name}: {e}");
        }
        let unknown = MINIMAL.replace("\"refused\"", "\"sideways\"");
        let e = read(&write(dir.path(), "v.json", unknown.as_bytes())).expect_err("verdict");
        assert!(e.0.contains("verdict 'sideways'"), "{e}");
    }

    #[test]
    fn a_file_over_64_mib_is_refused_without_reading_it_all() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("huge.json");
        // Sparse: no disk space used.
        File::create(&p)
            .and_then(|f| f.set_len(MAX_FILE_BYTES + 1))
            .expect("sparse file");
        let e = read(&p).expect_err("too big");
        assert!(e.0.contains("huge.json: larger than 64 MiB"), "{e}");
    }

    #[test]
    fn windows_encodings_read() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut bom = vec![0xef, 0xbb, 0xbf];
        bom.extend_from_slice(MINIMAL.as_bytes());
        assert_eq!(
            read(&write(dir.path(), "u8.json", &bom))
                .expect("utf-8 bom")
                .host,
            "ih01"
        );
        let mut le = vec![0xff, 0xfe];
        le.extend(MINIMAL.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(
            read(&write(dir.path(), "u16.json", &le))
                .expect("utf-16")
                .host,
            "ih01"
        );
    }

    #[test]
    fn hostile_strings_are_clipped_and_escaped_in_messages() {
        let dir = tempfile::tempdir().expect("tmp");
        let long = MINIMAL.replace("\"ih01\"", &format!("\"{}\"", "h".repeat(20_000)));
        let run = read(&write(dir.path(), "long.json", long.as_bytes())).expect("reads");
        assert_eq!(run.host.chars().count(), MAX_TEXT + 1);
        // Windows refuses control characters in file names: there only the content is hostile.
        let name = if cfg!(windows) {
            "esc.json"
        } else {
            "esc\x1b[31m.json"
        };
        let e = read(&write(
            dir.path(),
            name,
            b"{\"schema\":\"\x1b]0;owned\x07\"}",
        ))
        .expect_err("foreign");
        assert!(!e.0.contains('\x1b') && !e.0.contains('\x07'), "{e:?}");
    }

    #[test]
    fn a_directory_means_its_json_files_in_name_order() {
        let dir = tempfile::tempdir().expect("tmp");
        write(dir.path(), "b.json", b"{}");
        write(dir.path(), "a.JSON", b"{}");
        write(dir.path(), "notes.txt", b"x");
        std::fs::create_dir(dir.path().join("sub.json")).expect("dir");
        let files = expand(&[dir.path().to_path_buf()]).expect("expands");
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.JSON", "b.json"]);
        let empty = tempfile::tempdir().expect("tmp");
        let e = expand(&[empty.path().to_path_buf()]).expect_err("empty");
        assert!(e.0.contains("no *.json file"), "{e}");
    }

    #[test]
    fn the_newer_report_of_a_host_wins_with_a_note() {
        let dir = tempfile::tempdir().expect("tmp");
        let old = write(dir.path(), "old.json", MINIMAL.as_bytes());
        let newer = MINIMAL
            .replace("10:00:00Z", "11:00:00Z")
            .replace("ih01", "IH01");
        let new = write(dir.path(), "new.json", newer.as_bytes());
        let other_role = MINIMAL
            .replace("\"role\":\"ih\"", "\"role\":\"cas\"")
            .replace("\"source\":\"ih\"", "\"source\":\"cas\"");
        let cas = write(dir.path(), "cas.json", other_role.as_bytes());
        let (runs, notes) = load(&[new, old, cas]).expect("loads");
        assert_eq!(
            runs.len(),
            2,
            "a run of another role of the same host is kept"
        );
        assert_eq!(runs[0].started_at, "2026-11-29T11:00:00Z");
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].contains("new.json") && notes[0].contains("old.json"),
            "{notes:?}"
        );
    }
}
