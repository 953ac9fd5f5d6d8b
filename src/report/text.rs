//! [`Report::to_text`]: aligned plain-text tables.

use std::fmt::Write as _;

use rust_decimal::Decimal;

use super::{Report, ScoreTrend, Section};
use crate::domain::CustomerId;

/// Columns of a text table: right-aligned unless listed.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>], left: &[usize]) -> String {
    let cols = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut first = true;
        for (i, (cell, w)) in cells.zip(&widths).enumerate().take(cols) {
            if !first {
                out.push_str("  ");
            }
            first = false;
            let pad = w.saturating_sub(cell.chars().count());
            if left.contains(&i) {
                out.push_str(cell);
                if i + 1 < cols {
                    out.push_str(&" ".repeat(pad));
                }
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            }
        }
        let kept = out.trim_end_matches(' ').len();
        out.truncate(kept);
        out.push('\n');
    };
    line(&mut out, &mut headers.iter().copied());
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(&mut out, &mut rule.iter().map(String::as_str));
    for row in rows {
        line(&mut out, &mut row.iter().map(String::as_str));
    }
    out
}

/// `d` with exactly `dp` decimal places (8 -> "8.00" beside 8.15), so a
/// column's figures line up.
pub(crate) fn dec(d: Option<Decimal>, dp: u32) -> String {
    d.map_or_else(
        || "-".into(),
        |d| format!("{:.*}", dp as usize, d.round_dp(dp)),
    )
}

/// A share as a percentage with one decimal place.
pub(crate) fn pct(d: Option<Decimal>) -> String {
    match d.and_then(|d| d.checked_mul(Decimal::ONE_HUNDRED)) {
        Some(p) => dec(Some(p), 1) + "%",
        None => "-".into(),
    }
}

pub(crate) fn ratio(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |x| format!("{:.1}%", 100.0 * x))
}

pub(crate) fn hours(secs: Option<i64>) -> String {
    secs.map_or_else(|| "-".into(), |s| format!("{:.1} h", s as f64 / 3600.0))
}

/// The last 8 hex digits of an id (the distinct ones for sequential and
/// random ids alike).
pub(crate) fn short(c: CustomerId) -> String {
    let s = c.to_string();
    s.get(s.len().saturating_sub(8)..).unwrap_or(&s).to_owned()
}

/// Groups thousands: 12345 -> "12,345".
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn money(d: Decimal) -> String {
    let r = d.round_dp(0);
    let neg = r.is_sign_negative() && !r.is_zero();
    let digits = thousands(r.abs().to_string().parse::<u64>().unwrap_or(0));
    if neg { format!("-{digits}") } else { digits }
}

fn heading(out: &mut String, title: &str) {
    let _ = writeln!(out, "\n== {title} ==");
}

fn skipped<T>(out: &mut String, name: &str, s: &Section<T>) -> Option<()> {
    if let Some(reason) = s.skipped() {
        let _ = writeln!(out, "{name} skipped: {reason}");
        return None;
    }
    Some(())
}

fn trend_table(out: &mut String, t: &ScoreTrend, level: f64) {
    let head = format!("{:.0}% interval", level * 100.0);
    let rows: Vec<Vec<String>> = t
        .months
        .iter()
        .map(|p| {
            vec![
                p.month.to_string(),
                p.n.to_string(),
                dec(p.score, 1),
                match (p.lower, p.upper) {
                    (Some(l), Some(u)) => format!("[{l:.1}, {u:.1}]"),
                    _ => "-".into(),
                },
                dec(p.mean, 2),
                match p.change {
                    Some(c) => format!("{c:+.1}{}", if p.significant { " *" } else { "  " }),
                    None => "-".into(),
                },
                if p.small_sample { "small sample" } else { "" }.into(),
            ]
        })
        .collect();
    out.push_str(&table(
        &["month", "n", "score", &head, "mean", "change", ""],
        &rows,
        &[0, 6],
    ));
    let _ = writeln!(
        out,
        "score: {}; * = significant change from the previous month",
        t.unit
    );
    if t.left_out > 0 {
        let _ = writeln!(out, "{} responses on another scale left out", t.left_out);
    }
}

impl Report {
    /// The report as aligned plain-text tables, the way the `report`
    /// example prints it.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "crmkit customer-relations report");
        let _ = writeln!(
            out,
            "period {} to {} ({}), amounts in {}, {:.0}% intervals",
            self.period
                .start()
                .with_timezone(&self.tz)
                .format("%Y-%m-%d"),
            self.period.end().with_timezone(&self.tz).format("%Y-%m-%d"),
            self.tz,
            self.currency,
            self.confidence * 100.0
        );
        let c = self.counts;
        let _ = writeln!(
            out,
            "read {} survey responses, {} purchases, {} cases, {} recent interactions",
            thousands(c.responses),
            thousands(c.purchases),
            thousands(c.cases),
            thousands(c.interactions)
        );
        for (currency, n) in &self.skipped_purchases {
            let _ = writeln!(
                out,
                "{n} purchases in {currency} left out: no exchange rate to {}",
                self.currency
            );
        }

        for (name, s) in [("NPS", &self.nps), ("CSAT", &self.csat), ("CES", &self.ces)] {
            heading(&mut out, &format!("{name} per month"));
            if let (Some(()), Some(t)) = (skipped(&mut out, name, s), s.computed()) {
                trend_table(&mut out, t, self.confidence);
            }
        }

        heading(
            &mut out,
            "Retention, churn and revenue retention per quarter",
        );
        if let (Some(()), Some(rows)) = (
            skipped(&mut out, "Retention", &self.retention),
            self.retention.computed(),
        ) {
            let rows: Vec<Vec<String>> = rows
                .iter()
                .map(|q| {
                    vec![
                        format!("{}{}", q.quarter, if q.partial { "~" } else { "" }),
                        thousands(q.active_start),
                        thousands(q.acquired),
                        thousands(q.retained),
                        thousands(q.churned),
                        pct(q.retention),
                        pct(q.churn),
                        money(q.revenue),
                        pct(q.grr),
                        pct(q.nrr),
                    ]
                })
                .collect();
            out.push_str(&table(
                &[
                    "quarter",
                    "active",
                    "new",
                    "retained",
                    "churned",
                    "retention",
                    "churn",
                    "revenue",
                    "GRR",
                    "NRR",
                ],
                &rows,
                &[0],
            ));
            let _ = writeln!(
                out,
                "active: a sale in the {} days before; GRR/NRR: this quarter's revenue from \
                 the customers of the same length of time before it (~ = part of the quarter)",
                self.activity_window_days
            );
        }

        heading(
            &mut out,
            "Monthly cohorts (share of each cohort buying, by month since first purchase)",
        );
        if let (Some(()), Some(t)) = (
            skipped(&mut out, "Cohorts", &self.cohorts),
            self.cohorts.computed(),
        ) {
            let width = t
                .cohorts
                .iter()
                .map(|c| c.cells.len())
                .max()
                .unwrap_or(0)
                .min(12);
            let mut headers: Vec<String> = vec!["cohort".into(), "size".into()];
            headers.extend((0..width).map(|k| format!("+{k}")));
            let rows: Vec<Vec<String>> = t
                .cohorts
                .iter()
                .filter(|c| c.size > 0)
                .map(|c| {
                    let mut row = vec![c.bucket.to_string(), thousands(c.size)];
                    row.extend((0..width).map(|k| match c.cells.get(k) {
                        Some(cell) => format!(
                            "{}{}",
                            (cell.share * Decimal::from(100)).round_dp(0),
                            if cell.partial { "~" } else { "" }
                        ),
                        None => String::new(),
                    }));
                    row
                })
                .collect();
            let h: Vec<&str> = headers.iter().map(String::as_str).collect();
            out.push_str(&table(&h, &rows, &[0]));
            let _ = writeln!(
                out,
                "percent of the cohort buying in that month; ~ = month not fully observed; \
                 {} customers acquired before the period",
                thousands(t.acquired_before)
            );
        }

        heading(&mut out, "RFM segments");
        if let (Some(()), Some(r)) = (skipped(&mut out, "RFM", &self.rfm), self.rfm.computed()) {
            let max = r.segments.iter().map(|s| s.1).max().unwrap_or(1).max(1);
            let rows: Vec<Vec<String>> = r
                .segments
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(name, n)| {
                    let share = *n as f64 / r.customers.max(1) as f64;
                    vec![
                        name.clone(),
                        thousands(*n),
                        format!("{:.1}%", 100.0 * share),
                        "#".repeat((n.saturating_mul(30).div_ceil(max)) as usize),
                    ]
                })
                .collect();
            out.push_str(&table(
                &["segment", "customers", "share", ""],
                &rows,
                &[0, 3],
            ));
        }

        heading(&mut out, "Predicted customer value (BG/NBD + Gamma-Gamma)");
        if let (Some(()), Some(v)) = (skipped(&mut out, "CLV", &self.clv), self.clv.computed()) {
            let _ = writeln!(
                out,
                "{} customers ({} bought again); mean probability alive {:.1}%; \
                 predicted {}-month value of all customers {} {}",
                thousands(v.customers),
                thousands(v.repeat_customers),
                100.0 * v.mean_p_alive,
                v.months,
                money(Decimal::from_f64_retain(v.total).unwrap_or_default()),
                self.currency
            );
            let _ = writeln!(
                out,
                "BG/NBD r={:.3} alpha={:.2} a={:.3} b={:.3}; Gamma-Gamma p={:.2} q={:.2} v={:.2}",
                v.bgnbd[0],
                v.bgnbd[1],
                v.bgnbd[2],
                v.bgnbd[3],
                v.gamma_gamma[0],
                v.gamma_gamma[1],
                v.gamma_gamma[2]
            );
            if !v.converged {
                let _ = writeln!(
                    out,
                    "note: a model fit stopped before convergence; treat the predictions with care"
                );
            }
            let rows: Vec<Vec<String>> = v
                .top
                .iter()
                .map(|c| {
                    vec![
                        short(c.customer),
                        c.frequency.to_string(),
                        c.recency.to_string(),
                        c.age.to_string(),
                        money(c.historical),
                        format!("{:.1}%", 100.0 * c.p_alive),
                        format!("{:.2}", c.expected_purchases),
                        format!("{:.0}", c.clv),
                    ]
                })
                .collect();
            out.push_str(&table(
                &[
                    "customer",
                    "repeat days",
                    "recency",
                    "age",
                    "to date",
                    "P(alive)",
                    "exp. purchases",
                    "predicted CLV",
                ],
                &rows,
                &[0],
            ));
        }

        heading(
            &mut out,
            "Service per team (business hours; SLA as of the period end)",
        );
        if let (Some(()), Some(rows)) = (
            skipped(&mut out, "Service", &self.service),
            self.service.computed(),
        ) {
            let rows: Vec<Vec<String>> = rows
                .iter()
                .map(|t| {
                    vec![
                        t.name.clone(),
                        thousands(t.cases),
                        thousands(t.resolved),
                        hours(t.first_reply_median),
                        hours(t.resolution_median),
                        ratio(t.sla_first_reply.compliance()),
                        ratio(t.sla_resolution.compliance()),
                        ratio(t.compliance()),
                    ]
                })
                .collect();
            out.push_str(&table(
                &[
                    "team",
                    "cases",
                    "resolved",
                    "first reply (median)",
                    "resolution (median)",
                    "SLA reply",
                    "SLA resolution",
                    "SLA overall",
                ],
                &rows,
                &[0],
            ));
        }

        heading(&mut out, "Follow-up queue");
        if let (Some(()), Some(f)) = (
            skipped(&mut out, "Follow-up", &self.follow_up),
            self.follow_up.computed(),
        ) {
            let _ = writeln!(
                out,
                "{} tasks planned from {} events between {} and {}",
                thousands(f.tasks.len() as u64),
                thousands(f.events),
                f.window.start().with_timezone(&self.tz).format("%Y-%m-%d"),
                f.window.end().with_timezone(&self.tz).format("%Y-%m-%d"),
            );
            for (reason, n) in &f.not_planned {
                let _ = writeln!(out, "{n} not planned: {reason}");
            }
            let shown = 15;
            let rows: Vec<Vec<String>> = f
                .tasks
                .iter()
                .take(shown)
                .map(|t| {
                    vec![
                        t.due
                            .with_timezone(&self.tz)
                            .format("%Y-%m-%d %H:%M")
                            .to_string(),
                        short(t.customer),
                        t.rule.clone(),
                        t.delivery.clone(),
                        format!("{:?}", t.priority).to_lowercase(),
                    ]
                })
                .collect();
            out.push_str(&table(
                &["due", "customer", "rule", "delivery", "priority"],
                &rows,
                &[0, 1, 2, 3, 4],
            ));
            if f.tasks.len() > shown {
                let _ = writeln!(out, "... and {} more", f.tasks.len() - shown);
            }
        }
        out
    }
}
