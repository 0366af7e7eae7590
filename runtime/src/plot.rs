//! The loss curve of a `train` block as a PNG (`plot = "loss.png"`, LANGUAGE.md §8).
//!
//! [`loss_plot`] draws the training loss (and the validation loss, when there is one, with a
//! legend) against the step, [`WIDTH`] × [`HEIGHT`] pixels, white background, axes labelled
//! `step` and `loss`. The y axis is logarithmic when every finite loss is positive and they
//! span more than two decades (max/min > 100), as a training loss typically does; linear
//! otherwise. Non-finite values (NaN, ±inf) are left out; an empty series draws nothing; with
//! nothing at all to draw the picture is the bare axes.
//!
//! Drawing is `plotters` with only its pixel backend and `ab_glyph` text rendering: no system
//! fonts, fontconfig or C libraries, so it builds and runs on a bare machine. The font is
//! DejaVu Sans, embedded through the `dejavu` crate (the DejaVu fonts' licence is the
//! permissive Bitstream Vera one: use, embedding and redistribution are free). The pixels
//! are encoded to PNG in memory (`png` crate) and the file is written with
//! [`write_atomically`], so a reader never sees half a picture.

use crate::atomic::write_atomically;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordu64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::fmt;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The picture's width in pixels.
pub const WIDTH: u32 = 960;
/// The picture's height in pixels.
pub const HEIGHT: u32 = 600;

/// The font family name the plots use; registered once, on first use.
const FONT: &str = "sans-serif";

const TRAIN_COLOR: RGBColor = RGBColor(31, 119, 180);
const VALIDATION_COLOR: RGBColor = RGBColor(255, 127, 14);

/// A failed [`loss_plot`]: the file and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlotError {
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot write the plot `{}`: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for PlotError {}

/// Writes the loss curve to `path` as a PNG, replacing any file there atomically. `train` and
/// `validation` are `(step, loss)` points in any order (they are drawn sorted by step);
/// `title` is drawn above the plot (nothing when empty). See the module docs.
pub fn loss_plot(
    path: &Path,
    train: &[(u64, f64)],
    validation: &[(u64, f64)],
    title: &str,
) -> Result<(), PlotError> {
    let err = |message: String| PlotError { path: path.to_path_buf(), message };
    let png = render_png(train, validation, title).map_err(err)?;
    write_atomically(path, |f| f.write_all(&png)).map_err(|e| err(e.to_string()))
}

/// The PNG file's bytes for [`loss_plot`].
pub fn render_png(
    train: &[(u64, f64)],
    validation: &[(u64, f64)],
    title: &str,
) -> Result<Vec<u8>, String> {
    register_font()?;
    let mut rgb = vec![0u8; WIDTH as usize * HEIGHT as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, &finite_sorted(train), &finite_sorted(validation), title)?;
        root.present().map_err(|e| e.to_string())?;
    }
    encode_png(&rgb)
}

/// Registers the embedded font under [`FONT`], once per process.
fn register_font() -> Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err("the embedded font could not be loaded".to_string())
    }
}

/// The finite points, sorted by step.
fn finite_sorted(points: &[(u64, f64)]) -> Vec<(u64, f64)> {
    let mut v: Vec<(u64, f64)> = points.iter().copied().filter(|(_, l)| l.is_finite()).collect();
    v.sort_by_key(|&(s, _)| s);
    v
}

fn draw(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    train: &[(u64, f64)],
    validation: &[(u64, f64)],
    title: &str,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<_>| e.to_string();
    root.fill(&WHITE).map_err(e)?;

    let all = || train.iter().chain(validation);
    let x_range = match (all().map(|p| p.0).min(), all().map(|p| p.0).max()) {
        // Steps counted from 1 (or logged from step 10) still read best from 0.
        (Some(lo), Some(hi)) if lo < hi => {
            if lo <= (hi - lo) / 10 {
                0..hi
            } else {
                lo..hi
            }
        }
        (Some(lo), Some(_)) => lo.saturating_sub(1)..lo.saturating_add(1),
        _ => 0..1,
    };
    let lo = all().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = all().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    // Absurd magnitudes are pulled in to where plotters' axis arithmetic stays finite (its
    // tick search never ends on an infinite range): ±1e300, and on a log axis at most 280
    // decades below the top. No real loss curve is changed by this.
    let log = lo > 0.0 && hi / lo > 100.0;
    let (floor, ceil) = if log {
        let ceil = hi.min(MAX_MAGNITUDE);
        (lo.max(ceil * 1e-280), ceil)
    } else {
        (-MAX_MAGNITUDE, MAX_MAGNITUDE)
    };
    let clamp = |pts: &[(u64, f64)]| -> Vec<(u64, f64)> {
        pts.iter().map(|&(s, l)| (s, l.clamp(floor, ceil))).collect()
    };
    let (train, validation) = (clamp(train), clamp(validation));

    let mut builder = ChartBuilder::on(root);
    builder.margin(20).x_label_area_size(56).y_label_area_size(88);
    if !title.is_empty() {
        builder.caption(title, (FONT, 26));
    }

    if log {
        // A little room above and below, as a factor on a log axis.
        let y = (floor / 1.5..ceil * 1.5).log_scale();
        let chart = builder.build_cartesian_2d(x_range, y).map_err(e)?;
        series(chart, &train, &validation, &|v: &f64| log_tick(*v))
    } else {
        let y = linear_range(lo.max(floor), hi.min(ceil));
        let span = y.end - y.start;
        let chart = builder.build_cartesian_2d(x_range, y).map_err(e)?;
        series(chart, &train, &validation, &|v: &f64| linear_tick(*v, span))
    }
}

/// The largest |loss| drawn as it is; larger ones are drawn at this value.
const MAX_MAGNITUDE: f64 = 1e300;

/// The y range of a linear axis: the data with 5% room on each side; something sensible for
/// a single value or no data.
fn linear_range(lo: f64, hi: f64) -> Range<f64> {
    if !(lo.is_finite() && hi.is_finite()) {
        return 0.0..1.0;
    }
    let span = hi - lo;
    if span > 0.0 && span.is_finite() {
        lo - 0.05 * span..hi + 0.05 * span
    } else {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        lo - pad..hi + pad
    }
}

fn series<'a, Y>(
    mut chart: ChartContext<'a, BitMapBackend<'a>, Cartesian2d<RangedCoordu64, Y>>,
    train: &[(u64, f64)],
    validation: &[(u64, f64)],
    y_label: &dyn Fn(&f64) -> String,
) -> Result<(), String>
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let e = |e: DrawingAreaErrorKind<_>| e.to_string();
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc("loss")
        .axis_desc_style((FONT, 20))
        .label_style((FONT, 16))
        .x_labels(8)
        .y_labels(8)
        .y_label_formatter(y_label)
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(210, 210, 210))
        .draw()
        .map_err(e)?;

    let mut labelled = false;
    for (points, color, name) in
        [(train, TRAIN_COLOR, "train"), (validation, VALIDATION_COLOR, "validation")]
    {
        if points.is_empty() {
            continue;
        }
        let style = color.stroke_width(2);
        let drawn = if points.len() == 1 {
            // One point is no line: a dot shows it.
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))
        } else {
            chart.draw_series(LineSeries::new(points.iter().copied(), style))
        }
        .map_err(e)?;
        if !validation.is_empty() {
            drawn.label(name).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(2))
            });
            labelled = true;
        }
    }
    if labelled {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT, 18))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(160, 160, 160))
            .draw()
            .map_err(e)?;
    }
    Ok(())
}

/// A tick label on a log axis: `0.01`, `1`, `1000`, `1e-5`, `2e6`.
fn log_tick(v: f64) -> String {
    let a = v.abs();
    if (1e-3..1e4).contains(&a) {
        trim(format!("{v:.6}"))
    } else {
        exp_form(v, 2)
    }
}

/// A tick label on a linear axis whose range spans `span`: enough decimals to tell ticks
/// (about a tenth of the span apart) from each other, trailing zeros dropped.
fn linear_tick(v: f64, span: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{}", if v.is_finite() { 0.0 } else { v });
    }
    let max = v.abs().max(span.abs());
    if (1e-3..1e5).contains(&max) {
        let step = span.abs() / 10.0;
        let decimals =
            if step > 0.0 { (1.0 - step.log10().floor()).clamp(0.0, 12.0) as usize } else { 4 };
        let s = trim(format!("{v:.decimals$}"));
        if s == "-0" {
            "0".to_string()
        } else {
            s
        }
    } else {
        // Mantissa digits enough for the ticks' spacing relative to their size.
        let digits = if span > 0.0 {
            (max / span * 10.0).log10().ceil().clamp(1.0, 10.0) as usize
        } else {
            3
        };
        exp_form(v, digits)
    }
}

/// `v` as `M e E` with at most `digits` decimals in `M`, trailing zeros dropped: `1e-5`, `2.5e6`.
fn exp_form(v: f64, digits: usize) -> String {
    let s = format!("{v:.digits$e}");
    match s.split_once('e') {
        Some((m, e)) => format!("{}e{e}", trim(m.to_string())),
        None => s,
    }
}

/// Drops trailing zeros after a decimal point, and the point itself if nothing follows.
fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// 8-bit RGB pixels, row by row, to a PNG file's bytes.
fn encode_png(rgb: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().map_err(|e| e.to_string())?;
    w.write_image_data(rgb).map_err(|e| e.to_string())?;
    w.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks() {
        assert_eq!(log_tick(1.0), "1");
        assert_eq!(log_tick(0.01), "0.01");
        assert_eq!(log_tick(0.001), "0.001");
        assert_eq!(log_tick(1000.0000000000001), "1000");
        assert_eq!(log_tick(1e-5), "1e-5");
        assert_eq!(log_tick(1.0000000000000002e-5), "1e-5");
        assert_eq!(log_tick(2e6), "2e6");
    }

    #[test]
    fn linear_ticks() {
        assert_eq!(linear_tick(0.30000000000000004, 1.0), "0.3");
        assert_eq!(linear_tick(0.25, 1.0), "0.25");
        assert_eq!(linear_tick(1.0002, 0.001), "1.0002");
        assert_eq!(linear_tick(-0.0000001, 1.0), "0");
        assert_eq!(linear_tick(0.0, 1.0), "0");
        assert_eq!(linear_tick(250.0, 500.0), "250");
        assert_eq!(linear_tick(2.5e6, 1e6), "2.5e6");
        assert_eq!(linear_tick(3e-7, 1e-6), "3e-7");
    }

    #[test]
    fn ranges() {
        assert_eq!(linear_range(1.0, 1.0), 0.9..1.1);
        assert_eq!(linear_range(0.0, 0.0), -1.0..1.0);
        assert_eq!(linear_range(f64::INFINITY, f64::NEG_INFINITY), 0.0..1.0);
        assert_eq!(linear_range(0.0, 10.0), -0.5..10.5);
    }
}
