//! How big an epoch may be, and when the run's time for delivery is up.
//!
//! A server that reads slowly but reads everything (a relay under load) is not a dead one: its
//! close comes once it has read the epoch. An epoch must therefore be small enough for the server
//! to read within the close timeout, or no receipt ever comes and every epoch is written again.
//! Each close tells how long the server took to read what was left of its epoch; the next epochs
//! are sized so that their close takes about [`CLOSE_SHARE`] of the timeout (a close that timed
//! out counts as one that took the whole timeout), and grow back, doubling, while closes are
//! quick. A run starts at [`FIRST_EPOCH_BYTES`] (or the configured size when smaller), so a slow
//! server is found out on an epoch it can read, not on the biggest one.
//!
//! The run's time for delivery ([`GiveUp`]) bounds every write, close and retry: its deadline and
//! grace, brought forward by a stop signal. Past it an epoch fails (its source is given back)
//! rather than keep a Kubernetes pod past its grace or a cron run past the next.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::EpochLimits;

/// The share of the close timeout an epoch's close should take.
const CLOSE_SHARE: u32 = 4;
/// The size a run's first epoch may have at most: it doubles from there while closes are quick.
pub const FIRST_EPOCH_BYTES: usize = 1 << 20;
/// Epochs are never cut below this (an epoch is whole batches, so it holds at least one anyway).
const LEAST_EPOCH_BYTES: usize = 64 << 10;

/// When the run stops waiting for Devo: an instant that a stop signal may bring forward.
pub type GiveUp = watch::Receiver<Instant>;

/// What a run saw of a server that read slowly, for its summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlowReads {
    /// The lowest rate a close showed: the bytes of its epoch over the time its close took.
    pub bytes_per_sec: u64,
    /// The smallest size epochs were cut to.
    pub epoch_bytes: usize,
    /// Closes that timed out.
    pub timeouts: u64,
}

/// The epoch size of one output, shared by its task (which fills epochs) and the closes.
#[derive(Debug)]
pub(super) struct Pace {
    size: AtomicUsize,
    max: usize,
    target: Duration,
    slow: Mutex<Option<SlowReads>>,
}

impl Pace {
    pub fn new(limits: &EpochLimits) -> Self {
        Self {
            size: AtomicUsize::new(limits.max_bytes.min(FIRST_EPOCH_BYTES)),
            max: limits.max_bytes,
            target: limits.close_timeout / CLOSE_SHARE,
            slow: Mutex::new(None),
        }
    }

    /// Bytes after which the epoch in progress ends.
    pub fn epoch_bytes(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }

    /// How old the epoch in progress may grow: `max_age`, cut in proportion when epochs were cut
    /// below the configured size (at least a second), so that receipts of a trickle of events
    /// come as often as the server can give them.
    pub fn epoch_age(&self, max_age: Duration) -> Duration {
        let share = self.epoch_bytes() as f64 / self.max.max(1) as f64;
        if share >= 1.0 {
            return max_age;
        }
        max_age
            .mul_f64(share)
            .max(Duration::from_secs(1))
            .min(max_age)
    }

    /// A close of an epoch of `bytes` took `took` (or timed out after it): the next epochs are
    /// sized to close within the target, or grow while closes are quick.
    pub fn closed(&self, bytes: usize, took: Duration, timed_out: bool) {
        let now = self.epoch_bytes();
        let next = if timed_out || took > self.target {
            let fit =
                (bytes as f64 * self.target.as_secs_f64() / took.as_secs_f64().max(1e-3)) as usize;
            fit.min(now).max(LEAST_EPOCH_BYTES.min(self.max))
        } else if took < self.target / 4 && bytes * 2 >= now {
            (now * 2).min(self.max)
        } else {
            now
        };
        self.size.store(next, Ordering::Relaxed);
        if timed_out || took > self.target {
            let rate = (bytes as f64 / took.as_secs_f64().max(1e-3)) as u64;
            let mut slow = crate::lock(&self.slow);
            let first = slow.is_none();
            let seen = slow.get_or_insert(SlowReads {
                bytes_per_sec: rate,
                epoch_bytes: next,
                timeouts: 0,
            });
            seen.bytes_per_sec = seen.bytes_per_sec.min(rate);
            seen.epoch_bytes = seen.epoch_bytes.min(next);
            seen.timeouts += u64::from(timed_out);
            // Said once at WARN (the run's end sums it up); each further cut at DEBUG.
            if first {
                tracing::warn!(
                    message =
                        "Devo reads slowly: delivery epochs are cut to fit the close timeout.",
                    read_kb_per_sec = rate / 1000,
                    epoch_bytes = bytes,
                    close_seconds = took.as_secs_f64(),
                    timed_out,
                    next_epoch_bytes = next
                );
            } else {
                tracing::debug!(
                    message = "Delivery epochs cut again.",
                    read_kb_per_sec = rate / 1000,
                    close_seconds = took.as_secs_f64(),
                    timed_out,
                    next_epoch_bytes = next
                );
            }
        }
    }

    /// What was seen of slow reads in this run.
    pub fn slow_reads(&self) -> Option<SlowReads> {
        *crate::lock(&self.slow)
    }
}

/// The time left before `give_up` (none: no bound).
pub(super) fn time_left(give_up: Option<&GiveUp>) -> Option<Duration> {
    give_up.map(|g| g.borrow().saturating_duration_since(Instant::now()))
}

/// `wanted`, or less when the run's time for delivery ends sooner.
pub(super) fn within(give_up: Option<&GiveUp>, wanted: Duration) -> Duration {
    time_left(give_up).map_or(wanted, |left| left.min(wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pace(max: usize, timeout_secs: u64) -> Pace {
        Pace::new(&EpochLimits {
            max_bytes: max,
            close_timeout: Duration::from_secs(timeout_secs),
            ..EpochLimits::default()
        })
    }

    /// A server reading 50 KB/s: after a timeout the epochs shrink until their close takes a
    /// quarter of the timeout, and grow back once closes are quick again.
    #[test]
    fn epochs_shrink_to_what_the_server_reads_and_grow_back() {
        let p = pace(4 << 20, 30);
        assert_eq!(p.epoch_bytes(), FIRST_EPOCH_BYTES);
        p.closed(4 << 20, Duration::from_secs(30), true);
        let after_timeout = p.epoch_bytes();
        assert!(after_timeout <= (4 << 20) / 4, "{after_timeout}");
        let rate = 50_000.0;
        for _ in 0..5 {
            let bytes = p.epoch_bytes();
            p.closed(bytes, Duration::from_secs_f64(bytes as f64 / rate), false);
        }
        let settled = p.epoch_bytes() as f64 / rate;
        assert!((5.0..=7.6).contains(&settled), "closes take {settled} s");
        let slow = p.slow_reads().unwrap();
        assert_eq!(slow.timeouts, 1);
        assert!(slow.bytes_per_sec <= 150_000, "{slow:?}");
        for _ in 0..10 {
            p.closed(p.epoch_bytes(), Duration::from_millis(20), false);
        }
        assert_eq!(p.epoch_bytes(), 4 << 20, "back to the configured size");
        assert_eq!(
            p.epoch_age(Duration::from_secs(10)),
            Duration::from_secs(10)
        );
        p.closed(4 << 20, Duration::from_secs(30), true);
        assert_eq!(
            p.epoch_age(Duration::from_secs(10)),
            Duration::from_millis(2500),
            "a quarter of the size, a quarter of the age"
        );
    }

    /// An epoch flushed small (a queue drained) does not make the next ones grow.
    #[test]
    fn small_epochs_do_not_grow_the_size() {
        let p = pace(4 << 20, 30);
        p.closed(10_000, Duration::from_millis(5), false);
        assert_eq!(p.epoch_bytes(), FIRST_EPOCH_BYTES);
        p.closed(FIRST_EPOCH_BYTES, Duration::from_millis(5), false);
        assert_eq!(p.epoch_bytes(), 2 * FIRST_EPOCH_BYTES);
        assert_eq!(p.slow_reads(), None);
    }
}
