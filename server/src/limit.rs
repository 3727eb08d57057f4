//! Rate limits: a token bucket per connection, and a per-address window for board creation.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Allows `rate_per_second` on average and `burst` at once.
pub struct TokenBucket {
    rate_per_second: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate_per_second: u32, burst: u32, now: Instant) -> Self {
        assert!(
            rate_per_second > 0 && burst > 0,
            "a rate limit of zero admits nothing"
        );
        TokenBucket {
            rate_per_second: f64::from(rate_per_second),
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate_per_second).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// How long a creation window lasts.
const CREATION_WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most; past it, windows that ended are forgotten first.
const CREATION_ADDRESSES_MAX: usize = 100_000;

/// Counts events per address over one-minute windows: board creations, failed join attempts.
pub struct CreationLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl CreationLimiter {
    pub fn new(per_minute: u32) -> Self {
        CreationLimiter {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `address` has used up its minute (counts nothing).
    pub fn is_over(&self, address: IpAddr, now: Instant) -> bool {
        let windows = self.windows.lock().unwrap();
        windows.get(&address).is_some_and(|(start, count)| {
            now.saturating_duration_since(*start) < CREATION_WINDOW && *count >= self.per_minute
        })
    }

    /// Counts one creation from `address`; false when it is over the limit.
    pub fn allow(&self, address: IpAddr, now: Instant) -> bool {
        let mut windows = self.windows.lock().unwrap();
        if windows.len() >= CREATION_ADDRESSES_MAX {
            windows.retain(|_, (start, _)| now.saturating_duration_since(*start) < CREATION_WINDOW);
            if windows.len() >= CREATION_ADDRESSES_MAX {
                // Too many live addresses to track: refuse rather than grow.
                return false;
            }
        }
        let window = windows.entry(address).or_insert((now, 0));
        if now.saturating_duration_since(window.0) >= CREATION_WINDOW {
            *window = (now, 0);
        }
        if window.1 >= self.per_minute {
            return false;
        }
        window.1 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_admits_its_burst_then_its_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, 3, start);
        let admitted = (0..5).filter(|_| bucket.take(start)).count();
        assert_eq!(admitted, 3, "the burst");
        assert!(
            !bucket.take(start + Duration::from_millis(50)),
            "half a token is not a token"
        );
        assert!(
            bucket.take(start + Duration::from_millis(100)),
            "one token after 100 ms at 10/s"
        );
        let later = start + Duration::from_secs(10);
        assert_eq!(
            (0..5).filter(|_| bucket.take(later)).count(),
            3,
            "refills up to the burst only"
        );
    }

    #[test]
    fn creations_are_counted_per_address_and_per_minute() {
        let start = Instant::now();
        let limiter = CreationLimiter::new(2);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert!(limiter.allow(a, start) && limiter.allow(a, start));
        assert!(!limiter.allow(a, start), "a third within the minute");
        assert!(limiter.allow(b, start), "another address has its own count");
        assert!(
            limiter.allow(a, start + Duration::from_secs(61)),
            "a new minute"
        );
    }
}
