//! `--format prometheus`: the text exposition format for the textfile collectors of
//! `node_exporter` and `windows_exporter` (one file per run, replaced atomically by the caller).

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{Report, Row};
use crate::verdict::{Severity, Verdict};

/// Escapes a label value as the exposition format demands: backslash, double quote and
/// line feed (<https://prometheus.io/docs/instrumenting/exposition_formats/>).
fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// The labels that tell one checked path from another. `address` and `proxy` keep two rows
/// of the same path apart (`--all-addresses`, the licensing path through a proxy): the
/// exposition format forbids two samples with the same labels.
fn labels(row: &Row) -> String {
    let o = &row.obs;
    let p = &o.path;
    let host = o
        .host
        .as_ref()
        .map(crate::config::HostSpec::display_host)
        .unwrap_or_default();
    let pairs = [
        ("path", p.id.clone()),
        ("source", p.source.label().to_string()),
        ("target", p.target.json_name().to_string()),
        ("host", host),
        ("port", o.port.to_string()),
        ("probe", p.probe.label().to_string()),
        ("verdict", row.judgement.verdict.label().to_string()),
        ("required", p.required.to_string()),
        (
            "address",
            o.address.map(|a| a.ip().to_string()).unwrap_or_default(),
        ),
        ("proxy", o.via_proxy.clone().unwrap_or_default()),
    ];
    let mut s = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{k}=\"{}\"", escape(v));
    }
    s
}

fn header(out: &mut dyn Write, name: &str, help: &str) -> io::Result<()> {
    writeln!(out, "# HELP {name} {help}")?;
    writeln!(out, "# TYPE {name} gauge")
}

/// Seconds, as Prometheus expects durations, to the microsecond.
fn seconds(d: std::time::Duration) -> String {
    format!("{:.6}", d.as_secs_f64())
}

/// Writes the metrics of one run. Skipped paths have no sample (nothing was checked, and an
/// alert on `mssp_check_path_up == 0` must not fire for a flag left out); they are counted
/// in `mssp_check_run_paths{result="skipped"}`.
///
/// # Errors
/// Write errors.
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let checked: Vec<&Row> = report
        .rows
        .iter()
        .filter(|r| r.judgement.verdict != Verdict::Skipped)
        .collect();
    header(
        out,
        "mssp_check_path_up",
        "1 when the path works (verdict ok, warnings included), 0 when it is blocked, intercepted or broken.",
    )?;
    for r in &checked {
        let up = u8::from(r.judgement.verdict == Verdict::Ok);
        writeln!(out, "mssp_check_path_up{{{}}} {up}", labels(r))?;
    }
    header(
        out,
        "mssp_check_path_warning",
        "1 when the path counts as a warning: it works with a warning (an untrusted certificate, one about to expire), or it is optional and fails.",
    )?;
    for r in &checked {
        let warn = u8::from(r.judgement.severity == Severity::Warn);
        writeln!(out, "mssp_check_path_warning{{{}}} {warn}", labels(r))?;
    }
    header(
        out,
        "mssp_check_path_finding",
        "1 for each warning a path's verdict cites (the finding label: cert-expiring, untrusted-chain, …; see mssp-check explain).",
    )?;
    for r in &checked {
        for f in r.judgement.findings.iter().filter(|f| f.warns) {
            writeln!(
                out,
                "mssp_check_path_finding{{{},finding=\"{}\"}} 1",
                labels(r),
                f.kind.label()
            )?;
        }
    }
    header(
        out,
        "mssp_check_path_duration_seconds",
        "How long the probe of the path took, DNS to the last answer.",
    )?;
    for r in &checked {
        writeln!(
            out,
            "mssp_check_path_duration_seconds{{{}}} {}",
            labels(r),
            seconds(r.obs.timings.total)
        )?;
    }
    header(
        out,
        "mssp_check_path_cert_not_after_timestamp_seconds",
        "When the certificate the path's server presented expires (Unix time); only paths that got a certificate.",
    )?;
    for r in &checked {
        let leaf = r.obs.tls.as_ref().and_then(|t| t.chain.first());
        if let Some(t) = leaf.and_then(crate::observation::CertInfo::not_after_time) {
            writeln!(
                out,
                "mssp_check_path_cert_not_after_timestamp_seconds{{{}}} {}",
                labels(r),
                t.unix_timestamp()
            )?;
        }
    }
    let m = &report.meta;
    let started = time::OffsetDateTime::parse(
        &m.started_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map(time::OffsetDateTime::unix_timestamp)
    .unwrap_or_default();
    header(
        out,
        "mssp_check_run_timestamp_seconds",
        "When the run started (Unix time): alert when it gets old, the check stopped running.",
    )?;
    writeln!(out, "mssp_check_run_timestamp_seconds {started}")?;
    header(
        out,
        "mssp_check_run_duration_seconds",
        "How long the whole run took.",
    )?;
    writeln!(
        out,
        "mssp_check_run_duration_seconds {}",
        seconds(std::time::Duration::from_millis(m.duration_ms))
    )?;
    header(
        out,
        "mssp_check_run_paths",
        "The paths of the run by result: ok, failed, warned, skipped.",
    )?;
    let s = &report.summary;
    for (result, n) in [
        ("ok", s.ok),
        ("failed", s.failed),
        ("warned", s.warned),
        ("skipped", s.skipped),
    ] {
        writeln!(out, "mssp_check_run_paths{{result=\"{result}\"}} {n}")?;
    }
    header(
        out,
        "mssp_check_run_exit_code",
        "The exit code of the run: 0 every required path ok, 1 a required path failed.",
    )?;
    writeln!(out, "mssp_check_run_exit_code {}", report.exit().code())
}

#[cfg(test)]
mod tests {
    use super::{escape, seconds};

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape("line\nnext"), "line\\nnext");
        assert_eq!(escape("mail01.example.com"), "mail01.example.com");
    }

    #[test]
    fn seconds_keep_milliseconds() {
        use std::time::Duration;
        assert_eq!(seconds(Duration::from_millis(12)), "0.012000");
        assert_eq!(seconds(Duration::from_micros(5_001_250)), "5.001250");
    }
}
