//! Summaries of timing samples (median, p90) and the byte/duration formats BENCHMARKS.md uses.

use std::time::Duration;

/// The value at quantile `q` (0.0..=1.0) by the nearest-rank method; `None` for no samples.
pub fn quantile(samples: &[Duration], q: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    // Nearest rank: the smallest sample with at least q of the samples at or below it.
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

pub fn median(samples: &[Duration]) -> Option<Duration> {
    quantile(samples, 0.5)
}

pub fn p90(samples: &[Duration]) -> Option<Duration> {
    quantile(samples, 0.9)
}

/// Milliseconds with one decimal ("12.3 ms"), or "n/a" when nothing was measured.
pub fn ms(value: Option<Duration>) -> String {
    value.map_or_else(
        || "n/a".to_owned(),
        |d| format!("{:.1} ms", d.as_secs_f64() * 1e3),
    )
}

/// Decimal megabytes, as AWS quotes Lambda package limits ("3.42 MB").
pub fn megabytes(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

/// Resident memory from KiB ("18.4 MB", decimal like the other sizes).
pub fn rss(kib: Option<u64>) -> String {
    kib.map_or_else(|| "n/a".to_owned(), |k| megabytes(k * 1024))
}

/// `numerator / denominator` as "12.3×", or "n/a" when either side is missing or zero.
pub fn ratio(numerator: Option<f64>, denominator: Option<f64>) -> Option<f64> {
    match (numerator, denominator) {
        (Some(n), Some(d)) if d > 0.0 => Some(n / d),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms_list(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn median_and_p90_use_nearest_rank_on_unsorted_samples() {
        let samples = ms_list(&[9, 1, 8, 2, 7, 3, 6, 4, 5, 10]);
        assert_eq!(median(&samples), Some(Duration::from_millis(5)));
        assert_eq!(p90(&samples), Some(Duration::from_millis(9)));
        assert_eq!(quantile(&samples, 1.0), Some(Duration::from_millis(10)));
        assert_eq!(quantile(&samples, 0.0), Some(Duration::from_millis(1)));
    }

    #[test]
    fn one_slow_outlier_moves_p90_but_not_the_median() {
        let mut samples = ms_list(&[5; 19]);
        samples.push(Duration::from_millis(500));
        assert_eq!(median(&samples), Some(Duration::from_millis(5)));
        assert_eq!(p90(&samples), Some(Duration::from_millis(5)));
        assert_eq!(quantile(&samples, 0.99), Some(Duration::from_millis(500)));
    }

    #[test]
    fn no_samples_give_none_and_render_as_not_available() {
        assert_eq!(median(&[]), None);
        assert_eq!(ms(None), "n/a");
        assert_eq!(rss(None), "n/a");
        assert_eq!(ratio(Some(1.0), Some(0.0)), None);
    }

    #[test]
    fn formats_are_decimal_units() {
        assert_eq!(ms(Some(Duration::from_micros(12_345))), "12.3 ms");
        assert_eq!(megabytes(3_500_000), "3.50 MB");
        assert_eq!(rss(Some(10_000)), "10.24 MB");
        assert_eq!(ratio(Some(30.0), Some(2.0)), Some(15.0));
    }
}
