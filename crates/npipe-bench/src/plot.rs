//! The plot: round-trip latency and one-way throughput against payload
//! size, npipe against the baselines and peers, same-core and cross-core.
//!
//! A hand-written SVG: four log-log panels of lines and text are simple
//! enough that a plotting crate (and the font stack it pulls in) would cost
//! more than it saves.

use std::fmt::Write as _;

use crate::cases::{Group, Impl, Pinning, Workload};
use crate::report::{human_size, Report};

const PANEL_W: f64 = 560.0;
const PANEL_H: f64 = 360.0;
const MARGIN_L: f64 = 70.0;
const MARGIN_T: f64 = 40.0;
const MARGIN_B: f64 = 50.0;
const GAP: f64 = 40.0;
const LEGEND_H: f64 = 90.0;

impl Report {
    /// The plot as an SVG document.
    pub fn plot_svg(&self) -> String {
        let width = 2.0 * (MARGIN_L + PANEL_W) + GAP + 20.0;
        let height = 2.0 * (MARGIN_T + PANEL_H + MARGIN_B) + LEGEND_H + 30.0;
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(
            svg,
            r#"<rect width="100%" height="100%" fill="white"/><text x="{}" y="22" font-size="16" text-anchor="middle">npipe-bench: {} CPUs, {}, kernel {} ({} mode; load {})</text>"#,
            width / 2.0,
            self.machine.nproc,
            escape(&self.machine.cpu_model),
            escape(&self.machine.kernel),
            self.mode,
            escape(&self.machine.load_start)
        );
        let panels = [
            (
                Workload::RoundTrip,
                "p50_us",
                "round-trip p50 latency (µs, lower is better)",
            ),
            (
                Workload::Messages,
                "gib_per_s",
                "one-way throughput (GiB/s, higher is better)",
            ),
        ];
        let mut shown = Vec::new();
        for (col, &(workload, metric, title)) in panels.iter().enumerate() {
            for (row, pinning) in Pinning::ALL.into_iter().enumerate() {
                let x0 = 10.0 + col as f64 * (MARGIN_L + PANEL_W + GAP) + MARGIN_L;
                let y0 = 30.0 + row as f64 * (MARGIN_T + PANEL_H + MARGIN_B) + MARGIN_T;
                let title = format!("{title}, {}-core", pinning.name());
                let series = self.series(workload, pinning, metric);
                for (i, _) in &series {
                    if !shown.contains(i) {
                        shown.push(*i);
                    }
                }
                panel(&mut svg, x0, y0, &title, &series);
            }
        }
        shown.sort();
        legend(&mut svg, 10.0 + MARGIN_L, height - LEGEND_H, &shown);
        svg.push_str("</svg>\n");
        svg
    }

    /// `(size, value)` points of each implementation that has any.
    fn series(
        &self,
        workload: Workload,
        pinning: Pinning,
        metric: &str,
    ) -> Vec<(Impl, Vec<(f64, f64)>)> {
        let mut out = Vec::new();
        for &implementation in workload.impls() {
            let points: Vec<(f64, f64)> = self
                .rows
                .iter()
                .filter(|r| {
                    r.case.workload == workload
                        && r.case.pinning == pinning
                        && r.case.implementation == implementation
                })
                .filter_map(|r| Some((r.case.size as f64, r.metrics()?.get(metric)?)))
                .filter(|&(_, v)| v > 0.0 && v.is_finite())
                .collect();
            if !points.is_empty() {
                out.push((implementation, points));
            }
        }
        out
    }
}

fn panel(svg: &mut String, x0: f64, y0: f64, title: &str, series: &[(Impl, Vec<(f64, f64)>)]) {
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" font-size="13" text-anchor="middle">{}</text>"#,
        x0 + PANEL_W / 2.0,
        y0 - 12.0,
        escape(title)
    );
    let _ = writeln!(
        svg,
        "<rect x=\"{x0}\" y=\"{y0}\" width=\"{PANEL_W}\" height=\"{PANEL_H}\" fill=\"none\" stroke=\"#888\"/>"
    );
    let all = series.iter().flat_map(|(_, p)| p.iter());
    let (mut xmin, mut xmax, mut ymin, mut ymax) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        xmin = xmin.min(x);
        xmax = xmax.max(x);
        ymin = ymin.min(y);
        ymax = ymax.max(y);
    }
    if xmin > xmax {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">no data</text>"#,
            x0 + PANEL_W / 2.0,
            y0 + PANEL_H / 2.0
        );
        return;
    }
    // Log scales, padded to whole decades on y and a little on x.
    let (lx0, lx1) = (xmin.log2() - 0.5, xmax.log2() + 0.5);
    let (ly0, ly1) = (
        ymin.log10().floor(),
        ymax.log10().ceil().max(ymin.log10().floor() + 1.0),
    );
    let px = |x: f64| x0 + (x.log2() - lx0) / (lx1 - lx0) * PANEL_W;
    let py = |y: f64| y0 + PANEL_H - (y.log10() - ly0) / (ly1 - ly0) * PANEL_H;
    let mut sizes: Vec<f64> = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|&(x, _)| x))
        .collect();
    sizes.sort_by(f64::total_cmp);
    sizes.dedup();
    for x in sizes {
        let _ = writeln!(
            svg,
            "<line x1=\"{0}\" y1=\"{y0}\" x2=\"{0}\" y2=\"{1}\" stroke=\"#eee\"/><text x=\"{0}\" y=\"{2}\" text-anchor=\"middle\">{3}</text>",
            px(x),
            y0 + PANEL_H,
            y0 + PANEL_H + 16.0,
            human_size(x as usize)
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">payload size</text>"#,
        x0 + PANEL_W / 2.0,
        y0 + PANEL_H + 34.0
    );
    let mut decade = ly0;
    while decade <= ly1 {
        for step in [1.0, 2.0, 5.0] {
            let y = 10f64.powf(decade) * step;
            if y.log10() > ly1 + 1e-9 {
                break;
            }
            let stroke = if step == 1.0 { "#ccc" } else { "#f0f0f0" };
            let _ = writeln!(
                svg,
                "<line x1=\"{x0}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"{stroke}\"/><text x=\"{2}\" y=\"{3}\" text-anchor=\"end\">{4}</text>",
                py(y),
                x0 + PANEL_W,
                x0 - 6.0,
                py(y) + 4.0,
                tick(y)
            );
        }
        decade += 1.0;
    }
    for (implementation, points) in series {
        let (color, dash, width) = style(*implementation);
        let path: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="{width}" stroke-dasharray="{dash}"/>"#,
            path.join(" ")
        );
        for &(x, y) in points {
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"><title>{} {}: {:.3}</title></circle>"#,
                px(x),
                py(y),
                implementation,
                human_size(x as usize),
                y
            );
        }
    }
}

fn legend(svg: &mut String, x: f64, y: f64, shown: &[Impl]) {
    for (i, implementation) in shown.iter().enumerate() {
        let (color, dash, width) = style(*implementation);
        let cx = x + (i % 4) as f64 * 280.0;
        let cy = y + (i / 4) as f64 * 22.0;
        let kind = match implementation.group() {
            Group::Baseline => "baseline",
            Group::Peer => "peer",
            Group::Npipe => "npipe",
        };
        let _ = writeln!(
            svg,
            r#"<line x1="{cx}" y1="{cy}" x2="{}" y2="{cy}" stroke="{color}" stroke-width="{width}" stroke-dasharray="{dash}"/><text x="{}" y="{}">{implementation} ({kind})</text>"#,
            cx + 36.0,
            cx + 44.0,
            cy + 4.0
        );
    }
}

/// Colour, dash pattern and width: npipe solid and thick, baselines
/// dashed, peers dotted.
fn style(implementation: Impl) -> (&'static str, &'static str, f64) {
    let color = match implementation {
        Impl::Pipe => "#8c564b",
        Impl::Pipe1M => "#c49c94",
        Impl::UnixStream => "#1f77b4",
        Impl::UnixSeqpacket => "#17becf",
        Impl::Framed => "#2ca02c",
        Impl::FramedNaive => "#98df8a",
        Impl::FramedPeek => "#bcbd22",
        Impl::Interprocess => "#9467bd",
        Impl::IpcChannel => "#e377c2",
        Impl::NpipeAnon => "#ff7f0e",
        Impl::NpipeByte => "#d62728",
        Impl::NpipeMsg => "#000000",
        Impl::NpipeTokio => "#7f7f7f",
    };
    match implementation.group() {
        Group::Npipe => (color, "none", 3.0),
        Group::Baseline => (color, "6,3", 1.5),
        Group::Peer => (color, "2,3", 2.0),
    }
}

fn tick(y: f64) -> String {
    if y >= 1e6 {
        format!("{}M", y / 1e6)
    } else if y >= 1e3 {
        format!("{}k", y / 1e3)
    } else if y >= 1.0 {
        format!("{y}")
    } else {
        format!("{y:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
