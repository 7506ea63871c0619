//! `table`: the markdown table of a set of runs (the JSON lines the scenarios print): one row
//! per case and metric, the median over runs for each server, iogate's ratios to the anchors,
//! and the load generator's and the servers' CPU use, so a row the generator limited shows.

use std::fmt::Write as _;

use serde_json::Value;

use crate::common::GEN_BOUND_PCT;

/// The servers' columns, in order, with their headings.
const SERVERS: [(&str, &str); 3] = [
    ("iogate", "iogate"),
    ("socketioxide", "socketioxide"),
    ("nestjs", "NestJS"),
];

/// Builds the table from JSON lines (other lines are skipped).
pub fn render(input: &str) -> String {
    let runs: Vec<Value> = input
        .lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    // Cases in the order they first ran.
    let mut cases: Vec<String> = Vec::new();
    for r in &runs {
        if let Some(c) = r["case"].as_str()
            && !cases.iter().any(|x| x == c)
        {
            cases.push(c.to_string());
        }
    }
    let mut out = String::new();
    out.push_str(
        "| case | metric | iogate | socketioxide | NestJS | iogate/socketioxide | iogate/NestJS \
         | runs | generator CPU % (io/sx/nest) | server CPU % (io/sx/nest) \
         | other load % (server CPU / gen CPU) |\n",
    );
    out.push_str("|---|---|--:|--:|--:|--:|--:|--:|---|---|---|\n");
    for case in &cases {
        let of_case: Vec<&Value> = runs.iter().filter(|r| r["case"] == *case).collect();
        let by_server = |s: &str| -> Vec<&Value> {
            of_case
                .iter()
                .copied()
                .filter(|r| r["server"] == s)
                .collect()
        };
        let mut metrics: Vec<String> = Vec::new();
        for r in &of_case {
            if let Some(m) = r["metrics"].as_object() {
                for k in m.keys() {
                    if !metrics.contains(k) {
                        metrics.push(k.clone());
                    }
                }
            }
        }
        let runs_cell = SERVERS
            .iter()
            .map(|(s, _)| by_server(s).len().to_string())
            .collect::<Vec<_>>()
            .join("/");
        let cpu_cell = |field: &str, flag: bool| {
            SERVERS
                .iter()
                .map(|(s, _)| {
                    let max = by_server(s)
                        .iter()
                        .filter_map(|r| r[field].as_f64())
                        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
                    match max {
                        Some(v) if flag && v >= GEN_BOUND_PCT => format!("**{v:.0}**"),
                        Some(v) => format!("{v:.0}"),
                        None => "–".into(),
                    }
                })
                .collect::<Vec<_>>()
                .join(" / ")
        };
        let gen_bound: Vec<&str> = SERVERS
            .iter()
            .filter(|(s, _)| by_server(s).iter().any(|r| r["gen_bound"] == true))
            .map(|(_, label)| *label)
            .collect();
        let mut generator = cpu_cell("gen_cpu_pct", true);
        if !gen_bound.is_empty() {
            let _ = write!(generator, " — generator-bound: {}", gen_bound.join(", "));
        }
        let worst = |field: &str| {
            of_case
                .iter()
                .filter_map(|r| r[field].as_f64())
                .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
                .map_or("–".to_string(), |v| format!("{v:.0}"))
        };
        let others = format!(
            "≤{} / ≤{}",
            worst("others_on_server_cpu_pct"),
            worst("others_on_gen_cpu_pct")
        );
        for (i, metric) in metrics.iter().enumerate() {
            let stat: Vec<Option<(f64, f64)>> = SERVERS
                .iter()
                .map(|(s, _)| {
                    let values: Vec<f64> = by_server(s)
                        .iter()
                        .filter_map(|r| r["metrics"][metric.as_str()].as_f64())
                        .collect();
                    median_spread(values)
                })
                .collect();
            let cell = |v: Option<(f64, f64)>| match v {
                Some((m, spread)) if spread > 0.10 => {
                    format!("{} ±{:.0}%", number(m), spread * 100.0)
                }
                Some((m, _)) => number(m),
                None => "–".into(),
            };
            // Undelivered when the drain ran out of time is not known to be lost.
            let mark = |col: usize, text: String| {
                let cut = metric == "lost"
                    && by_server(SERVERS[col].0)
                        .iter()
                        .any(|r| r["drained"] == "limit");
                if cut { format!("{text} †") } else { text }
            };
            let ratio = |a: Option<(f64, f64)>, b: Option<(f64, f64)>| match (a, b) {
                (Some((a, _)), Some((b, _))) if b != 0.0 => format!("{:.2}×", a / b),
                _ => "–".into(),
            };
            let (case_cell, runs, gen_c, srv, oth) = if i == 0 {
                (
                    case.as_str(),
                    runs_cell.as_str(),
                    generator.clone(),
                    cpu_cell("server_cpu_pct", false),
                    others.as_str(),
                )
            } else {
                ("", "", String::new(), String::new(), "")
            };
            let _ = writeln!(
                out,
                "| {case_cell} | {metric} | {} | {} | {} | {} | {} | {runs} | {gen_c} | {srv} | {oth} |",
                mark(0, cell(stat[0])),
                mark(1, cell(stat[1])),
                mark(2, cell(stat[2])),
                ratio(stat[0], stat[1]),
                ratio(stat[0], stat[2]),
            );
        }
    }
    if runs.iter().any(|r| r["drained"] == "limit") {
        out.push_str(
            "\n† the drain ended at its time limit while deliveries still arrived: these were \
             not delivered by then, not necessarily dropped.\n",
        );
    }
    out
}

/// The median of `values` and their spread (half the range over the median).
fn median_spread(mut values: Vec<f64>) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    let spread = if median.abs() > 0.0 {
        (values[n - 1] - values[0]) / 2.0 / median.abs()
    } else {
        0.0
    };
    Some((median, spread))
}

/// A figure for a person: thousands grouped, precision by size.
fn number(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        let s = format!("{:.0}", v.abs());
        let mut grouped = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        if v < 0.0 {
            format!("-{grouped}")
        } else {
            grouped
        }
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a == 0.0 {
        "0".into()
    } else {
        format!("{v:.2}")
    }
}

/// A line for each run that had failures, losses or a drain cut short, for under the table.
pub fn notes(input: &str) -> String {
    let mut out = String::new();
    for r in input
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        let mut bits = Vec::new();
        if r["errors"].as_u64().unwrap_or(0) > 0 {
            bits.push(format!(
                "{} errors {} (first: {})",
                r["errors"],
                r["error_kinds"],
                r["first_error"].as_str().unwrap_or("")
            ));
        }
        if let Some(lost) = r["metrics"]["lost"].as_f64().filter(|l| *l > 0.0) {
            bits.push(format!("{lost:.0} lost"));
        }
        if r["drained"] == "limit" {
            bits.push("the drain ran out of time while deliveries still arrived".into());
        }
        if let Some(e) = r["error"].as_str() {
            bits.push(e.to_string());
        }
        if !bits.is_empty() {
            let key = format!(
                "{} — {}",
                r["case"].as_str().or(r["scenario"].as_str()).unwrap_or(""),
                r["server"].as_str().unwrap_or("")
            );
            let _ = writeln!(out, "- {key} run {}: {}", r["run"], bits.join("; "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(1234567.8), "1,234,568");
        assert_eq!(number(123.4), "123");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(number(1.234), "1.23");
        assert_eq!(number(0.0), "0");
    }

    #[test]
    fn a_table_has_a_row_per_metric_with_ratios() {
        let lines = [
            r#"{"case":"echo","server":"iogate","run":1,"gen_cpu_pct":50,"gen_bound":false,"metrics":{"acks/s":100,"p99 ms":2}}"#,
            r#"{"case":"echo","server":"socketioxide","run":1,"gen_cpu_pct":95,"gen_bound":true,"metrics":{"acks/s":200,"p99 ms":1}}"#,
            r#"{"case":"echo","server":"nestjs","run":1,"gen_cpu_pct":20,"gen_bound":false,"metrics":{"acks/s":50,"p99 ms":4}}"#,
        ]
        .join("\n");
        let t = render(&lines);
        assert!(
            t.contains("| echo | acks/s | 100 | 200 | 50.0 | 0.50× | 2.00× |"),
            "{t}"
        );
        assert!(t.contains("generator-bound: socketioxide"), "{t}");
        assert!(
            t.contains("|  | p99 ms | 2.00 | 1.00 | 4.00 | 2.00× | 0.50× |  |  |  |  |"),
            "{t}"
        );
    }
}
