//! What a user sees while a `train` block runs (LANGUAGE.md §8): progress on stderr, then
//! one summary line on stdout.
//!
//! [`Progress`] has three [`Mode`]s, which [`Mode::detect`] picks the way `gradc run` should:
//! - [`Mode::Bar`] when stderr is a terminal: an `indicatif` bar
//!   `train loss [=========>          ] 1200/5000  loss 0.0123  812 steps/s  ETA 6s`,
//!   with the lines of [`Progress::log`] printed above it.
//! - [`Mode::Lines`] when stderr is not a terminal (a log file, CI): no bar, no escape codes,
//!   only the lines of [`Progress::log`] — `step 100/500  loss 0.0123  val 0.0150  812 steps/s`
//!   — and one such line at the end ([`Progress::finish`]) unless the last step was logged.
//!   The trainer calls `log` every `log_every` steps, so that is a line every `log_every` steps.
//! - [`Mode::Quiet`] (`--quiet`): nothing.
//!
//! [`Progress::update`] is called after every step and must cost next to nothing: it stores
//! the step and loss and only looks at the clock every few calls (adaptively, about once per
//! millisecond); the bar is redrawn at most every [`REDRAW_INTERVAL`]. Nothing here panics:
//! write errors on stderr (a closed pipe) are ignored.
//!
//! Number formats, used by the bar, the lines and [`summary_line`]:
//! - Losses ([`format_loss`]): `{:.4}` (`0.0123`, `0.0012`, `12.3457`), as LANGUAGE.md §8's
//!   example `final loss 0.0012` shows, when `1e-3 ≤ |loss| < 1e5` or the loss is 0;
//!   otherwise three significant digits in exponent form (`1.23e-5`, `4.56e7`), so a small
//!   loss is never shown as `0.0000`. `NaN`, `inf`, `-inf` as they are.
//! - Times and rates ([`format_sig3`]): three significant digits, trailing zeros dropped
//!   (`0.84`, `1.68`, `41`, `12.3`), whole numbers from 100 up (`812`, `1234`).
//! - The summary's total time is in seconds and its per-step and compile times are in
//!   milliseconds, whatever their size, so that runs compare at a glance.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

/// The bar is redrawn at most this often.
pub const REDRAW_INTERVAL: Duration = Duration::from_millis(100);

/// How [`Progress`] shows itself; see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A live bar on stderr, with logged lines above it.
    Bar,
    /// Plain lines on stderr (or the writer of [`Progress::with_writer`]).
    Lines,
    /// Nothing.
    Quiet,
}

impl Mode {
    /// [`Mode::Quiet`] if `quiet`, else [`Mode::Bar`] when stderr is a terminal and
    /// [`Mode::Lines`] when it is not.
    pub fn detect(quiet: bool) -> Mode {
        if quiet {
            Mode::Quiet
        } else if io::stderr().is_terminal() {
            Mode::Bar
        } else {
            Mode::Lines
        }
    }
}

/// The progress display of one `train` block. Steps count from 1: `update(k, …)` means `k`
/// steps are done, out of `total`.
pub struct Progress {
    mode: Mode,
    total: u64,
    bar: Option<ProgressBar>,
    out: Box<dyn Write + Send>,
    /// The step this run started from (0, or the checkpoint's step when resuming).
    start_step: u64,
    started: Instant,
    step: u64,
    loss: f64,
    /// The last step a line was printed for, with the time it was printed.
    last_line: Option<(u64, Instant)>,
    // Redraw throttling: look at the clock once every `check_every` calls of `update`.
    calls_since_check: u32,
    check_every: u32,
    last_check: Instant,
    last_draw: Instant,
    finished: bool,
}

impl Progress {
    /// A display for `total` steps named `label` (the words before the colon of the summary
    /// line, e.g. `train loss`), starting at step 0. Lines go to stderr.
    pub fn new(total: u64, label: &str, mode: Mode) -> Progress {
        Progress::build(total, label, mode, Box::new(io::stderr()), ProgressDrawTarget::stderr())
    }

    /// [`Progress::new`] that writes its lines (in [`Mode::Lines`], and [`Progress::println`]
    /// in every mode but [`Mode::Bar`]) to `out`; for tests and for callers that log elsewhere.
    /// In [`Mode::Bar`] the bar itself is not drawn: a bar belongs on a terminal.
    pub fn with_writer(
        total: u64,
        label: &str,
        mode: Mode,
        out: Box<dyn Write + Send>,
    ) -> Progress {
        Progress::build(total, label, mode, out, ProgressDrawTarget::hidden())
    }

    /// Starts the count at `step` instead of 0: for a run resumed from a checkpoint of that
    /// step. Rates and the ETA count only the steps this run makes.
    pub fn starting_at(mut self, step: u64) -> Progress {
        self.start_step = step;
        self.step = step;
        if let Some(bar) = &self.bar {
            bar.set_position(step.min(self.total));
            bar.reset_eta();
        }
        self
    }

    fn build(
        total: u64,
        label: &str,
        mode: Mode,
        out: Box<dyn Write + Send>,
        target: ProgressDrawTarget,
    ) -> Progress {
        let bar = (mode == Mode::Bar).then(|| {
            let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len}  {msg}")
                .map(|s| s.progress_chars("=> "))
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            let bar = ProgressBar::with_draw_target(Some(total), target)
                .with_style(style)
                .with_prefix(label.to_string());
            // Draws the empty bar at once, so the user sees the run has started.
            bar.tick();
            bar
        });
        let now = Instant::now();
        Progress {
            mode,
            total,
            bar,
            out,
            start_step: 0,
            started: now,
            step: 0,
            loss: f64::NAN,
            last_line: None,
            calls_since_check: 0,
            check_every: 1,
            last_check: now,
            last_draw: now,
            finished: false,
        }
    }

    /// The mode this display runs in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Records that `step` steps are done and the last loss was `loss`. Cheap: call it
    /// after every step.
    pub fn update(&mut self, step: u64, loss: f64) {
        self.step = step;
        self.loss = loss;
        if self.bar.is_none() {
            return;
        }
        self.calls_since_check += 1;
        if self.calls_since_check < self.check_every && step < self.total {
            return;
        }
        self.calls_since_check = 0;
        let now = Instant::now();
        // Aim at one look at the clock per millisecond or so, whatever a step costs.
        let since_check = now.saturating_duration_since(self.last_check);
        if since_check < Duration::from_micros(500) {
            self.check_every = (self.check_every * 2).min(1 << 16);
        } else if since_check > Duration::from_millis(2) {
            self.check_every = (self.check_every / 2).max(1);
        }
        self.last_check = now;
        if now.saturating_duration_since(self.last_draw) >= REDRAW_INTERVAL || step >= self.total {
            self.redraw(now);
        }
    }

    fn redraw(&mut self, now: Instant) {
        self.last_draw = now;
        let Some(bar) = &self.bar else { return };
        let mut msg = format!("loss {}", format_loss(self.loss));
        if let Some(rate) = self.rate(now) {
            msg.push_str(&format!("  {} steps/s", format_sig3(rate)));
            if self.step < self.total && rate > 0.0 {
                let left = (self.total - self.step) as f64 / rate;
                msg.push_str(&format!("  ETA {}", format_eta(left)));
            }
        }
        bar.set_message(msg);
        bar.set_position(self.step.min(self.total));
    }

    /// Steps per second of this run so far, once there is something to measure.
    fn rate(&self, now: Instant) -> Option<f64> {
        let steps = self.step.saturating_sub(self.start_step);
        let secs = now.saturating_duration_since(self.started).as_secs_f64();
        (steps > 0 && secs > 0.0).then(|| steps as f64 / secs)
    }

    /// Prints a line for `step` (above the bar, or as a plain line): its loss, its
    /// validation loss if any, and the steps per second since the previous line. Also does
    /// what [`update`](Self::update) does.
    pub fn log(&mut self, step: u64, loss: f64, val_loss: Option<f64>) {
        self.step = step;
        self.loss = loss;
        if self.mode == Mode::Quiet {
            return;
        }
        let now = Instant::now();
        let line = self.line(step, loss, val_loss, now);
        self.last_line = Some((step, now));
        self.emit(&line);
        if self.bar.is_some() {
            self.redraw(now);
        }
    }

    fn line(&self, step: u64, loss: f64, val_loss: Option<f64>, now: Instant) -> String {
        let mut line = format!("step {step}/{}  loss {}", self.total, format_loss(loss));
        if let Some(v) = val_loss {
            line.push_str(&format!("  val {}", format_loss(v)));
        }
        let (from_step, from_time) = self.last_line.unwrap_or((self.start_step, self.started));
        let secs = now.saturating_duration_since(from_time).as_secs_f64();
        if step > from_step && secs > 0.0 {
            line.push_str(&format!("  {} steps/s", format_sig3((step - from_step) as f64 / secs)));
        }
        line
    }

    /// Prints a message above the bar ([`Mode::Bar`]) or as a line (the other modes, even
    /// [`Mode::Quiet`]: the caller decides what is worth saying when quiet).
    pub fn println(&mut self, msg: &str) {
        self.emit(msg);
    }

    fn emit(&mut self, line: &str) {
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.println(line),
            _ => {
                // A closed stderr must not stop (or panic) the training.
                let _ = writeln!(self.out, "{line}");
                let _ = self.out.flush();
            }
        }
    }

    /// Ends the display: the bar stays on screen as it is (the real last step, also when
    /// training stopped early); in [`Mode::Lines`] a last line is printed unless the last
    /// step was already logged. Called again, or by `Drop`, it does nothing.
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let now = Instant::now();
        match self.mode {
            Mode::Quiet => {}
            Mode::Lines => {
                let logged = self.last_line.is_some_and(|(s, _)| s == self.step);
                if !logged && self.step > self.start_step {
                    let line = self.line(self.step, self.loss, None, now);
                    self.emit(&line);
                }
            }
            Mode::Bar => {
                self.redraw(now);
                if let Some(bar) = &self.bar {
                    bar.abandon();
                }
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The line `gradc run` prints on stdout when a `train` block ends (LANGUAGE.md §8):
/// `train loss: 500 steps in 0.84 s (1.68 ms/step), compile 41 ms, final loss 0.0012`.
///
/// `label` is the part before the colon; `steps` the steps this run made; `train_time` their
/// wall time; `compile_time` the time spent compiling the block. `1 step`, not `1 steps`;
/// with no steps the `(… ms/step)` part is left out. See the module docs for the number
/// formats.
pub fn summary_line(
    label: &str,
    steps: u64,
    train_time: Duration,
    compile_time: Duration,
    final_loss: f64,
) -> String {
    let secs = train_time.as_secs_f64();
    let mut line = format!(
        "{label}: {steps} step{} in {} s",
        if steps == 1 { "" } else { "s" },
        format_sig3(secs)
    );
    if steps > 0 {
        line.push_str(&format!(" ({} ms/step)", format_sig3(secs * 1e3 / steps as f64)));
    }
    line.push_str(&format!(
        ", compile {} ms, final loss {}",
        format_sig3(compile_time.as_secs_f64() * 1e3),
        format_loss(final_loss)
    ));
    line
}

/// A loss as the progress lines and the summary show it: `{:.4}` for `1e-3 ≤ |x| < 1e5` and
/// 0, three significant digits in exponent form otherwise (`1.23e-5`).
pub fn format_loss(x: f64) -> String {
    if !x.is_finite() {
        return non_finite(x);
    }
    let a = x.abs();
    if a == 0.0 || (1e-3..1e5).contains(&a) {
        let s = format!("{x:.4}");
        // `{:.4}` can round 0.00099996 up to 0.0010; fine. It can also give "-0.0000"
        // for -0.0: show that as 0.
        if s == "-0.0000" {
            "0.0000".to_string()
        } else {
            s
        }
    } else {
        format!("{x:.2e}")
    }
}

/// Three significant digits with trailing zeros dropped (`0.84`, `1.68`, `41`, `12.3`);
/// whole numbers from 100 up (`812`, `12345`). For times and rates.
pub fn format_sig3(x: f64) -> String {
    if !x.is_finite() {
        return non_finite(x);
    }
    let a = x.abs();
    if a == 0.0 {
        return "0".to_string();
    }
    let decimals = if a >= 100.0 {
        0
    } else {
        // 2 - ⌊log10 a⌋: 1 → 2 decimals, 0.84 → 3, 0.00168 → 5. Capped for denormals.
        (2 - a.log10().floor() as i32).clamp(0, 320) as usize
    };
    let s = format!("{x:.decimals$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { &s };
    s.to_string()
}

/// A time left, coarse: `42s`, `3m05s`, `2h07m`.
fn format_eta(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "?".to_string();
    }
    let s = secs.round() as u64;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

fn non_finite(x: f64) -> String {
    if x.is_nan() {
        "NaN".to_string()
    } else if x > 0.0 {
        "inf".to_string()
    } else {
        "-inf".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn the_summary_line_matches_the_language_reference() {
        assert_eq!(
            summary_line(
                "train loss",
                500,
                Duration::from_millis(840),
                Duration::from_millis(41),
                0.0012
            ),
            "train loss: 500 steps in 0.84 s (1.68 ms/step), compile 41 ms, final loss 0.0012"
        );
    }

    #[test]
    fn the_summary_line_in_corner_cases() {
        assert_eq!(
            summary_line("train f", 1, Duration::from_micros(2500), Duration::ZERO, 3.0),
            "train f: 1 step in 0.0025 s (2.5 ms/step), compile 0 ms, final loss 3.0000"
        );
        assert_eq!(
            summary_line("train f", 0, Duration::ZERO, Duration::from_millis(1234), f64::NAN),
            "train f: 0 steps in 0 s, compile 1234 ms, final loss NaN"
        );
        assert_eq!(
            summary_line(
                "train g",
                100_000,
                Duration::from_secs_f64(123.456),
                Duration::from_secs_f64(0.0456),
                1.5e-7
            ),
            "train g: 100000 steps in 123 s (1.23 ms/step), compile 45.6 ms, final loss 1.50e-7"
        );
    }

    #[test]
    fn sig3() {
        let cases = [
            (0.84, "0.84"),
            (1.68, "1.68"),
            (41.0, "41"),
            (41.04, "41"),
            (12.34, "12.3"),
            (812.4, "812"),
            (12345.6, "12346"),
            (0.00168, "0.00168"),
            (9.996, "10"),
            (1.0, "1"),
            (0.0, "0"),
            (-2.5, "-2.5"),
            (f64::INFINITY, "inf"),
            (f64::NAN, "NaN"),
            (5e-324, "0"),
        ];
        for (x, want) in cases {
            let got = format_sig3(x);
            if x == 5e-324 {
                // Denormals are not times anyone measures; only: no panic, short enough.
                assert!(got.len() < 400, "{got}");
            } else {
                assert_eq!(got, want, "{x}");
            }
        }
    }

    #[test]
    fn losses() {
        let cases = [
            (0.0012, "0.0012"),
            (0.0123, "0.0123"),
            (0.015, "0.0150"),
            (2.5, "2.5000"),
            (12345.678, "12345.6780"),
            (0.0, "0.0000"),
            (-0.0, "0.0000"),
            (1.234e-5, "1.23e-5"),
            (4.56e7, "4.56e7"),
            (-3.0, "-3.0000"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (x, want) in cases {
            assert_eq!(format_loss(x), want, "{x}");
        }
    }

    #[test]
    fn eta() {
        assert_eq!(format_eta(4.4), "4s");
        assert_eq!(format_eta(185.0), "3m05s");
        assert_eq!(format_eta(7620.0), "2h07m");
        assert_eq!(format_eta(f64::INFINITY), "?");
    }

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// Removes the `  N steps/s` part, which depends on the clock.
    fn without_rates(text: &str) -> Vec<String> {
        text.lines()
            .map(|l| {
                l.split("  ").filter(|p| !p.ends_with("steps/s")).collect::<Vec<_>>().join("  ")
            })
            .collect()
    }

    #[test]
    fn lines_mode_prints_the_logged_steps_and_the_end() {
        let out = Shared::default();
        let mut p = Progress::with_writer(250, "train loss", Mode::Lines, Box::new(out.clone()));
        for step in 1..=250 {
            let loss = 1.0 / step as f64;
            p.update(step, loss);
            if step % 100 == 0 {
                p.log(step, loss, Some(2.0 * loss));
            }
        }
        p.finish();
        p.finish();
        drop(p);
        assert_eq!(
            without_rates(&out.text()),
            [
                "step 100/250  loss 0.0100  val 0.0200",
                "step 200/250  loss 0.0050  val 0.0100",
                "step 250/250  loss 0.0040",
            ]
        );
        // Every line has a rate: steps happened and time passed.
        assert!(out.text().lines().all(|l| l.ends_with(" steps/s")), "{}", out.text());
    }

    #[test]
    fn lines_mode_does_not_repeat_a_logged_last_step() {
        let out = Shared::default();
        let mut p = Progress::with_writer(200, "t", Mode::Lines, Box::new(out.clone()));
        for step in 1..=200 {
            p.update(step, 0.5);
            if step % 100 == 0 {
                p.log(step, 0.5, None);
            }
        }
        drop(p); // `Drop` finishes
        assert_eq!(
            without_rates(&out.text()),
            ["step 100/200  loss 0.5000", "step 200/200  loss 0.5000"]
        );
    }

    #[test]
    fn a_resumed_run_counts_from_its_checkpoint() {
        let out = Shared::default();
        let mut p =
            Progress::with_writer(300, "t", Mode::Lines, Box::new(out.clone())).starting_at(200);
        for step in 201..=250 {
            p.update(step, 0.25);
        }
        p.finish();
        assert_eq!(without_rates(&out.text()), ["step 250/300  loss 0.2500"]);

        // Resumed at the very end: nothing to say.
        let out = Shared::default();
        let mut p =
            Progress::with_writer(300, "t", Mode::Lines, Box::new(out.clone())).starting_at(300);
        p.finish();
        assert_eq!(out.text(), "");
    }

    #[test]
    fn quiet_prints_nothing_but_println() {
        let out = Shared::default();
        let mut p = Progress::with_writer(10, "t", Mode::Quiet, Box::new(out.clone()));
        for step in 1..=10 {
            p.update(step, 1.0);
            p.log(step, 1.0, Some(1.0));
        }
        p.println("checkpoint written");
        p.finish();
        assert_eq!(out.text(), "checkpoint written\n");
    }

    #[test]
    fn a_failing_writer_does_not_panic() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from(io::ErrorKind::BrokenPipe))
            }
            fn flush(&mut self) -> io::Result<()> {
                Err(io::Error::from(io::ErrorKind::BrokenPipe))
            }
        }
        let mut p = Progress::with_writer(10, "t", Mode::Lines, Box::new(Broken));
        p.log(5, 1.0, None);
        p.update(10, f64::NAN);
        p.finish();
    }

    #[test]
    fn the_bar_survives_odd_input_and_is_cheap() {
        // A bar with a hidden target: every code path of Bar mode but the terminal.
        let mut p = Progress::with_writer(1_000_000, "train loss", Mode::Bar, Box::new(io::sink()));
        assert_eq!(p.mode(), Mode::Bar);
        let t = Instant::now();
        for step in 1..=1_000_000u64 {
            p.update(step, if step % 1000 == 0 { f64::NAN } else { 1.0 / step as f64 });
        }
        let per_call = t.elapsed() / 1_000_000;
        p.log(1_000_000, f64::INFINITY, Some(-1.0));
        // Past the total, and backwards: no panic.
        p.update(2_000_000, 0.0);
        p.update(3, 0.0);
        p.finish();
        // A training step costs microseconds at least; `update` must be far below that
        // (it is ~10 ns; the bound leaves room for a slow, busy test machine).
        assert!(per_call < Duration::from_micros(1), "{per_call:?} per update");
    }

    #[test]
    fn a_zero_step_bar_does_not_panic() {
        let mut p = Progress::with_writer(0, "t", Mode::Bar, Box::new(io::sink()));
        p.update(0, 1.0);
        p.finish();
    }
}
