//! The deployment's view as one self-contained HTML file: inline CSS only (no scripts,
//! fonts, styles or images from anywhere), so that it opens from a ticket attachment on a
//! machine without internet. What the merge found comes first, then the matrix coloured by
//! verdict (colour-blind-safe colours, and always the verdict word and a mark), each cell a
//! link to its evidence further down. Every text from a report is escaped.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::evidence::{Evidence, Told};
use super::finding::thumbprint;
use super::input::PathResult;
use super::table::summary_line;
use super::view::{Cell, Row, View};
use crate::sanitize::printable;
use crate::verdict::{Severity, Verdict};

/// Text for HTML: control characters made visible (as in the terminal), cut to `max`
/// characters, then escaped.
fn h(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in printable(s, max).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Colours from the Okabe–Ito palette, which colour-blind readers can tell apart; the
/// verdict word and a mark are in every cell as well.
const STYLE: &str = "
:root{--ok:#d6ebf7;--okb:#0072b2;--warn:#fff1c2;--warnb:#9a7400;--block:#fbd8c4;--blockb:#d55e00;
--icpt:#f4d2e6;--icptb:#a1467e;--svc:#fde5b0;--svcb:#b07500;--none:#f4f5f7;--line:#d0d7de}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1b1f24;background:#fff}
header{background:#1f2933;color:#f5f7fa;padding:14px 24px}
header h1{margin:0 0 4px;font-size:20px}
header p{margin:2px 0;color:#cbd2d9}
header .exit{display:inline-block;padding:1px 8px;border-radius:3px;font-weight:600}
header .exit0{background:#0072b2;color:#fff}header .exit1{background:#d55e00;color:#fff}
main{padding:4px 24px 24px;max-width:1600px}
h2{font-size:17px;margin:22px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:14px;margin:14px 0 4px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Consolas,'Liberation Mono',monospace;font-size:12.5px}
.found{width:100%}
.found th,.found td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
.found tr.fail td:first-child{box-shadow:inset 5px 0 0 var(--blockb)}
.found tr.warn td:first-child{box-shadow:inset 5px 0 0 var(--warnb)}
.found td:first-child{padding-left:14px}
.jump{font-size:12px;color:#57606a}
.found .hint{color:#3d4650;margin-top:2px}
.found .mono{font-size:11.5px}
.top{display:flex;flex-wrap:wrap;gap:0 32px;align-items:flex-start}
.top>#found{flex:1 1 440px;min-width:0}
.top>#matrix{flex:0 1 auto;max-width:100%;overflow-x:auto}
.top>#matrix .legend{width:0;min-width:100%}
details summary{cursor:pointer;color:#57606a;font-size:12.5px}
.kind{display:inline-block;font:600 12px ui-monospace,Consolas,monospace;background:#1f2933;color:#fff;padding:0 6px;border-radius:3px;margin-right:6px}
.found ul,.ev ul{margin:4px 0 0;padding-left:20px}
.next{font-weight:600}
table{border-collapse:collapse}
.matrix th,.matrix td{border:1px solid var(--line);padding:0;text-align:left;vertical-align:top}
.matrix thead th{background:#f4f5f7;padding:6px 10px;font-size:13px;white-space:nowrap}
.matrix thead th small,.matrix tbody th small{display:block;font-weight:400;color:#57606a}
.matrix tbody th{padding:5px 10px;font-weight:600;white-space:nowrap;background:#fafbfc}
.matrix td.probe{padding:5px 10px;color:#57606a;white-space:nowrap}
.matrix td a{display:block;padding:5px 10px 5px 14px;color:inherit;text-decoration:none;min-width:104px}
.matrix td a:hover,.matrix td a:focus{outline:2px solid #1f2933;outline-offset:-2px}
.matrix td.none{background:var(--none);color:#8c959f;padding:5px 10px;text-align:center}
.v-ok{background:var(--ok);box-shadow:inset 5px 0 0 var(--okb)}
.v-warn{background:var(--warn);box-shadow:inset 5px 0 0 var(--warnb)}
.v-block{background:var(--block);box-shadow:inset 5px 0 0 var(--blockb)}
.v-icpt{background:var(--icpt);box-shadow:inset 5px 0 0 var(--icptb)}
.v-svc{background:var(--svc);box-shadow:inset 5px 0 0 var(--svcb)}
.fail a{font-weight:700}
.spread{display:block;font-size:11.5px;font-weight:400}
.badge{display:inline-block;font:600 11px ui-monospace,Consolas,monospace;background:#fbd8c4;color:#7a2e00;border:1px solid #d55e00;border-radius:3px;padding:0 4px;margin:2px 4px 0 0;text-decoration:none}
.legend{color:#57606a;font-size:12.5px}
.legend span{display:inline-block;padding:0 6px;margin-right:6px;border-left:5px solid}
@media print{details{display:block}details>ul{display:block}}
.problems>li{margin:8px 0}
.ev{border:1px solid var(--line);border-radius:4px;padding:6px 10px;margin:8px 0}
.ev:target{outline:3px solid #0072b2}
.ev dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:4px 0}
.ev dt{color:#57606a}.ev dd{margin:0;overflow-wrap:anywhere}
.sources td,.sources th{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
footer{margin-top:24px;padding-top:8px;border-top:1px solid var(--line);color:#57606a}
@media print{header{background:#fff;color:#000}header p{color:#000}.ev{break-inside:avoid}}
";

/// The CSS class and the mark of a cell.
fn look(c: &Cell) -> (&'static str, &'static str) {
    let class = match c.verdict {
        Verdict::Ok if c.severity == Severity::Warn => "v-warn",
        Verdict::Ok => "v-ok",
        Verdict::Refused | Verdict::Filtered | Verdict::Unreachable => "v-block",
        Verdict::Intercepted => "v-icpt",
        Verdict::Dns
        | Verdict::TlsFailed
        | Verdict::NoService
        | Verdict::ProtocolError
        | Verdict::Cancelled
        | Verdict::InternalError => "v-svc",
        Verdict::Skipped => "none",
    };
    let mark = match c.severity {
        Severity::Pass => "✓",
        Severity::Warn => "!",
        Severity::Fail => "✗",
        Severity::Skip => "–",
        Severity::Cancelled => "?",
    };
    (class, mark)
}

fn anchor(row: usize, source: usize) -> String {
    format!("c{row}-{source}")
}

fn header(view: &View, doc: &mut String) {
    let (first, last) = view.span();
    let code = view.exit().code();
    let _ = write!(
        doc,
        "<header><h1>MailStore SPE deployment: network paths</h1><p>{} source host{}: {}{}</p><p>Runs from {} to {} · mssp-check {} · <span class=\"exit exit{}\">exit {code}</span></p></header>",
        view.sources.len(),
        if view.sources.len() == 1 { "" } else { "s" },
        view.sources
            .iter()
            .map(|s| h(&s.host, 80))
            .collect::<Vec<_>>()
            .join(", "),
        view.site
            .as_ref()
            .map(|s| format!(" · site <code>{}</code>", h(s, 120)))
            .unwrap_or_default(),
        h(&first, 30),
        h(&last, 30),
        env!("CARGO_PKG_VERSION"),
        u8::from(code != 0)
    );
}

fn findings(view: &View, doc: &mut String) {
    let _ = write!(
        doc,
        "<section id=\"found\"><h2>Found by the merge ({})</h2>",
        view.findings.len()
    );
    if view.findings.is_empty() {
        doc.push_str("<p>Nothing: no certificate differs by source, no endpoint is blocked from some sources only, no far end contradicts a near end.</p></section>");
        return;
    }
    doc.push_str("<table class=\"found\"><tbody>");
    for (i, f) in view.findings.iter().enumerate() {
        let _ = write!(
            doc,
            "<tr id=\"f{i}\" class=\"{}\"><td><span class=\"kind\">{}</span> {}",
            if f.severity == Severity::Fail {
                "fail"
            } else {
                "warn"
            },
            f.kind.label(),
            h(&f.detail, 600)
        );
        if let Some(r) = f.row {
            let _ = write!(doc, " <a class=\"jump\" href=\"#r{r}\">row&nbsp;↓</a>");
        }
        if !f.evidence.is_empty() {
            // Who saw which certificate is the finding itself: shown open.
            let open = if f.kind == super::finding::Kind::CertDiffers {
                " open"
            } else {
                ""
            };
            let _ = write!(
                doc,
                "<details{open}><summary>evidence ({})</summary><ul>",
                f.evidence.len()
            );
            for line in &f.evidence {
                let _ = write!(doc, "<li class=\"mono\">{}</li>", h(line, 600));
            }
            doc.push_str("</ul></details>");
        }
        if let Some(hint) = &f.hint {
            let _ = write!(
                doc,
                "<div class=\"hint\"><span class=\"next\">Next:</span> {}</div>",
                h(hint, 400)
            );
        }
        doc.push_str("</td></tr>");
    }
    doc.push_str("</tbody></table></section>");
}

fn row_head(view: &View, ri: usize, row: &Row) -> String {
    let mut s = format!(
        "<th scope=\"row\" id=\"r{ri}\">{}<small>{}{}</small>",
        h(&row.endpoint(), 100),
        h(&row.target, 30),
        row.via_proxy
            .as_ref()
            .map(|p| format!(" · via {}", h(p, 80)))
            .unwrap_or_default()
    );
    for (fi, f) in view.findings.iter().enumerate() {
        if f.row == Some(ri) {
            let _ = write!(
                s,
                "<a class=\"badge\" href=\"#f{fi}\">{}</a>",
                f.kind.label()
            );
        }
    }
    s.push_str("</th>");
    s
}

fn matrix(view: &View, doc: &mut String) {
    doc.push_str("<section id=\"matrix\"><h2>Matrix: targets by source host</h2><table class=\"matrix\"><thead><tr><th>Target</th><th>Probe</th>");
    for s in &view.sources {
        let roles: Vec<&str> = s.roles.iter().map(|r| r.label()).collect();
        let _ = write!(
            doc,
            "<th title=\"{}\">{}<small>{}</small></th>",
            h(&s.host, 200),
            h(&s.short, 40),
            roles.join(", ")
        );
    }
    doc.push_str("</tr></thead><tbody>");
    for (ri, row) in view.rows.iter().enumerate() {
        let _ = write!(
            doc,
            "<tr>{}<td class=\"probe\">{}</td>",
            row_head(view, ri, row),
            row.probe.label()
        );
        for (si, c) in row.cells.iter().enumerate() {
            let Some(c) = c else {
                doc.push_str("<td class=\"none\" title=\"not checked from this host\">—</td>");
                continue;
            };
            let (class, mark) = look(c);
            let fail = if c.severity == Severity::Fail {
                " fail"
            } else {
                ""
            };
            let _ = write!(
                doc,
                "<td class=\"{class}{fail}\"><a href=\"#{}\">{mark} {}{}</a></td>",
                anchor(ri, si),
                c.verdict.label(),
                c.spread()
                    .map(|s| format!("<span class=\"spread\">{s}</span>"))
                    .unwrap_or_default()
            );
        }
        doc.push_str("</tr>");
    }
    doc.push_str("</tbody></table>");
    doc.push_str("<p class=\"legend\"><span style=\"border-color:#0072b2\">ok</span><span style=\"border-color:#9a7400\">ok, with a warning</span><span style=\"border-color:#d55e00\">refused, filtered, unreachable</span><span style=\"border-color:#a1467e\">intercepted</span><span style=\"border-color:#b07500\">dns, tls-failed, no-service, protocol-error</span><br>✓ passes · ! warns (an optional path, or a warning finding) · ✗ fails · — not checked from that host. Each cell links to its evidence.</p>");
    doc.push_str("</section>");
}

fn told(t: &Told, max: usize) -> String {
    match &t.from {
        Some(s) => format!("<em>{}:</em> {}", h(&s.join(", "), 200), h(&t.text, max)),
        None => h(&t.text, max),
    }
}

fn problems(view: &View, doc: &mut String) {
    let _ = write!(
        doc,
        "<section id=\"problems\"><h2>Problems ({})</h2><ul class=\"problems\">",
        view.problems.len()
    );
    for p in &view.problems {
        let e = Evidence::of(p, view);
        let _ = write!(
            doc,
            "<li><strong>{} {} → {} {}</strong> <code>{}</code>{}<ul>",
            if p.severity == Severity::Fail {
                "✗"
            } else {
                "!"
            },
            h(&e.sources.join(", "), 300),
            h(&e.target, 160),
            e.probe,
            p.verdict.label(),
            if e.required { "" } else { " (optional path)" }
        );
        for r in &e.reasons {
            let _ = write!(doc, "<li>{}</li>", told(r, 300));
        }
        for (kind, f) in &e.findings {
            let _ = write!(
                doc,
                "<li><span class=\"kind\">{}</span>{}</li>",
                h(kind, 40),
                told(f, 400)
            );
        }
        for (who, leaf) in &e.certificates {
            let _ = write!(
                doc,
                "<li class=\"mono\">{}certificate {}, issuer {}, thumbprint {}, sha256 {}</li>",
                who.as_ref()
                    .map(|w| format!("<em>{}:</em> ", h(&w.join(", "), 200)))
                    .unwrap_or_default(),
                h(&leaf.subject, 200),
                h(&leaf.issuer, 200),
                h(&thumbprint(&leaf.sha1), 64),
                h(&leaf.sha256, 80)
            );
        }
        for t in &e.hints {
            let _ = write!(
                doc,
                "<li><span class=\"next\">Next:</span> {}</li>",
                told(t, 400)
            );
        }
        doc.push_str("</ul></li>");
    }
    doc.push_str("</ul></section>");
}

fn result_dl(r: &PathResult, doc: &mut String) {
    doc.push_str("<dl>");
    let mut item = |k: &str, v: String| {
        let _ = write!(doc, "<dt>{k}</dt><dd>{v}</dd>");
    };
    item(
        "path",
        format!(
            "<code>{}</code>{}",
            h(&r.path, 80),
            if r.required { "" } else { " (optional)" }
        ),
    );
    if let Some(a) = &r.address {
        let from = r
            .local_address
            .as_ref()
            .map(|l| format!(" from {}", h(l, 60)))
            .unwrap_or_default();
        item("address", format!("<code>{}</code>{from}", h(a, 60)));
    }
    let severity = match r.severity {
        Severity::Pass => "pass",
        Severity::Warn => "warning",
        Severity::Fail => "failure",
        Severity::Skip => "skipped",
        Severity::Cancelled => "cancelled",
    };
    item("verdict", format!("{} ({severity})", r.verdict.label()));
    item("reason", h(&r.reason, 600));
    for f in &r.findings {
        item(
            "finding",
            format!(
                "<span class=\"kind\">{}</span>{}",
                h(&f.kind, 40),
                h(&f.detail, 600)
            ),
        );
    }
    if let Some(l) = &r.leaf {
        item(
            "certificate",
            format!(
                "{}, issued by {}<br><span class=\"mono\">thumbprint {}<br>sha256 {}</span>",
                h(&l.subject, 200),
                h(&l.issuer, 200),
                h(&thumbprint(&l.sha1), 64),
                h(&l.sha256, 80)
            ),
        );
    }
    if let Some(g) = &r.greeting {
        item("greeting", format!("<code>{}</code>", h(g, 300)));
    }
    if let Some(hint) = &r.hint {
        item("next", h(hint, 600));
    }
    doc.push_str("</dl>");
}

fn evidence(view: &View, doc: &mut String) {
    doc.push_str("<section id=\"evidence\"><h2>Evidence, cell by cell</h2>");
    for (ri, row) in view.rows.iter().enumerate() {
        for (si, c) in row.cells.iter().enumerate() {
            let Some(c) = c else { continue };
            let src = &view.sources[si];
            let _ = write!(
                doc,
                "<div class=\"ev\" id=\"{}\"><h3>{} → {}: {}</h3>",
                anchor(ri, si),
                h(&src.host, 100),
                h(&row.label(), 200),
                c.verdict.label()
            );
            for &i in &c.results {
                result_dl(&src.results[i], doc);
            }
            doc.push_str("</div>");
        }
    }
    doc.push_str("</section>");
}

fn sources(view: &View, doc: &mut String) {
    doc.push_str("<section id=\"sources\"><h2>Sources</h2><table class=\"sources\"><thead><tr><th>host</th><th>roles</th><th>report</th><th>started</th><th>results</th><th>inbound (its own check)</th><th>skipped (no target given)</th></tr></thead><tbody>");
    for (si, s) in view.sources.iter().enumerate() {
        let roles: Vec<&str> = s.roles.iter().map(|r| r.label()).collect();
        let failed = s
            .results
            .iter()
            .filter(|r| r.severity == Severity::Fail)
            .count();
        let inbound: Vec<String> = s
            .inbound
            .iter()
            .map(|i| {
                let state = match i.listening {
                    Some(true) => "listening",
                    Some(false) => "not listening",
                    None => "unknown",
                };
                format!("{} {state}", i.port)
            })
            .collect();
        let _ = write!(
            doc,
            "<tr><td>{}{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{} ({failed} failed)</td><td>{}</td><td>{}</td></tr>",
            h(&s.host, 100),
            s.os_hostname
                .as_ref()
                .map(|o| format!("<br><small>OS name {}</small>", h(o, 100)))
                .unwrap_or_default(),
            roles.join(", "),
            h(&s.files.join(", "), 300),
            h(&s.started_at, 30),
            s.results.len(),
            inbound.join(", "),
            h(&view.skipped(si).join(", "), 400)
        );
    }
    doc.push_str("</tbody></table>");
    for note in view
        .notes
        .iter()
        .chain(view.sources.iter().flat_map(|s| &s.notes))
    {
        let _ = write!(doc, "<p class=\"legend\">note: {}</p>", h(note, 400));
    }
    doc.push_str("</section>");
}

/// Writes the view as one HTML document.
///
/// # Errors
/// Write errors.
pub fn render(view: &View, out: &mut dyn Write) -> io::Result<()> {
    let mut doc = String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"color-scheme\" content=\"light\"><title>mssp-check: deployment view</title><style>");
    doc.push_str(STYLE);
    doc.push_str("</style></head><body>");
    header(view, &mut doc);
    doc.push_str("<main>");
    // What the merge found, and beside it (below it, when the matrix is wide) the matrix.
    doc.push_str("<div class=\"top\">");
    findings(view, &mut doc);
    matrix(view, &mut doc);
    doc.push_str("</div>");
    if !view.problems.is_empty() {
        problems(view, &mut doc);
    }
    evidence(view, &mut doc);
    sources(view, &mut doc);
    let _ = write!(doc, "<footer>{}</footer>", h(&summary_line(view), 400));
    doc.push_str("</main></body></html>\n");
    out.write_all(doc.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::h;
    use crate::config::profile::Role;
    use crate::deployment::testkit::{result, run, view};
    use crate::verdict::Verdict;

    #[test]
    fn hostile_report_text_stays_text_and_every_cell_links_to_its_evidence() {
        let mut r = result(Role::Ih, "mgmt", "mgmt01", 8471, Verdict::Refused);
        r.reason = "<script>alert(1)</script>".into();
        r.greeting = Some("* OK <img src=x onerror=alert(1)>".into());
        let v = view(vec![run("ih01\"><b>", Role::Ih, vec![r])]);
        let mut out = Vec::new();
        super::render(&v, &mut out).expect("renders");
        let page = String::from_utf8(out).expect("utf-8");
        for bad in ["<script", "<img", "<b>"] {
            assert!(!page.contains(bad), "{bad}");
        }
        assert!(
            page.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "as text"
        );
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("href=\"#c0-0\"") && page.contains("id=\"c0-0\""));
    }

    #[test]
    fn text_is_escaped_and_controls_shown() {
        assert_eq!(
            h("<script>alert('x')</script>\x1b", 100),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;\\x1b"
        );
    }
}
