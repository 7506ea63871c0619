//! `table`: the markdown table of a set of runs (the JSON lines the scenarios print): one row
//! per case and metric, the median over runs for each server, iogate's ratios to the anchors,
//! and the load generator's and the servers' CPU use, so a row the generator limited shows.
//! Runs that carry a series (the soak) also get a table of it, one row per interval.

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
                let cut = metric.starts_with("lost")
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

/// A count for a person: rounded, thousands grouped.
fn whole(v: f64) -> String {
    if v.abs() >= 1000.0 {
        number(v)
    } else {
        format!("{v:.0}")
    }
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

/// The series of each run that has one (the soak's): a row per interval, then what the
/// series says about memory, losses and latency.
pub fn series(input: &str) -> String {
    let mut out = String::new();
    let runs = input
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["series"].is_array());
    for r in runs {
        let _ = writeln!(
            out,
            "\n{} — {} run {}:\n",
            r["case"].as_str().unwrap_or(""),
            r["server"].as_str().unwrap_or(""),
            r["run"]
        );
        out.push_str(
            "| t s | RSS MiB | deliveries/s | p50 ms | p99 ms | connects | refused \
             | handshake p99 ms | errors | lost so far | clients | generator CPU % \
             | server CPU % |\n",
        );
        out.push_str("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
        let cell = |v: &Value| v.as_f64().map_or("–".to_string(), number);
        let count = |v: &Value| v.as_f64().map_or("–".to_string(), whole);
        for p in r["series"].as_array().into_iter().flatten() {
            let t = count(&p["t_s"]);
            let t = if p["warmup"] == true {
                format!("{t} (warm-up)")
            } else {
                t
            };
            let mib = p["rss_kib"]
                .as_f64()
                .map_or("–".into(), |k| number(k / 1024.0));
            let _ = writeln!(
                out,
                "| {t} | {mib} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&p["deliveries_per_s"]),
                cell(&p["p50_ms"]),
                cell(&p["p99_ms"]),
                count(&p["connects_ok"]),
                count(&p["refused"]),
                cell(&p["handshake_p99_ms"]),
                count(&p["errors"]),
                count(&p["lost_so_far"]),
                count(&p["clients"]),
                count(&p["gen_cpu_pct"]),
                count(&p["server_cpu_pct"]),
            );
        }
        let m = &r["metrics"];
        let flat = match r["rss_flat"].as_bool() {
            Some(true) => "flat within 5%",
            Some(false) => "**not** flat within 5%",
            None => "not measured",
        };
        let _ = writeln!(
            out,
            "\nAfter the warm-up: RSS {}–{} MiB, spread {}% ({flat}); {} deliveries/s, p50 {} ms, \
             p99 {} ms (the worst interval's {} ms); lost {} of {} (drain: {}); {} connects/s \
             accepted, {} bad tokens refused, {} errors; generator CPU {}%.",
            cell(&m["RSS min MiB"]),
            cell(&m["RSS max MiB"]),
            cell(&m["RSS spread %"]),
            cell(&m["deliveries/s"]),
            cell(&m["p50 ms"]),
            cell(&m["p99 ms"]),
            cell(&m["worst interval p99 ms"]),
            count(&m["lost"]),
            count(&r["expected"]),
            r["drained"].as_str().unwrap_or("–"),
            cell(&m["connects/s"]),
            count(&m["refused"]),
            count(&m["errors"]),
            count(&r["gen_cpu_pct"]),
        );
    }
    out
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
        let lost = r["metrics"].as_object().into_iter().flatten();
        for (metric, v) in lost.filter(|(k, _)| k.starts_with("lost")) {
            if let Some(n) = v.as_f64().filter(|n| *n > 0.0) {
                bits.push(format!("{n:.0} {metric}"));
            }
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
    fn a_series_has_a_row_per_interval_and_a_summary() {
        let line = r#"{"case":"soak 10 clients","server":"iogate","run":1,"expected":100,"drained":"complete","gen_cpu_pct":40,"rss_flat":true,
            "metrics":{"RSS min MiB":10,"RSS max MiB":10.2,"RSS spread %":2,"lost":0},
            "series":[{"t_s":10,"warmup":true,"rss_kib":10240,"deliveries_per_s":1000,"p50_ms":1,"p99_ms":2},
                      {"t_s":20,"warmup":false,"rss_kib":10444,"deliveries_per_s":1000,"p50_ms":1,"p99_ms":3}]}"#
            .replace('\n', "");
        let t = series(&line);
        assert!(
            t.contains("| 10 (warm-up) | 10.0 | 1,000 | 1.00 | 2.00 |"),
            "{t}"
        );
        assert!(t.contains("| 20 | 10.2 |"), "{t}");
        assert!(t.contains("spread 2.00% (flat within 5%)"), "{t}");
        assert!(series(r#"{"case":"echo","metrics":{}}"#).is_empty());
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(1234567.8), "1,234,568");
        assert_eq!(number(123.4), "123");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(number(1.234), "1.23");
        assert_eq!(number(0.0), "0");
        assert_eq!(whole(49.0), "49");
        assert_eq!(whole(12345.6), "12,346");
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
