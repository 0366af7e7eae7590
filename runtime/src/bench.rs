//! Timing for the `bench` statement (LANGUAGE.md §4): run a compiled call many times, report
//! the median with the min and max, e.g.
//! `bench f(x): median 12.3 ms (min 11.9 ms, max 14.0 ms) over 50 runs`.
//!
//! The median rather than the mean, because timings have a long right tail (an interrupt, a
//! page fault, another process) that drags a mean but not a median. One untimed warm-up call
//! comes first so that one-off costs (first touch of memory, cold caches, lazy setup) are not
//! counted.

use std::time::{Duration, Instant};

/// Timed runs without an `iters` option stop once they add up to this much time…
const TARGET_TOTAL: Duration = Duration::from_secs(1);
/// …but there are at least this many, so that a slow call still gets a median of several…
const MIN_RUNS: usize = 5;
/// …and at most this many, so that a nanosecond call does not spin a million times.
const MAX_RUNS: usize = 10_000;

/// The summary of a set of timed runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchStats {
    pub median: Duration,
    pub min: Duration,
    pub max: Duration,
    pub runs: usize,
}

impl BenchStats {
    /// Median, min and max of `samples`, in any order. The median of an even count is the
    /// mean of the two middle samples (rounded down to the nanosecond). No samples give all
    /// zeros and `runs: 0`.
    pub fn from_samples(samples: &[Duration]) -> BenchStats {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        let median = match n {
            0 => Duration::ZERO,
            _ if n % 2 == 1 => sorted[n / 2],
            // `lo + (hi - lo) / 2` rather than `(lo + hi) / 2`, which could overflow.
            _ => {
                let (lo, hi) = (sorted[n / 2 - 1], sorted[n / 2]);
                lo + (hi - lo) / 2
            }
        };
        BenchStats {
            median,
            min: sorted.first().copied().unwrap_or_default(),
            max: sorted.last().copied().unwrap_or_default(),
            runs: n,
        }
    }
}

/// Times `f`: one warm-up call that is not counted, then the timed runs.
///
/// - `iters = Some(n)`: exactly `n` timed runs (`n = 0` gives `runs: 0`; the checker is
///   expected to reject `iters = 0` before this).
/// - `iters = None`: runs until the timed runs add up to at least 1 s, with at least 5 and
///   at most 10,000 runs. So a 100 ms call runs 10 times, a 1 s call 5 times, a 1 µs call
///   10,000 times.
///
/// The first error from `f` (warm-up included) stops the measurement and is returned.
pub fn measure<E>(iters: Option<usize>, f: impl FnMut() -> Result<(), E>) -> Result<BenchStats, E> {
    measure_with(iters, TARGET_TOTAL, f)
}

/// [`measure`] with the adaptive time target as a parameter, so tests need not take 1 s.
fn measure_with<E>(
    iters: Option<usize>,
    target: Duration,
    mut f: impl FnMut() -> Result<(), E>,
) -> Result<BenchStats, E> {
    f()?;
    let mut samples = Vec::with_capacity(iters.unwrap_or(MIN_RUNS));
    let mut total = Duration::ZERO;
    loop {
        let done = match iters {
            Some(n) => samples.len() >= n,
            None => samples.len() >= MAX_RUNS || (samples.len() >= MIN_RUNS && total >= target),
        };
        if done {
            break;
        }
        let start = Instant::now();
        f()?;
        let elapsed = start.elapsed();
        total += elapsed;
        samples.push(elapsed);
    }
    Ok(BenchStats::from_samples(&samples))
}

/// A duration for people: 3 significant digits in the unit (ns, µs, ms, s) that puts the
/// number in [1, 1000) *after* rounding, so 999,500 ns is `1.00 ms`, not `1000 µs`.
/// Examples: `850 ns`, `4.56 µs`, `12.3 ms`, `1.20 s`. Below 1 µs the number is whole
/// nanoseconds (the clock's resolution; `5 ns`, not `5.00 ns`). Zero is `0 ns`. Past 1000 s
/// the number keeps growing in seconds (`1230 s`). Rounding is half up.
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 1000 {
        return format!("{ns} ns");
    }
    // Integer arithmetic throughout, so that rounding is exact (no 0.1-style binary error).
    let scale = 10u128.pow(digits(ns) - 3);
    let rounded = (ns + scale / 2) / scale * scale;
    // Rounding may have added a digit (999,500 → 1,000,000), so measure again.
    let exp = digits(rounded) - 1; // `rounded` is in [10^exp, 10^(exp+1))
    let mantissa = rounded / 10u128.pow(exp - 2); // its 3 significant digits, 100..=999
    let (unit, unit_exp) = match exp {
        3..=5 => ("µs", 3),
        6..=8 => ("ms", 6),
        _ => ("s", 9),
    };
    let int_digits = (exp - unit_exp + 1) as usize; // 1, 2 or 3 (more only for ≥ 1000 s)
    let m = mantissa.to_string();
    if int_digits >= 3 {
        let zeros = "0".repeat(int_digits - 3);
        format!("{m}{zeros} {unit}")
    } else {
        format!("{}.{} {unit}", &m[..int_digits], &m[int_digits..])
    }
}

/// Number of decimal digits of `n` (1 for 0).
fn digits(n: u128) -> u32 {
    n.checked_ilog10().map_or(1, |l| l + 1)
}

/// The line `bench` prints: `bench LABEL: median 12.3 ms (min 11.9 ms, max 14.0 ms) over 50 runs`.
pub fn report(label: &str, stats: &BenchStats) -> String {
    let runs = if stats.runs == 1 { "run" } else { "runs" };
    format!(
        "bench {label}: median {} (min {}, max {}) over {} {runs}",
        format_duration(stats.median),
        format_duration(stats.min),
        format_duration(stats.max),
        stats.runs
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn stats_of_an_odd_count() {
        let s = BenchStats::from_samples(&[ms(5), ms(1), ms(9), ms(3), ms(7)]);
        assert_eq!(s, BenchStats { median: ms(5), min: ms(1), max: ms(9), runs: 5 });
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        let s = BenchStats::from_samples(&[ms(10), ms(1), ms(4), ms(3)]);
        assert_eq!(s.median, Duration::from_micros(3500));
        assert_eq!((s.min, s.max, s.runs), (ms(1), ms(10), 4));
        let s = BenchStats::from_samples(&[Duration::from_nanos(1), Duration::from_nanos(2)]);
        assert_eq!(s.median, Duration::from_nanos(1)); // 1.5 ns, rounded down
        let s = BenchStats::from_samples(&[Duration::MAX, Duration::MAX]);
        assert_eq!(s.median, Duration::MAX);
    }

    #[test]
    fn stats_of_one_and_of_none() {
        let s = BenchStats::from_samples(&[ms(2)]);
        assert_eq!(s, BenchStats { median: ms(2), min: ms(2), max: ms(2), runs: 1 });
        let s = BenchStats::from_samples(&[]);
        assert_eq!(
            s,
            BenchStats {
                median: Duration::ZERO,
                min: Duration::ZERO,
                max: Duration::ZERO,
                runs: 0
            }
        );
    }

    #[test]
    fn durations_format_with_three_significant_digits() {
        let ns = Duration::from_nanos;
        let cases = [
            (0, "0 ns"),
            (1, "1 ns"),
            (5, "5 ns"),
            (850, "850 ns"),
            (999, "999 ns"),
            (1000, "1.00 µs"),
            (1004, "1.00 µs"),
            (1005, "1.01 µs"),
            (4560, "4.56 µs"),
            (9994, "9.99 µs"),
            (9995, "10.0 µs"),
            (99_949, "99.9 µs"),
            (99_950, "100 µs"),
            (999_499, "999 µs"),
            (999_500, "1.00 ms"),
            (12_340_000, "12.3 ms"),
            (12_350_000, "12.4 ms"),
            (999_499_999, "999 ms"),
            (999_500_000, "1.00 s"),
            (1_200_000_000, "1.20 s"),
            (59_990_000_000, "60.0 s"),
            (999_499_999_999, "999 s"),
            (999_500_000_000, "1000 s"),
            (1_234_000_000_000, "1230 s"),
        ];
        for (n, want) in cases {
            assert_eq!(format_duration(ns(n)), want, "{n} ns");
        }
        // Well past anything a benchmark runs for: no overflow, no panic.
        assert_eq!(format_duration(Duration::MAX), "18400000000000000000 s");
    }

    #[test]
    fn the_report_line() {
        let s = BenchStats {
            median: Duration::from_micros(12_300),
            min: Duration::from_micros(11_900),
            max: ms(14),
            runs: 50,
        };
        assert_eq!(
            report("value_and_grad(f)(x)", &s),
            "bench value_and_grad(f)(x): median 12.3 ms (min 11.9 ms, max 14.0 ms) over 50 runs"
        );
        let one = BenchStats::from_samples(&[Duration::from_nanos(850)]);
        assert_eq!(
            report("g()", &one),
            "bench g(): median 850 ns (min 850 ns, max 850 ns) over 1 run"
        );
    }

    #[test]
    fn a_fixed_count_runs_exactly_that_often_after_one_warm_up() {
        for n in [0, 1, 2, 7, 200] {
            let mut calls = 0;
            let s = measure(Some(n), || {
                calls += 1;
                Ok::<(), ()>(())
            })
            .unwrap();
            assert_eq!((s.runs, calls), (n, n + 1));
        }
    }

    #[test]
    fn a_fast_call_stops_at_the_maximum_count() {
        let mut calls = 0;
        let s = measure(None, || {
            calls += 1;
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!((s.runs, calls), (MAX_RUNS, MAX_RUNS + 1));
    }

    #[test]
    fn a_slow_call_still_runs_the_minimum_count() {
        // Each run takes more than a fifth of the target, so 5 runs pass it: exactly 5.
        let mut calls = 0;
        let s = measure_with(None, ms(50), || {
            calls += 1;
            std::thread::sleep(ms(11));
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!((s.runs, calls), (MIN_RUNS, MIN_RUNS + 1));
        assert!(s.min >= ms(11));
    }

    #[test]
    fn the_adaptive_count_stops_near_the_target_time() {
        // 2 ms runs against a 40 ms target: 20 runs if sleep is exact, fewer if it overshoots.
        let mut calls = 0;
        let s = measure_with(None, ms(40), || {
            calls += 1;
            std::thread::sleep(ms(2));
            Ok::<(), ()>(())
        })
        .unwrap();
        assert!((MIN_RUNS..=20).contains(&s.runs), "{} runs", s.runs);
        assert_eq!(calls, s.runs + 1);
    }

    #[test]
    fn an_error_stops_the_measurement() {
        let mut calls = 0;
        let r = measure(Some(10), || {
            calls += 1;
            if calls == 4 {
                Err("boom")
            } else {
                Ok(())
            }
        });
        assert_eq!((r, calls), (Err("boom"), 4));
        let r = measure(None, || Err::<(), _>(7));
        assert_eq!(r, Err(7));
    }
}
