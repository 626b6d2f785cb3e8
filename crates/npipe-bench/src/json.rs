//! The report as JSON: every figure of every row, and every ratio.
//!
//! Written by hand: the document is small and flat, and a serializer would
//! be a dependency for a few dozen lines.
//!
//! ```text
//! { "format": "npipe-bench/1", "mode", "duration_s", "repetitions", "elapsed_s",
//!   "machine": { "nproc", "cpus", "cpu_model", "kernel", "load_start", "load_end" },
//!   "rows": [ { "id", "workload", "size", "pinning", "impl", "group",
//!               "status": "ok" | "pending" | "failed", "reason"?, "metrics"? } ],
//!   "comparisons": [ { "id", "against", "metric", "npipe", "other", "ratio",
//!                      "higher_is_better" } ] }
//! ```

use std::fmt::Write as _;

use crate::cases::Group;
use crate::report::{Outcome, Report};

impl Report {
    /// The report as a JSON document (see the module doc for its shape).
    pub fn to_json(&self) -> String {
        let m = &self.machine;
        let mut out = String::new();
        out.push_str("{\n  \"format\": \"npipe-bench/1\",\n");
        let _ = writeln!(out, "  \"mode\": {},", string(self.mode));
        let _ = writeln!(out, "  \"duration_s\": {},", number(self.duration_s));
        let _ = writeln!(out, "  \"repetitions\": {},", self.repetitions);
        let _ = writeln!(out, "  \"elapsed_s\": {},", number(self.elapsed_s));
        let _ = writeln!(
            out,
            "  \"machine\": {{\"nproc\": {}, \"cpus\": [{}, {}], \"cpu_model\": {}, \"kernel\": {}, \"load_start\": {}, \"load_end\": {}}},",
            m.nproc,
            m.cpus.0,
            m.cpus.1,
            string(&m.cpu_model),
            string(&m.kernel),
            string(&m.load_start),
            string(&m.load_end)
        );
        out.push_str("  \"rows\": [");
        for (i, row) in self.rows.iter().enumerate() {
            let c = &row.case;
            let group = match c.implementation.group() {
                Group::Baseline => "baseline",
                Group::Peer => "peer",
                Group::Npipe => "npipe",
            };
            let _ = write!(
                out,
                "{}\n    {{\"id\": {}, \"workload\": {}, \"size\": {}, \"pinning\": {}, \"impl\": {}, \"group\": {}, ",
                if i == 0 { "" } else { "," },
                string(&c.id()),
                string(c.workload.name()),
                c.size,
                string(c.pinning.name()),
                string(c.implementation.name()),
                string(group)
            );
            match &row.outcome {
                Outcome::Measured(metrics) => {
                    out.push_str("\"status\": \"ok\", \"metrics\": {");
                    for (j, (name, value)) in metrics.0.iter().enumerate() {
                        let sep = if j == 0 { "" } else { ", " };
                        let _ = write!(out, "{sep}{}: {}", string(name), number(*value));
                    }
                    out.push_str("}}");
                }
                Outcome::Pending(reason) => {
                    let _ = write!(
                        out,
                        "\"status\": \"pending\", \"reason\": {}}}",
                        string(reason)
                    );
                }
                Outcome::Failed(reason) => {
                    let _ = write!(
                        out,
                        "\"status\": \"failed\", \"reason\": {}}}",
                        string(reason)
                    );
                }
            }
        }
        out.push_str("\n  ],\n  \"comparisons\": [");
        for (i, c) in self.comparisons().iter().enumerate() {
            let _ = write!(
                out,
                "{}\n    {{\"id\": {}, \"against\": {}, \"metric\": {}, \"npipe\": {}, \"other\": {}, \"ratio\": {}, \"higher_is_better\": {}}}",
                if i == 0 { "" } else { "," },
                string(&c.case.id()),
                string(c.against.name()),
                string(c.metric),
                number(c.npipe),
                number(c.other),
                number(c.ratio()),
                c.higher_is_better
            );
        }
        out.push_str("\n  ]\n}\n");
        out
    }
}

/// A JSON string literal.
fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON number; `null` for what JSON cannot say (NaN, infinities).
fn number(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "null".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(string("a\"b\\c\n\u{1}"), r#""a\"b\\c\n\u0001""#);
    }

    #[test]
    fn numbers_that_json_cannot_hold_are_null() {
        assert_eq!(number(f64::NAN), "null");
        assert_eq!(number(1.5), "1.5");
    }
}
