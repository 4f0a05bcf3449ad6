//! The deployment's view as JUnit XML: one `<testsuite>` per source host with one test case
//! per result (as a single run writes them), and a suite `deployment` for what only the
//! merge found. Valid against `schemas/junit-10.xsd`.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::finding::{Kind, MergeFinding};
use super::input::PathResult;
use super::view::{endpoint, Source, View};
use crate::sanitize::xml;
use crate::verdict::Severity;

fn secs(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// The body of a test case: `<failure>`, `<skipped>` or `<system-out>`.
fn body(severity: Severity, kind: &str, message: &str, detail: &str, strict: bool) -> String {
    match severity {
        Severity::Fail => format!(
            "<failure type=\"{}\" message=\"{}\">{}</failure>",
            xml(kind),
            xml(message),
            xml(detail)
        ),
        Severity::Warn if strict => format!(
            "<failure type=\"warning\" message=\"{}\">{}</failure>",
            xml(message),
            xml(detail)
        ),
        Severity::Skip => format!("<skipped message=\"{}\"/>", xml(message)),
        Severity::Cancelled => format!("<error type=\"cancelled\" message=\"{}\"/>", xml(message)),
        Severity::Warn | Severity::Pass => format!("<system-out>{}</system-out>", xml(detail)),
    }
}

fn case(src: &Source, r: &PathResult, strict: bool) -> String {
    let target = match &r.host {
        Some(h) => endpoint(h, r.port),
        None => format!("—:{}", r.port),
    };
    let via = r
        .via_proxy
        .as_ref()
        .map(|p| format!(" via {p}"))
        .unwrap_or_default();
    let mut detail = format!("{}\n", r.reason);
    if let Some(a) = &r.address {
        let _ = writeln!(detail, "address: {a}");
    }
    for f in &r.findings {
        let _ = writeln!(detail, "[{}] {}", f.kind, f.detail);
    }
    if let Some(l) = &r.leaf {
        let _ = writeln!(
            detail,
            "certificate {}, issuer {}, sha1 {}, sha256 {}",
            l.subject, l.issuer, l.sha1, l.sha256
        );
    }
    if let Some(h) = &r.hint {
        let _ = writeln!(detail, "next: {h}");
    }
    format!(
        "    <testcase name=\"{} → {} {}{} ({})\" classname=\"mssp-check.{}.{}\" time=\"{}\">{}</testcase>\n",
        r.source.label(),
        xml(&r.target),
        xml(&target),
        xml(&via),
        r.probe.label(),
        xml(&src.host),
        xml(&r.path),
        secs(r.total_ms),
        body(r.severity, r.verdict.label(), &r.reason, &detail, strict)
    )
}

fn failures(severities: impl Iterator<Item = Severity>, strict: bool) -> (usize, usize, usize) {
    let (mut total, mut failed, mut skipped) = (0, 0, 0);
    for s in severities {
        total += 1;
        match s {
            Severity::Fail => failed += 1,
            Severity::Warn if strict => failed += 1,
            Severity::Skip => skipped += 1,
            _ => {}
        }
    }
    (total, failed, skipped)
}

fn suite(src: &Source, strict: bool) -> (String, usize, usize) {
    let (tests, failed, skipped) = failures(src.results.iter().map(|r| r.severity), strict);
    let mut doc = String::new();
    let _ = writeln!(
        doc,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failed}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\" timestamp=\"{}\" hostname=\"{}\">",
        xml(&src.host),
        secs(src.duration_ms),
        xml(&src.started_at),
        xml(&src.host)
    );
    let _ = writeln!(doc, "    <properties>");
    let roles: Vec<&str> = src.roles.iter().map(|r| r.label()).collect();
    let mut props = vec![("roles", roles.join(",")), ("version", src.version.clone())];
    props.extend(src.files.iter().map(|f| ("file", f.clone())));
    props.extend(src.notes.iter().map(|n| ("note", n.clone())));
    for (name, value) in props {
        let _ = writeln!(
            doc,
            "      <property name=\"{name}\" value=\"{}\"/>",
            xml(&value)
        );
    }
    let _ = writeln!(doc, "    </properties>");
    for r in &src.results {
        doc.push_str(&case(src, r, strict));
    }
    let _ = writeln!(doc, "  </testsuite>");
    (doc, tests, failed)
}

fn finding_case(f: &MergeFinding, strict: bool) -> String {
    let mut detail = String::new();
    for line in &f.evidence {
        let _ = writeln!(detail, "{line}");
    }
    if let Some(h) = &f.hint {
        let _ = writeln!(detail, "next: {h}");
    }
    format!(
        "    <testcase name=\"{} {}\" classname=\"mssp-check.deployment.{}\" time=\"0.000\">{}</testcase>\n",
        f.kind.label(),
        xml(f.target.as_deref().unwrap_or_else(|| f.sources.first().map_or("", String::as_str))),
        f.kind.label(),
        body(f.severity, f.kind.label(), &f.detail, &format!("{}\n{detail}", f.detail), strict)
    )
}

/// The merge's suite: a case per finding, and a passing case for each check that found
/// nothing (coverage only when a site file was given), so that CI shows it ran.
fn deployment_suite(view: &View) -> (String, usize, usize) {
    let mut cases = String::new();
    let mut severities = Vec::new();
    for kind in Kind::ALL {
        let found: Vec<&MergeFinding> = view.findings.iter().filter(|f| f.kind == kind).collect();
        let checked = view.site.is_some() || !matches!(kind, Kind::NotReported | Kind::NotCovered);
        if found.is_empty() && checked {
            let _ = writeln!(
                cases,
                "    <testcase name=\"no {}\" classname=\"mssp-check.deployment.{}\" time=\"0.000\"/>",
                kind.label(),
                kind.label()
            );
            severities.push(Severity::Pass);
        }
        for f in found {
            cases.push_str(&finding_case(f, view.strict));
            severities.push(f.severity);
        }
    }
    let (tests, failed, skipped) = failures(severities.into_iter(), view.strict);
    let (first, _) = view.span();
    let doc = format!(
        "  <testsuite name=\"deployment\" tests=\"{tests}\" failures=\"{failed}\" errors=\"0\" skipped=\"{skipped}\" time=\"0.000\" timestamp=\"{}\">\n{cases}  </testsuite>\n",
        xml(&first)
    );
    (doc, tests, failed)
}

/// Writes the view as one `<testsuites>` document.
///
/// # Errors
/// Write errors.
pub fn render(view: &View, out: &mut dyn Write) -> io::Result<()> {
    let mut suites = String::new();
    let (mut tests, mut failed) = (0, 0);
    let mut ms = 0;
    for src in &view.sources {
        let (doc, t, f) = suite(src, view.strict);
        suites.push_str(&doc);
        tests += t;
        failed += f;
        ms = ms.max(src.duration_ms);
    }
    let (doc, t, f) = deployment_suite(view);
    suites.push_str(&doc);
    tests += t;
    failed += f;
    let mut doc = String::new();
    let _ = writeln!(doc, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(
        doc,
        "<testsuites name=\"mssp-check deployment\" tests=\"{tests}\" failures=\"{failed}\" errors=\"0\" time=\"{}\">",
        secs(ms)
    );
    doc.push_str(&suites);
    let _ = writeln!(doc, "</testsuites>");
    out.write_all(doc.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::xml;

    #[test]
    fn escapes_and_drops_controls() {
        assert_eq!(xml("a<b>&\"'\x1b\u{ffff}"), "a&lt;b&gt;&amp;&quot;&apos;??");
        // A bidi override from a certificate name would reorder what a CI page shows.
        assert_eq!(xml("Evil\u{202e} Corp"), "Evil? Corp");
    }
}
