//! Percentiles of a sample of durations.

use std::time::Duration;

/// The `q`-quantile (0.0..=1.0) by the nearest-rank method; zero for no samples.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let sample: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&sample, 0.5), Duration::from_millis(50));
        assert_eq!(quantile(&sample, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&sample, 1.0), Duration::from_millis(100));
        assert_eq!(quantile(&sample[..1], 0.99), Duration::from_millis(1));
        assert_eq!(quantile(&[], 0.5), Duration::ZERO);
    }
}
