//! The benchmark's results: latency histograms (HdrHistogram, microseconds), the per-run and
//! whole-benchmark reports, and their JSON and Markdown renderings.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency a histogram holds (120 s, beyond the client's request timeout); larger
/// values saturate.
pub const HIST_MAX_US: u64 = 120_000_000;

/// A latency histogram: 1 µs .. [`HIST_MAX_US`], three significant digits.
pub fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, HIST_MAX_US, 3).map_err(|e| anyhow::anyhow!("creating a histogram: {e:?}"))
}

/// Records one latency in microseconds (0 counts as 1 µs, too large ones saturate).
pub fn record_us(h: &mut Histogram<u64>, us: u64) {
    h.saturating_record(us.clamp(1, HIST_MAX_US));
}

/// Latency percentiles of the successful operations, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub samples: u64,
    pub min_us: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl Latency {
    /// The percentiles of `h`; `None` when it holds no sample.
    pub fn from_histogram(h: &Histogram<u64>) -> Option<Latency> {
        if h.is_empty() {
            return None;
        }
        Some(Latency {
            samples: h.len(),
            min_us: h.min(),
            mean_us: h.mean(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        })
    }
}

/// One point of the latency-by-percentile curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Percentile, 0–100.
    pub percentile: f64,
    pub latency_us: u64,
}

/// The latency-by-percentile curve: ten points per "nine" (0 %, 20.6 %, …, 90 %, …, 99 %, …)
/// as long as the histogram has enough samples to tell them apart, then the maximum at 100 %.
pub fn percentile_curve(h: &Histogram<u64>) -> Vec<CurvePoint> {
    let mut out = Vec::new();
    if h.is_empty() {
        return out;
    }
    let n = h.len() as f64;
    for step in 0..=60u32 {
        let nines = f64::from(step) / 10.0;
        let q = 1.0 - 10f64.powf(-nines);
        // Past 1 - 1/n the quantile is just the maximum.
        if step > 0 && 1.0 - q < 1.0 / n {
            break;
        }
        out.push(CurvePoint { percentile: q * 100.0, latency_us: h.value_at_quantile(q) });
    }
    out.push(CurvePoint { percentile: 100.0, latency_us: h.max() });
    out
}

/// Whether a run was measured or skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Ok,
    Skipped,
}

/// The figures of one operation inside a mixed run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpStats {
    pub op: String,
    pub weight: u32,
    pub ops: u64,
    pub errors: u64,
    pub errors_by_name: BTreeMap<String, u64>,
    pub ops_per_sec: f64,
    pub latency: Option<Latency>,
}

/// One run: one operation, or one weighted mix, measured for the duration or count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The operation (`encrypt-32`) or the mix (`mix(encrypt-32=3,decrypt=1)`).
    pub name: String,
    pub status: RunStatus,
    /// Why a run was skipped.
    pub skip_reason: Option<String>,
    /// Remarks, e.g. operations of a mix that were left out.
    pub notes: Vec<String>,
    /// Successful operations in the measured period.
    pub ops: u64,
    /// Failed operations in the measured period.
    pub errors: u64,
    /// Failures by AWS exception name (or `HTTP 503`, `ConnectError`, `Timeout`, …).
    pub errors_by_name: BTreeMap<String, u64>,
    /// Seconds from the end of the warm-up to the last measured completion.
    pub elapsed_s: f64,
    pub ops_per_sec: f64,
    pub latency: Option<Latency>,
    pub latency_curve: Vec<CurvePoint>,
    /// Width of one throughput bucket in seconds.
    pub timeline_bucket_s: f64,
    /// Successful operations per second, bucket by bucket from the end of the warm-up.
    pub timeline_ops_per_sec: Vec<f64>,
    /// Per operation, for a mix.
    pub per_op: Vec<OpStats>,
}

impl RunReport {
    pub fn skipped(name: impl Into<String>, reason: impl Into<String>) -> RunReport {
        RunReport {
            name: name.into(),
            status: RunStatus::Skipped,
            skip_reason: Some(reason.into()),
            notes: Vec::new(),
            ops: 0,
            errors: 0,
            errors_by_name: BTreeMap::new(),
            elapsed_s: 0.0,
            ops_per_sec: 0.0,
            latency: None,
            latency_curve: Vec::new(),
            timeline_bucket_s: 1.0,
            timeline_ops_per_sec: Vec::new(),
            per_op: Vec::new(),
        }
    }
}

/// The whole benchmark: settings and every run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub tool: String,
    /// `keyraft` or `openbao`.
    pub target: String,
    /// Region and endpoints, or the OpenBao address.
    pub target_detail: String,
    pub clients: usize,
    /// Measured duration per run, when given.
    pub duration_s: Option<f64>,
    /// Measured operations per run, when given.
    pub count: Option<u64>,
    pub warmup_s: f64,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub runs: Vec<RunReport>,
}

impl BenchReport {
    pub fn to_json(&self) -> anyhow::Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, self.to_json()? + "\n").with_context(|| format!("writing {}", path.display()))
    }

    pub fn write_markdown(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, render_markdown(self)).with_context(|| format!("writing {}", path.display()))
    }
}

/// Microseconds as milliseconds with three decimals (microsecond resolution).
fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

fn latency_cells(l: &Option<Latency>) -> String {
    match l {
        Some(l) => {
            format!("{} | {} | {} | {} | {}", ms(l.p50_us), ms(l.p90_us), ms(l.p99_us), ms(l.p999_us), ms(l.max_us))
        }
        None => "– | – | – | – | –".to_owned(),
    }
}

fn errors_text(by_name: &BTreeMap<String, u64>) -> String {
    by_name.iter().map(|(name, n)| format!("{name} × {n}")).collect::<Vec<_>>().join(", ")
}

/// The report as Markdown: a heading, the settings, one table row per run (and per operation of
/// a mix), then the errors by name and any notes.
pub fn render_markdown(r: &BenchReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## keyraft bench: {} ({})\n", r.target, r.target_detail);
    let mut stop = Vec::new();
    if let Some(d) = r.duration_s {
        stop.push(format!("{d} s"));
    }
    if let Some(c) = r.count {
        stop.push(format!("{c} operations"));
    }
    let _ = writeln!(
        s,
        "{} clients, {} per run (whichever first) after {} s warm-up; started {}.\n",
        r.clients,
        stop.join(" or "),
        r.warmup_s,
        r.started_at
    );
    let _ = writeln!(s, "| operation | ops | ops/s | errors | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |");
    let _ = writeln!(s, "|---|--:|--:|--:|--:|--:|--:|--:|--:|");
    for run in &r.runs {
        match run.status {
            RunStatus::Skipped => {
                let _ = writeln!(
                    s,
                    "| {} | skipped: {} | | | | | | | |",
                    run.name,
                    run.skip_reason.as_deref().unwrap_or("")
                );
            }
            RunStatus::Ok => {
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.1} | {} | {} |",
                    run.name,
                    run.ops,
                    run.ops_per_sec,
                    run.errors,
                    latency_cells(&run.latency)
                );
                for op in &run.per_op {
                    let _ = writeln!(
                        s,
                        "| ↳ {} (weight {}) | {} | {:.1} | {} | {} |",
                        op.op,
                        op.weight,
                        op.ops,
                        op.ops_per_sec,
                        op.errors,
                        latency_cells(&op.latency)
                    );
                }
            }
        }
    }
    let with_errors: Vec<&RunReport> = r.runs.iter().filter(|run| !run.errors_by_name.is_empty()).collect();
    if !with_errors.is_empty() {
        let _ = writeln!(s, "\nErrors:\n");
        for run in with_errors {
            let _ = writeln!(s, "- {}: {}", run.name, errors_text(&run.errors_by_name));
        }
    }
    let with_notes: Vec<&RunReport> = r.runs.iter().filter(|run| !run.notes.is_empty()).collect();
    if !with_notes.is_empty() {
        let _ = writeln!(s, "\nNotes:\n");
        for run in with_notes {
            for n in &run.notes {
                let _ = writeln!(s, "- {}: {n}", run.name);
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut h = new_histogram().unwrap();
        for v in values {
            record_us(&mut h, v);
        }
        h
    }

    #[test]
    fn percentiles_of_a_uniform_histogram() {
        // 1..=10_000 µs: the p-quantile is about p · 10_000 (HdrHistogram: 3 significant digits).
        let h = hist(1..=10_000);
        let l = Latency::from_histogram(&h).unwrap();
        assert_eq!(l.samples, 10_000);
        assert_eq!(l.min_us, 1);
        let near = |got: u64, want: u64| (got as f64 - want as f64).abs() <= want as f64 * 0.002 + 1.0;
        assert!(near(l.p50_us, 5_000), "p50 {}", l.p50_us);
        assert!(near(l.p90_us, 9_000), "p90 {}", l.p90_us);
        assert!(near(l.p99_us, 9_900), "p99 {}", l.p99_us);
        assert!(near(l.p999_us, 9_990), "p99.9 {}", l.p999_us);
        assert!(near(l.max_us, 10_000), "max {}", l.max_us);
        assert!((l.mean_us - 5_000.5).abs() < 10.0, "mean {}", l.mean_us);
    }

    #[test]
    fn empty_histogram_has_no_percentiles_and_extremes_saturate() {
        assert_eq!(Latency::from_histogram(&new_histogram().unwrap()), None);
        assert!(percentile_curve(&new_histogram().unwrap()).is_empty());
        let h = hist([0, HIST_MAX_US * 10]);
        let l = Latency::from_histogram(&h).unwrap();
        assert_eq!(l.min_us, 1);
        assert!(l.max_us >= HIST_MAX_US - HIST_MAX_US / 500);
    }

    #[test]
    fn curve_is_monotonic_and_stops_where_samples_run_out() {
        let h = hist(1..=1000);
        let c = percentile_curve(&h);
        // 1000 samples resolve up to three nines (99.9 %), then the maximum.
        let last = c.last().unwrap();
        assert_eq!(last.percentile, 100.0);
        assert!(c[c.len() - 2].percentile >= 99.89 && c[c.len() - 2].percentile < 99.91);
        assert!(c.windows(2).all(|w| w[0].percentile < w[1].percentile && w[0].latency_us <= w[1].latency_us));
    }

    #[test]
    fn markdown_has_rows_for_runs_mix_parts_skips_and_errors() {
        let h = hist([500, 1_000, 2_000]);
        let mut run = RunReport::skipped("encrypt-32", "");
        run.status = RunStatus::Ok;
        run.skip_reason = None;
        run.ops = 3;
        run.errors = 2;
        run.errors_by_name = BTreeMap::from([("ThrottlingException".to_owned(), 2)]);
        run.ops_per_sec = 1234.56;
        run.latency = Latency::from_histogram(&h);
        let mut mix = run.clone();
        mix.name = "mix(encrypt-32=3,decrypt=1)".into();
        mix.errors_by_name.clear();
        mix.per_op = vec![OpStats {
            op: "decrypt".into(),
            weight: 1,
            ops: 1,
            errors: 0,
            errors_by_name: BTreeMap::new(),
            ops_per_sec: 10.0,
            latency: None,
        }];
        mix.notes = vec!["left out sign-ecc-p256".into()];
        let report = BenchReport {
            tool: "keyraft bench".into(),
            target: "keyraft".into(),
            target_detail: "us-east-1, 3 endpoints".into(),
            clients: 4,
            duration_s: Some(1.0),
            count: None,
            warmup_s: 0.5,
            started_at: "2026-01-01T00:00:00Z".into(),
            runs: vec![
                run,
                mix,
                RunReport::skipped(
                    "mrk-decrypt",
                    "needs a second region to make the ciphertexts in; dev.json lists only us-east-1",
                ),
            ],
        };
        let md = render_markdown(&report);
        assert!(md.starts_with("## keyraft bench: keyraft (us-east-1, 3 endpoints)\n"), "{md}");
        assert!(md.contains("4 clients, 1 s per run"), "{md}");
        assert!(md.contains("| operation | ops | ops/s | errors | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |"));
        assert!(md.contains("| encrypt-32 | 3 | 1234.6 | 2 | 1.000 | 2.000 | 2.000 | 2.000 | 2.000 |"), "{md}");
        assert!(md.contains("| ↳ decrypt (weight 1) | 1 | 10.0 | 0 | – | – | – | – | – |"), "{md}");
        assert!(md.contains("| mrk-decrypt | skipped: needs a second region to make the ciphertexts in; dev.json lists only us-east-1 |"), "{md}");
        assert!(md.contains("- encrypt-32: ThrottlingException × 2"), "{md}");
        assert!(md.contains("- mix(encrypt-32=3,decrypt=1): left out sign-ecc-p256"), "{md}");
        // Every table row has the same number of cells as the header.
        let cells = |l: &str| l.matches('|').count();
        for line in md.lines().filter(|l| l.starts_with('|')) {
            assert_eq!(cells(line), 10, "{line}");
        }
        // The JSON reads back (floats may differ in the last bit).
        let back: BenchReport = serde_json::from_str(&report.to_json().unwrap()).unwrap();
        assert_eq!(
            back.runs.iter().map(|r| (&r.name, r.ops, r.status)).collect::<Vec<_>>(),
            report.runs.iter().map(|r| (&r.name, r.ops, r.status)).collect::<Vec<_>>()
        );
        assert_eq!(back.runs[0].latency.as_ref().unwrap().p99_us, 2_000);
    }
}
