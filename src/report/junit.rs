//! JUnit XML for CI systems: one test case per path (`--format junit`), valid against the
//! schema Jenkins' xUnit plugin uses (`schemas/junit-10.xsd`).

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{Report, Row};
use crate::sanitize::xml;
use crate::verdict::Severity;

fn secs(ms: u128) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

fn case(row: &Row, strict: bool) -> String {
    let p = &row.obs.path;
    let host = row.obs.host_label();
    let j = &row.judgement;
    let mut body = String::new();
    let mut detail = format!("{}\n", j.reason);
    if let Some(a) = row.obs.address {
        let _ = writeln!(detail, "address: {a}");
    }
    for f in &j.findings {
        let _ = writeln!(detail, "[{}] {}", f.kind.label(), f.detail);
    }
    if let Some(h) = &j.hint {
        let _ = writeln!(detail, "next: {h}");
    }
    match j.severity {
        Severity::Fail => {
            let _ = write!(
                body,
                "<failure type=\"{}\" message=\"{}\">{}</failure>",
                j.verdict.label(),
                xml(&j.reason),
                xml(&detail)
            );
        }
        Severity::Warn if strict => {
            let _ = write!(
                body,
                "<failure type=\"warning\" message=\"{}\">{}</failure>",
                xml(&j.reason),
                xml(&detail)
            );
        }
        Severity::Skip => {
            let _ = write!(body, "<skipped message=\"{}\"/>", xml(&j.reason));
        }
        // Not a result: the run was stopped, which a CI system must not read as a pass.
        Severity::Cancelled => {
            let _ = write!(
                body,
                "<error type=\"cancelled\" message=\"{}\"/>",
                xml(&j.reason)
            );
        }
        Severity::Warn | Severity::Pass => {
            let _ = write!(body, "<system-out>{}</system-out>", xml(&detail));
        }
    }
    format!(
        "    <testcase name=\"{} → {} {}:{} ({})\" classname=\"mssp-check.{}.{}\" time=\"{}\">{}</testcase>\n",
        p.source.label(),
        p.target.label(),
        xml(&host),
        row.obs.port,
        p.probe.label(),
        p.source.label(),
        xml(&p.id),
        secs(row.obs.timings.total.as_millis()),
        body
    )
}

/// Writes the report as one `<testsuites>` document.
///
/// # Errors
/// Write errors.
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let m = &report.meta;
    let s = &report.summary;
    let failures = s.failed + if m.strict { s.warned } else { 0 };
    let time = secs(u128::from(m.duration_ms));
    let name = format!("mssp-check role {} from {}", m.role.label(), m.hostname);
    let mut doc = String::new();
    let _ = writeln!(doc, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(
        doc,
        "<testsuites name=\"mssp-check\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\" time=\"{time}\">",
        s.total, s.cancelled
    );
    let _ = writeln!(
        doc,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\" skipped=\"{}\" time=\"{time}\" timestamp=\"{}\" hostname=\"{}\">",
        xml(&name),
        s.total,
        s.cancelled,
        s.skipped,
        xml(&m.started_at),
        xml(&m.hostname)
    );
    let _ = writeln!(doc, "    <properties>");
    let _ = writeln!(
        doc,
        "      <property name=\"version\" value=\"{}\"/>",
        xml(m.version)
    );
    let _ = writeln!(
        doc,
        "      <property name=\"role\" value=\"{}\"/>",
        m.role.label()
    );
    for note in &m.notes {
        let _ = writeln!(
            doc,
            "      <property name=\"note\" value=\"{}\"/>",
            xml(note)
        );
    }
    let _ = writeln!(doc, "    </properties>");
    for row in &report.rows {
        doc.push_str(&case(row, m.strict));
    }
    let _ = writeln!(doc, "  </testsuite>");
    let _ = writeln!(doc, "</testsuites>");
    out.write_all(doc.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::xml;

    #[test]
    fn escapes_and_drops_controls() {
        assert_eq!(
            xml("a<b>&\"'\x1b[31m\u{7}"),
            "a&lt;b&gt;&amp;&quot;&apos;?[31m?"
        );
        assert_eq!(xml("Evil\u{202e} Corp"), "Evil? Corp");
    }
}
