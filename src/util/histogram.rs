//! A fixed-bucket latency histogram of plain counters: one comparison per bucket to
//! observe, no allocation, `Copy`, so a loop can keep one in its context and publish a
//! copy of it (see the admin listener) without a lock on the path that observes.
use std::time::Duration;

/// Upper bounds of the buckets, in microseconds (Prometheus `le`, in seconds when shown):
/// from 100 µs (a cache hit on a busy loop) to 10 s (a drain, a disk that stopped).
pub const BOUNDS_MICROS: [u64; 15] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    10_000_000,
];

/// Counts per bucket (not cumulative; the last counts what is above every bound), their
/// sum and count.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Histogram {
    pub buckets: [u64; BOUNDS_MICROS.len() + 1],
    pub sum_micros: u64,
    pub count: u64,
}

impl Histogram {
    pub fn observe(&mut self, d: Duration) {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = BOUNDS_MICROS.iter().position(|&b| micros <= b).unwrap_or(BOUNDS_MICROS.len());
        self.buckets[i] += 1;
        self.sum_micros = self.sum_micros.saturating_add(micros);
        self.count += 1;
    }

    /// Adds another's counts (workers' histograms summed for a scrape).
    pub fn add(&mut self, other: &Histogram) {
        for (a, b) in self.buckets.iter_mut().zip(other.buckets) {
            *a += b;
        }
        self.sum_micros = self.sum_micros.saturating_add(other.sum_micros);
        self.count += other.count;
    }

    /// `(le in seconds, cumulative count)` per bound, then `+Inf`'s (which is `count`).
    pub fn cumulative(&self) -> impl Iterator<Item = (Option<f64>, u64)> + '_ {
        let mut total = 0;
        self.buckets.iter().enumerate().map(move |(i, n)| {
            total += n;
            (BOUNDS_MICROS.get(i).map(|&b| b as f64 / 1e6), total)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let mut h = Histogram::default();
        h.observe(Duration::from_micros(100));
        h.observe(Duration::from_micros(101));
        h.observe(Duration::from_secs(60));
        assert_eq!(h.buckets[0], 1);
        assert_eq!(h.buckets[1], 1);
        assert_eq!(h.buckets[BOUNDS_MICROS.len()], 1);
        assert_eq!((h.count, h.sum_micros), (3, 60_000_201));
        let c: Vec<_> = h.cumulative().collect();
        assert_eq!(c[0], (Some(0.0001), 1));
        assert_eq!(c[1], (Some(0.00025), 2));
        assert_eq!(*c.last().unwrap(), (None, 3));
        let mut sum = h;
        sum.add(&h);
        assert_eq!(sum.count, 6);
    }
}
