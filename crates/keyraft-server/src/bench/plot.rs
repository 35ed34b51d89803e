//! The PNG plot of a benchmark: throughput per second over time (top) and latency by percentile
//! (bottom, logarithmic in both the latency and the "nines"), one line per run.
//!
//! Text needs a TrueType font; plotters' `ab_glyph` backend takes it as bytes, read at run time
//! from [`FONT_PATH`] (Debian's `fonts-dejavu-core`) or from `$KEYRAFT_BENCH_FONT`. Without a
//! font no PNG is written (a warning says so).

use std::path::Path;
use std::sync::OnceLock;

use anyhow::anyhow;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::report::{BenchReport, RunReport, RunStatus};

/// Where the font is looked for first.
pub const FONT_PATH: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 1000;

/// Registers the font once per process; false when none could be loaded.
fn font_ready() -> Result<(), String> {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    READY
        .get_or_init(|| {
            let path = std::env::var("KEYRAFT_BENCH_FONT").unwrap_or_else(|_| FONT_PATH.to_owned());
            let bytes = std::fs::read(&path).map_err(|e| format!("no font at {path} ({e})"))?;
            // plotters keeps the font for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| format!("{path} is not a usable TrueType font"))?;
            plotters::style::register_font("sans-serif", FontStyle::Bold, bytes)
                .map_err(|_| format!("{path} is not a usable TrueType font"))?;
            Ok(())
        })
        .clone()
}

/// Writes the plot to `path`. `Ok(false)` (with a warning on stderr) when no font is available.
pub fn write_png(report: &BenchReport, path: &Path) -> anyhow::Result<bool> {
    if let Err(why) = font_ready() {
        eprintln!(
            "warning: not writing {}: {why}; install fonts-dejavu-core or set KEYRAFT_BENCH_FONT",
            path.display()
        );
        return Ok(false);
    }
    draw(report, path).map_err(|e| anyhow!("drawing {}: {e}", path.display()))?;
    Ok(true)
}

/// "nines" (x = -log10(1 - p)) as a percentile label: 0 → 0%, 1 → 90%, 2 → 99%, 3 → 99.9%.
fn nines_label(x: &f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-*x));
    if *x < 0.05 {
        "0%".into()
    } else if *x >= 5.95 {
        "max".into()
    } else {
        let decimals = (x.round() as i64 - 2).max(0) as usize;
        format!("{p:.decimals$}%")
    }
}

fn latency_label(ms: &f64) -> String {
    if *ms >= 10.0 {
        format!("{ms:.0}")
    } else if *ms >= 1.0 {
        format!("{ms:.1}")
    } else if *ms >= 0.1 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.3}")
    }
}

/// x of a percentile on the nines axis; the maximum (100 %) is drawn at 6 nines at most, or one
/// step past the last finite point.
fn nines(percentile: f64, last_finite: f64) -> f64 {
    if percentile >= 100.0 {
        (last_finite + 0.5).min(6.0)
    } else {
        -(1.0 - percentile / 100.0).log10()
    }
}

fn draw(report: &BenchReport, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let runs: Vec<&RunReport> = report.runs.iter().filter(|r| r.status == RunStatus::Ok).collect();
    let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!(
        "keyraft bench: {} ({}), {} clients",
        report.target,
        report.target_detail.split(':').next().unwrap_or(""),
        report.clients
    );
    let root = root.titled(&title, ("sans-serif", 26).into_font().style(FontStyle::Bold))?;
    let (top, bottom) = root.split_vertically(HEIGHT / 2 - 20);
    let color = |i: usize| Palette99::pick(i).to_rgba();

    // Throughput over time.
    let t_max = runs.iter().map(|r| r.timeline_ops_per_sec.len() as f64 * r.timeline_bucket_s).fold(1.0f64, f64::max);
    // Headroom above the highest line for the legend (about one legend line per run).
    let headroom = 1.15 + 0.08 * runs.len() as f64;
    let y_max = runs.iter().flat_map(|r| r.timeline_ops_per_sec.iter().copied()).fold(1.0f64, f64::max) * headroom;
    let mut chart = ChartBuilder::on(&top)
        .caption("Throughput (successful operations per second)", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..t_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc("time since warm-up (s)")
        .y_desc("ops/s")
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 14))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    for (i, r) in runs.iter().enumerate() {
        let c = color(i);
        let pts: Vec<(f64, f64)> = r
            .timeline_ops_per_sec
            .iter()
            .enumerate()
            .map(|(k, v)| ((k as f64 + 0.5) * r.timeline_bucket_s, *v))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
            .label(format!("{} ({:.0} ops/s)", r.name, r.ops_per_sec))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, c.filled())))?;
    }
    if !runs.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()?;
    }

    // Latency by percentile.
    let last_finite = runs
        .iter()
        .flat_map(|r| r.latency_curve.iter().filter(|p| p.percentile < 100.0))
        .map(|p| nines(p.percentile, 0.0))
        .fold(1.0f64, f64::max);
    let x_max = (last_finite + 0.5).min(6.0);
    let lat: Vec<f64> =
        runs.iter().flat_map(|r| r.latency_curve.iter().map(|p| p.latency_us as f64 / 1000.0)).collect();
    let lo = lat.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = lat.iter().copied().fold(0.0f64, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > 0.0 { (lo / 1.5, hi * 1.5) } else { (0.01, 10.0) };
    let mut chart = ChartBuilder::on(&bottom)
        .caption("Latency by percentile (successful operations)", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..x_max, (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ms, log scale)")
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 14))
        .x_labels((x_max.floor() as usize) * 2 + 1)
        .x_label_formatter(&nines_label)
        .y_label_formatter(&latency_label)
        .draw()?;
    for (i, r) in runs.iter().enumerate() {
        let c = color(i);
        let pts: Vec<(f64, f64)> = r
            .latency_curve
            .iter()
            .map(|p| (nines(p.percentile, last_finite).min(x_max), (p.latency_us as f64 / 1000.0).max(lo)))
            .collect();
        let label = match &r.latency {
            Some(l) => format!(
                "{}: p50 {} / p99 {} / p99.9 {} ms",
                r.name,
                latency_label(&(l.p50_us as f64 / 1000.0)),
                latency_label(&(l.p99_us as f64 / 1000.0)),
                latency_label(&(l.p999_us as f64 / 1000.0))
            ),
            None => r.name.clone(),
        };
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 2, c.filled())))?;
    }
    if !runs.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()?;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_axis_labels() {
        assert_eq!(nines_label(&0.0), "0%");
        assert_eq!(nines_label(&1.0), "90%");
        assert_eq!(nines_label(&2.0), "99%");
        assert_eq!(nines_label(&3.0), "99.9%");
        assert_eq!(nines_label(&4.0), "99.99%");
        assert!((nines(99.0, 0.0) - 2.0).abs() < 1e-9);
        assert_eq!(nines(100.0, 3.0), 3.5);
    }
}
