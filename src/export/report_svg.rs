//! The evidence report's plots as inline SVG: the similarity histograms and the
//! precision-recall curve, with their axes. Text in them is escaped here; the page's template
//! takes them as markup.

use std::fmt::Write as _;

use super::report::AuditReport;
use super::review_html::escape_html as esc;

/// A tick's value with as many decimals as it needs (0.1, 0.25).
fn tick_text(t: f32) -> String {
    if ((t * 10.0).round() - t * 10.0).abs() < 1e-4 {
        format!("{t:.1}")
    } else {
        format!("{t:.2}")
    }
}

/// Where a plot sits on its canvas: left and top edges, width and height, in pixels.
#[derive(Clone, Copy)]
struct Frame {
    left: f32,
    top: f32,
    width: f32,
    height: f32,
}

impl Frame {
    /// The opening of an SVG that holds this plot with `right` pixels of margin beside it
    /// and room for the x axis's labels below, and the plot's background.
    fn open_svg(self, right: f32) -> String {
        let (width, height) = (
            self.left + self.width + right,
            self.top + self.height + 44.0,
        );
        format!(
            "<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fafafa\"/>",
            self.left, self.top, self.width, self.height
        )
    }
}

/// What the axes of a plot say.
struct Axes<'a> {
    /// Ticks along x, in data units (0 to 1).
    x_ticks: &'a [f32],
    /// Ticks along y, in data units (0 to `y_max`).
    y_ticks: &'a [f32],
    y_max: f32,
    y_format: &'a dyn Fn(f32) -> String,
    x_label: &'a str,
    y_label: &'a str,
}

/// Draws `axes` around `frame`: both axis lines, ticks with their values, light grid lines
/// across, and each axis's label (the y label turned).
fn axes_svg(svg: &mut String, frame: Frame, axes: &Axes<'_>) {
    let Frame {
        left,
        top,
        width,
        height,
    } = frame;
    let bottom = top + height;
    let _ = write!(
        svg,
        "<line x1=\"{left}\" y1=\"{bottom}\" x2=\"{}\" y2=\"{bottom}\" stroke=\"#333\"/><line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{bottom}\" stroke=\"#333\"/>",
        left + width
    );
    for &t in axes.x_ticks {
        let x = left + t * width;
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{bottom}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#333\"/><text x=\"{x:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            bottom + 4.0,
            bottom + 16.0,
            tick_text(t)
        );
    }
    for &t in axes.y_ticks {
        let y = bottom - t / axes.y_max.max(f32::EPSILON) * height;
        let _ = write!(
            svg,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#e4e4e4\"/><line x1=\"{}\" y1=\"{y:.1}\" x2=\"{left}\" y2=\"{y:.1}\" stroke=\"#333\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            left + width,
            left - 4.0,
            left - 6.0,
            y + 4.0,
            (axes.y_format)(t)
        );
    }
    let middle = top + height / 2.0;
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">{}</text><text x=\"12\" y=\"{middle:.1}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 12 {middle:.1})\">{}</text>",
        left + width / 2.0,
        bottom + 32.0,
        esc(axes.x_label),
        esc(axes.y_label)
    );
}

/// Two histograms of similarities (0 to 1 in 50 bins of 0.02, each a share of its own
/// images), with axes, ticks, a legend and the threshold line.
pub(super) fn histogram_svg(train: &[f32], generations: &[f32], threshold: f32) -> String {
    const BINS: usize = 50;
    let frame = Frame {
        left: 56.0,
        top: 34.0,
        width: 600.0,
        height: 200.0,
    };
    let (a, b) = (
        crate::stats::bin_shares(train, BINS),
        crate::stats::bin_shares(generations, BINS),
    );
    let peak = a.iter().chain(&b).fold(0.01f64, |m, v| m.max(*v)) as f32;
    // The y axis ends at a round share above the highest bar, in at most five steps.
    let step = [0.01f32, 0.02, 0.05, 0.1, 0.2, 0.25]
        .into_iter()
        .find(|s| peak / s <= 5.0)
        .unwrap_or(0.25);
    let y_max = (peak / step).ceil() * step;
    let mut svg = frame.open_svg(16.0);
    let y_ticks: Vec<f32> = (0..=((y_max / step).round() as usize))
        .map(|i| i as f32 * step)
        .collect();
    let x_ticks: Vec<f32> = (0..=10).map(|i| i as f32 / 10.0).collect();
    axes_svg(
        &mut svg,
        frame,
        &Axes {
            x_ticks: &x_ticks,
            y_ticks: &y_ticks,
            y_max,
            y_format: &|t| format!("{:.0}%", t * 100.0),
            x_label: "highest SSCD similarity (cosine)",
            y_label: "share of images",
        },
    );
    let bar = frame.width / BINS as f32;
    let bottom = frame.top + frame.height;
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let left = frame.left + i as f32 * bar;
        for (share, colour, offset) in [(x, "#1f77b4", 0.0), (y, "#d62728", bar / 2.0)] {
            let h = *share as f32 / y_max * frame.height;
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\" opacity=\"0.85\"/>",
                left + offset,
                bottom - h,
                bar / 2.0,
                h
            );
        }
    }
    let tx = frame.left + threshold.clamp(0.0, 1.0) * frame.width;
    let _ = write!(
        svg,
        "<line x1=\"{tx:.1}\" y1=\"{}\" x2=\"{tx:.1}\" y2=\"{bottom}\" stroke=\"#000\" stroke-dasharray=\"4 3\"/><text x=\"{:.1}\" y=\"{}\" font-size=\"11\">threshold {threshold:.2}</text><rect x=\"{}\" y=\"6\" width=\"10\" height=\"10\" fill=\"#1f77b4\"/><text x=\"{}\" y=\"15\" font-size=\"12\">training vs training ({} images)</text><rect x=\"{}\" y=\"6\" width=\"10\" height=\"10\" fill=\"#d62728\"/><text x=\"{}\" y=\"15\" font-size=\"12\">generation vs training ({} generations)</text></svg>",
        frame.top,
        (tx + 4.0).min(frame.left + frame.width - 80.0),
        frame.top + 12.0,
        frame.left,
        frame.left + 14.0,
        train.len(),
        frame.left + 290.0,
        frame.left + 304.0,
        generations.len()
    );
    svg
}

/// The precision-recall curve of the labelled pairs (recall across, precision up, both 0 to
/// 1), with the calibrated threshold's point when there is one.
pub(super) fn pr_svg(report: &AuditReport) -> String {
    let frame = Frame {
        left: 56.0,
        top: 12.0,
        width: 240.0,
        height: 240.0,
    };
    let at = |recall: f64, precision: f64| {
        (
            frame.left + recall as f32 * frame.width,
            frame.top + frame.height - precision as f32 * frame.height,
        )
    };
    let mut points = String::new();
    for p in report.pr_curve.iter().rev() {
        let (x, y) = at(p.recall, p.precision);
        let _ = write!(points, "{x:.1},{y:.1} ");
    }
    let mut svg = frame.open_svg(20.0);
    let ticks = [0.0, 0.25, 0.5, 0.75, 1.0];
    axes_svg(
        &mut svg,
        frame,
        &Axes {
            x_ticks: &ticks,
            y_ticks: &ticks,
            y_max: 1.0,
            y_format: &|t| tick_text(t),
            x_label: "recall (share of labelled copies found)",
            y_label: "precision",
        },
    );
    let _ = write!(
        svg,
        "<polyline points=\"{points}\" fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"2\"/>"
    );
    let c = &report.calibration;
    if let (Some(t), Some(p), Some(r)) = (c.threshold, c.precision, c.recall) {
        let (x, y) = at(r, p);
        let _ = write!(
            svg,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"#000\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">calibrated threshold {t:.3}</text>",
            x - 6.0,
            y + 16.0
        );
    }
    svg.push_str("</svg>");
    svg
}
