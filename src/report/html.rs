//! [`Report::to_html`]: one self-contained page with inline SVG charts.
//!
//! Charts are drawn by plotters' SVG backend. Chart layout needs text
//! metrics; they come from DejaVu Sans (embedded, read by the pure-Rust
//! `ab_glyph`), so no system font library is involved. The page has
//! inline CSS and no external resource.

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};
use rust_decimal::prelude::ToPrimitive;

use super::{Report, RfmSection, ScoreTrend, TeamService};
use crate::metrics::cohort::CohortTable;

/// DejaVu Sans (Bitstream Vera license, see `assets/fonts/LICENSE-DejaVu.txt`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// The family name charts ask for.
const FAMILY: &str = "sans-serif";

/// Rendering the HTML report failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The embedded font could not be read (a corrupt build).
    #[error("the embedded chart font could not be read")]
    Font,
    /// A chart could not be drawn.
    #[error("the {chart} chart could not be drawn: {reason}")]
    Chart {
        /// Which chart.
        chart: &'static str,
        /// What plotters reported.
        reason: String,
    },
}

fn font() -> Result<(), ReportError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    if *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok()) {
        Ok(())
    } else {
        Err(ReportError::Font)
    }
}

const INK: RGBColor = RGBColor(0x22, 0x2b, 0x36);
const ACCENT: RGBColor = RGBColor(0x1f, 0x6f, 0xb2);
const ALERT: RGBColor = RGBColor(0xc0, 0x39, 0x2b);
const GOOD: RGBColor = RGBColor(0x2e, 0x8b, 0x57);

/// Draws into an SVG string of `size` pixels.
fn svg(
    chart: &'static str,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
) -> Result<String, ReportError> {
    font()?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        let fail = |reason: String| ReportError::Chart { chart, reason };
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        draw(&root).map_err(fail)?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    Ok(out)
}

fn text(size: u32) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size).into_font()).color(&INK)
}

fn centred(size: u32) -> TextStyle<'static> {
    text(size).pos(Pos::new(HPos::Center, VPos::Center))
}

fn e2s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// NPS per month: the score line, its interval band, significant changes
/// ringed in red.
fn nps_chart(t: &ScoreTrend) -> Result<String, ReportError> {
    let points: Vec<(f64, f64, f64, f64, bool)> = t
        .months
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            Some((
                i as f64,
                p.score?.to_f64()?,
                p.lower?,
                p.upper?,
                p.significant,
            ))
        })
        .collect();
    let labels: Vec<String> = t.months.iter().map(|p| p.month.to_string()).collect();
    let lo = points.iter().map(|p| p.2).fold(f64::INFINITY, f64::min);
    let hi = points.iter().map(|p| p.3).fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        ((lo - 5.0).max(-100.0).floor(), (hi + 5.0).min(100.0).ceil())
    } else {
        (-100.0, 100.0)
    };
    let n = t.months.len().max(1) as f64;
    svg("NPS trend", (900, 360), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("NPS per month with its 95% interval", text(18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(48)
            .build_cartesian_2d(-0.5..(n - 0.5), lo..hi)
            .map_err(e2s)?;
        chart
            .configure_mesh()
            .x_labels(labels.len().min(12))
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() > 0.01 || i < 0.0 {
                    return String::new();
                }
                labels.get(i as usize).cloned().unwrap_or_default()
            })
            .y_desc("NPS")
            .label_style(text(12))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(e2s)?;
        let mut band: Vec<(f64, f64)> = points.iter().map(|p| (p.0, p.3)).collect();
        band.extend(points.iter().rev().map(|p| (p.0, p.2)));
        if band.len() >= 3 {
            let _band = chart
                .draw_series(std::iter::once(Polygon::new(
                    band,
                    ACCENT.mix(0.18).filled(),
                )))
                .map_err(e2s)?;
        }
        let _line = chart
            .draw_series(std::iter::once(PathElement::new(
                points.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(),
                ACCENT.stroke_width(2),
            )))
            .map_err(e2s)?;
        let _dots = chart
            .draw_series(
                points
                    .iter()
                    .map(|p| Circle::new((p.0, p.1), 3, ACCENT.filled())),
            )
            .map_err(e2s)?;
        let _rings = chart
            .draw_series(
                points
                    .iter()
                    .filter(|p| p.4)
                    .map(|p| Circle::new((p.0, p.1), 7, ALERT.stroke_width(2))),
            )
            .map_err(e2s)?;
        Ok(())
    })
}

/// A colour from white (0) to the accent (1).
fn shade(x: f64) -> RGBColor {
    let x = x.clamp(0.0, 1.0);
    let mix = |from: u8, to: u8| (f64::from(from) + (f64::from(to) - f64::from(from)) * x) as u8;
    RGBColor(mix(0xf4, 0x0b), mix(0xf8, 0x4f), mix(0xfb, 0x8a))
}

/// Text colour readable on `shade(x)`.
fn ink_on(x: f64) -> RGBColor {
    if x > 0.55 { WHITE } else { INK }
}

/// The cohort heat map: one row per cohort, one column per month since
/// acquisition, cells shaded by the share buying.
fn cohort_chart(t: &CohortTable) -> Result<String, ReportError> {
    let cohorts: Vec<_> = t.cohorts.iter().filter(|c| c.size > 0).collect();
    let cols = cohorts
        .iter()
        .map(|c| c.cells.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let (cell_w, cell_h, left, top) = (34i32, 20i32, 120i32, 56i32);
    let width = (left + cell_w * cols as i32 + 20).max(420) as u32;
    let height = (top + cell_h * cohorts.len() as i32 + 20) as u32;
    svg("cohort heat map", (width, height), |root| {
        root.draw(&Text::new(
            "Cohorts: share buying, by month since first purchase",
            (10, 8),
            text(16),
        ))
        .map_err(e2s)?;
        for k in 0..cols {
            root.draw(&Text::new(
                format!("+{k}"),
                (left + cell_w * k as i32 + cell_w / 2, top - 12),
                centred(11),
            ))
            .map_err(e2s)?;
        }
        for (row, c) in cohorts.iter().enumerate() {
            let y = top + cell_h * row as i32;
            root.draw(&Text::new(
                format!("{} ({})", c.bucket, c.size),
                (8, y + cell_h / 2),
                text(11).pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(e2s)?;
            for (k, cell) in c.cells.iter().enumerate() {
                let x = left + cell_w * k as i32;
                let share = cell.share.to_f64().unwrap_or(0.0);
                // Shares after month 0 are small; stretch them for contrast.
                let tone = if k == 0 {
                    share
                } else {
                    (share * 3.0).min(1.0)
                };
                let fill = shade(tone);
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell_w - 1, y + cell_h - 1)],
                    fill.filled(),
                ))
                .map_err(e2s)?;
                if cell.partial {
                    root.draw(&Rectangle::new(
                        [(x + 1, y + 1), (x + cell_w - 2, y + cell_h - 2)],
                        ALERT.mix(0.6).stroke_width(1),
                    ))
                    .map_err(e2s)?;
                }
                root.draw(&Text::new(
                    format!("{:.0}", share * 100.0),
                    (x + cell_w / 2, y + cell_h / 2),
                    centred(10).color(&ink_on(tone)),
                ))
                .map_err(e2s)?;
            }
        }
        Ok(())
    })
}

/// The RFM grid: recency (rows) by frequency (columns), shaded by the
/// number of customers, each cell named by its segment.
fn rfm_chart(r: &RfmSection) -> Result<String, ReportError> {
    let (cell_w, cell_h, left, top) = (130i32, 62i32, 90i32, 50i32);
    let max = r.grid.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    svg(
        "RFM grid",
        (left as u32 + 5 * 130 + 20, top as u32 + 5 * 62 + 40),
        |root| {
            root.draw(&Text::new(
                "RFM: customers by recency (rows) and frequency (columns) score",
                (10, 8),
                text(16),
            ))
            .map_err(e2s)?;
            for (row, (counts, names)) in r.grid.iter().zip(&r.grid_segments).enumerate() {
                let y = top + cell_h * row as i32;
                root.draw(&Text::new(
                    format!("R = {}", 5 - row),
                    (10, y + cell_h / 2),
                    text(12).pos(Pos::new(HPos::Left, VPos::Center)),
                ))
                .map_err(e2s)?;
                for (col, (n, name)) in counts.iter().zip(names).enumerate() {
                    let x = left + cell_w * col as i32;
                    let tone = (*n as f64 / max).sqrt();
                    root.draw(&Rectangle::new(
                        [(x, y), (x + cell_w - 2, y + cell_h - 2)],
                        shade(tone).filled(),
                    ))
                    .map_err(e2s)?;
                    let ink = ink_on(tone);
                    root.draw(&Text::new(
                        n.to_string(),
                        (x + cell_w / 2, y + cell_h / 2 - 9),
                        centred(14).color(&ink),
                    ))
                    .map_err(e2s)?;
                    root.draw(&Text::new(
                        name.clone(),
                        (x + cell_w / 2, y + cell_h / 2 + 11),
                        centred(10).color(&ink),
                    ))
                    .map_err(e2s)?;
                }
            }
            for col in 0..5 {
                root.draw(&Text::new(
                    format!("F = {}", col + 1),
                    (left + cell_w * col + cell_w / 2, top + cell_h * 5 + 14),
                    centred(12),
                ))
                .map_err(e2s)?;
            }
            Ok(())
        },
    )
}

/// SLA compliance per team: first reply and resolution, as bars.
fn sla_chart(rows: &[TeamService]) -> Result<String, ReportError> {
    let (bar_h, left, top, width) = (16i32, 150i32, 50i32, 420i32);
    let group = bar_h * 2 + 14;
    let height = (top + group * rows.len() as i32 + 40) as u32;
    svg(
        "SLA compliance",
        ((left + width + 90) as u32, height),
        |root| {
            root.draw(&Text::new(
                "SLA compliance per team (met / decided targets)",
                (10, 8),
                text(16),
            ))
            .map_err(e2s)?;
            for (i, t) in rows.iter().enumerate() {
                let y = top + group * i as i32;
                root.draw(&Text::new(
                    t.name.clone(),
                    (10, y + bar_h),
                    text(12).pos(Pos::new(HPos::Left, VPos::Center)),
                ))
                .map_err(e2s)?;
                for (j, (label, c, colour)) in [
                    ("reply", t.sla_first_reply.compliance(), ACCENT),
                    ("resolution", t.sla_resolution.compliance(), GOOD),
                ]
                .into_iter()
                .enumerate()
                {
                    let yb = y + bar_h * j as i32;
                    root.draw(&Rectangle::new(
                        [(left, yb), (left + width, yb + bar_h - 2)],
                        RGBColor(0xee, 0xf1, 0xf4).filled(),
                    ))
                    .map_err(e2s)?;
                    let share = c.unwrap_or(0.0).clamp(0.0, 1.0);
                    let w = (f64::from(width) * share) as i32;
                    if w > 0 {
                        root.draw(&Rectangle::new(
                            [(left, yb), (left + w, yb + bar_h - 2)],
                            colour.filled(),
                        ))
                        .map_err(e2s)?;
                    }
                    root.draw(&Text::new(
                        match c {
                            Some(c) => format!("{label} {:.1}%", 100.0 * c),
                            None => format!("{label}: none decided"),
                        },
                        (left + width + 6, yb + bar_h / 2),
                        text(11).pos(Pos::new(HPos::Left, VPos::Center)),
                    ))
                    .map_err(e2s)?;
                }
            }
            Ok(())
        },
    )
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = "body{font-family:'DejaVu Sans',Verdana,sans-serif;margin:24px auto;\
max-width:1100px;color:#222b36;background:#fff}h1{font-size:24px;margin-bottom:4px}\
h2{font-size:18px;border-bottom:1px solid #d5dbe1;padding-bottom:4px;margin-top:32px}\
pre{font-family:'DejaVu Sans Mono',Menlo,monospace;font-size:12px;background:#f6f8fa;\
padding:10px;overflow-x:auto;line-height:1.35}\
.charts{display:grid;grid-template-columns:1fr 1fr;gap:16px;margin-top:16px}\
.chart{margin:0;border:1px solid #e3e7eb;padding:6px}.chart svg{width:100%;height:auto}\
figcaption{font-size:12px;color:#5a6570;text-align:center}\
.skipped{color:#8a5a00;background:#fff8e6;padding:8px;border-left:3px solid #e0a800}\
.meta{color:#5a6570}";

impl Report {
    /// The report as one self-contained HTML page: inline CSS, inline SVG
    /// charts at the top (NPS trend with its interval band, SLA compliance
    /// per team, cohort heat map, RFM grid; a chart whose section was
    /// skipped is left out), then the tables of [`Report::to_text`]. The
    /// page loads nothing from anywhere.
    ///
    /// # Errors
    /// [`ReportError`] when a chart cannot be drawn.
    pub fn to_html(&self) -> Result<String, ReportError> {
        let text = self.to_text();
        let mut html =
            String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        html.push_str("<title>crmkit customer-relations report</title><style>");
        html.push_str(CSS);
        html.push_str("</style></head><body>\n");
        let mut sections: Vec<(Option<String>, Vec<&str>)> = vec![(None, Vec::new())];
        for line in text.lines() {
            if let Some(title) = line.strip_prefix("== ").and_then(|l| l.strip_suffix(" ==")) {
                sections.push((Some(title.to_owned()), Vec::new()));
            } else if let Some(last) = sections.last_mut() {
                last.1.push(line);
            }
        }
        let charts: Vec<(&str, Option<Result<String, ReportError>>)> = vec![
            ("NPS per month", self.nps.computed().map(nps_chart)),
            (
                "SLA compliance per team",
                self.service.computed().map(|r| sla_chart(r)),
            ),
            ("Monthly cohorts", self.cohorts.computed().map(cohort_chart)),
            ("RFM segments", self.rfm.computed().map(rfm_chart)),
        ];
        let mut figures = String::new();
        for (title, chart) in charts {
            if let Some(svg) = chart {
                figures.push_str(&format!(
                    "<figure class=\"chart\">{}<figcaption>{}</figcaption></figure>\n",
                    svg?,
                    escape(title)
                ));
            }
        }
        for (title, lines) in sections {
            let body = lines.join("\n");
            let body = body.trim_matches('\n');
            match title {
                None => {
                    let mut it = body.lines();
                    html.push_str(&format!(
                        "<h1>{}</h1>\n",
                        escape(it.next().unwrap_or_default())
                    ));
                    for l in it {
                        html.push_str(&format!("<p class=\"meta\">{}</p>\n", escape(l)));
                    }
                    if !figures.is_empty() {
                        html.push_str("<div class=\"charts\">\n");
                        html.push_str(&figures);
                        html.push_str("</div>\n");
                    }
                }
                Some(title) => {
                    html.push_str(&format!("<h2>{}</h2>\n", escape(&title)));
                    if body.contains(" skipped: ") && !body.contains('\n') {
                        html.push_str(&format!("<p class=\"skipped\">{}</p>\n", escape(body)));
                    } else {
                        html.push_str(&format!("<pre>{}</pre>\n", escape(body)));
                    }
                }
            }
        }
        html.push_str("</body></html>\n");
        Ok(html)
    }
}
