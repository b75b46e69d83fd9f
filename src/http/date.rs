//! The `Date` field's value, rendered once per second rather than once per response.
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone)]
pub struct DateCache {
    second: u64,
    text: String,
}

impl Default for DateCache {
    fn default() -> Self {
        let mut cache = DateCache { second: u64::MAX, text: String::new() };
        cache.update(SystemTime::now());
        cache
    }
}

impl DateCache {
    /// Re-renders the date if the second changed; called once per loop turn.
    pub fn update(&mut self, now: SystemTime) {
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.second {
            self.second = second;
            self.text = httpdate::fmt_http_date(now);
        }
    }

    pub fn get(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_cache_renders_once_per_second() {
        let mut d = DateCache::default();
        d.update(UNIX_EPOCH + std::time::Duration::from_millis(784_111_777_000));
        assert_eq!(d.get(), "Sun, 06 Nov 1994 08:49:37 GMT");
        d.update(UNIX_EPOCH + std::time::Duration::from_millis(784_111_777_900));
        assert_eq!(d.get(), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
