//! How an idle session thread waits for its next request.
//!
//! Parking costs a wake-up on each side of the hand-off (the session thread
//! on the way in, the tokio worker on the way out); in a VM a wake-up on an
//! idle vCPU takes tens of microseconds, more than a small model's run. So
//! while the server has at most one request in flight — a lone client
//! calling one request after another, where the CPU would idle anyway — the
//! thread first polls the queue for a short window, yielding the CPU between
//! polls. Under load it parks at once: there spinning would only take CPU
//! from the I/O threads. Load shows in two ways: more than one request in
//! flight server-wide, or requests already queued when this thread looked
//! for work (with a fast model at a few concurrent clients, requests spend
//! most of their time in the I/O threads, so the first alone misses it).
//! Windows that end with no request (a slow or remote client) switch
//! spinning off for exponentially more jobs, so a pattern the spin cannot
//! catch costs almost nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError};

/// Jobs a timed-out window switches spinning off for, at most.
const MAX_BACKOFF_JOBS: u32 = 256;

/// Tells how many requests the server has in flight. The engine's
/// admission count implements it; the model layer only reads it.
pub trait LoadProbe: Send + Sync + std::fmt::Debug {
    fn in_flight(&self) -> usize;
}

/// A count kept by hand: for loaders outside `serve` and for tests.
#[derive(Debug, Default)]
pub struct CountedLoad(pub AtomicUsize);

impl LoadProbe for CountedLoad {
    fn in_flight(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// The server's waiting policy, shared by every session thread.
#[derive(Debug, Clone)]
pub struct IdleWait {
    /// Longest poll before parking; zero = always park.
    pub spin: Duration,
    pub load: Arc<dyn LoadProbe>,
}

impl Default for IdleWait {
    fn default() -> Self {
        Self {
            spin: Duration::ZERO,
            load: Arc::new(CountedLoad::default()),
        }
    }
}

impl IdleWait {
    /// A waiter for one session thread (it keeps that thread's back-off).
    pub fn waiter(&self) -> Waiter {
        Waiter {
            policy: self.clone(),
            skip: 0,
            backoff: 0,
            recent_backlog: 0,
        }
    }
}

/// How a poll window ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    Caught,
    TimedOut,
}

/// One session thread's waiting state.
#[derive(Debug)]
pub struct Waiter {
    policy: IdleWait,
    /// Jobs still to wait for without spinning.
    skip: u32,
    /// Current back-off length in jobs.
    backoff: u32,
    /// One bit per recent wait, newest lowest: set when a job was already
    /// queued. Any set bit means load: no spinning.
    recent_backlog: u16,
}

impl Waiter {
    /// The next job, or `None` once every sender is gone.
    pub fn next_job<T>(&mut self, jobs: &Receiver<T>) -> Option<T> {
        match jobs.try_recv() {
            Ok(job) => {
                self.note_backlog(true);
                return Some(job);
            }
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => self.note_backlog(false),
        }
        if self.should_spin() {
            let deadline = Instant::now() + self.policy.spin;
            loop {
                match jobs.try_recv() {
                    Ok(job) => {
                        self.record(Window::Caught);
                        return Some(job);
                    }
                    Err(TryRecvError::Disconnected) => return None,
                    Err(TryRecvError::Empty) if Instant::now() < deadline => std::thread::yield_now(),
                    Err(TryRecvError::Empty) => {
                        self.record(Window::TimedOut);
                        break;
                    }
                }
            }
        }
        jobs.recv().ok()
    }

    fn note_backlog(&mut self, queued: bool) {
        self.recent_backlog = (self.recent_backlog << 1) | u16::from(queued);
    }

    /// Spin only with spinning enabled, not backing off, no recent backlog,
    /// and the server otherwise idle (the request just answered may still be
    /// counted).
    fn should_spin(&mut self) -> bool {
        if self.policy.spin.is_zero() || self.recent_backlog != 0 {
            return false;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        self.policy.load.in_flight() <= 1
    }

    fn record(&mut self, window: Window) {
        match window {
            Window::Caught => self.backoff = 0,
            Window::TimedOut => {
                self.backoff = (self.backoff * 2).clamp(1, MAX_BACKOFF_JOBS);
                self.skip = self.backoff;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spinning_with(micros: u64, load: Arc<CountedLoad>) -> IdleWait {
        IdleWait {
            spin: Duration::from_micros(micros),
            load,
        }
    }

    fn spinning(micros: u64) -> IdleWait {
        spinning_with(micros, Arc::default())
    }

    #[test]
    fn a_job_sent_during_the_window_is_caught() {
        let mut waiter = spinning(1_000_000).waiter();
        let (send, jobs) = crossbeam_channel::bounded(1);
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            send.send(7).unwrap();
        });
        assert_eq!(waiter.next_job(&jobs), Some(7));
        sender.join().unwrap();
        assert_eq!(
            (waiter.skip, waiter.backoff),
            (0, 0),
            "a caught job keeps spinning on"
        );
    }

    #[test]
    fn a_timed_out_window_backs_off_exponentially_then_resets() {
        let mut waiter = spinning(50).waiter();
        waiter.record(Window::TimedOut);
        assert_eq!(waiter.skip, 1);
        assert!(!waiter.should_spin(), "backing off for one job");
        assert!(waiter.should_spin(), "back-off of one job is over");
        waiter.record(Window::TimedOut);
        assert_eq!((waiter.skip, waiter.backoff), (2, 2));
        for _ in 0..20 {
            waiter.record(Window::TimedOut);
        }
        assert_eq!(waiter.backoff, MAX_BACKOFF_JOBS);
        waiter.record(Window::Caught);
        assert_eq!(waiter.backoff, 0);
    }

    #[test]
    fn an_empty_window_times_out_and_then_parks() {
        let mut waiter = spinning(200).waiter();
        let (send, jobs) = crossbeam_channel::bounded(1);
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            send.send(9).unwrap();
        });
        assert_eq!(
            waiter.next_job(&jobs),
            Some(9),
            "the parked wait still gets the job"
        );
        sender.join().unwrap();
        assert_eq!(waiter.backoff, 1, "the window timed out");
    }

    #[test]
    fn no_spinning_under_load_or_when_disabled() {
        let load = Arc::new(CountedLoad::default());
        let mut waiter = spinning_with(1_000, load.clone()).waiter();
        load.0.store(1, Ordering::Relaxed);
        assert!(
            waiter.should_spin(),
            "one request in flight: the one just answered"
        );
        load.0.store(2, Ordering::Relaxed);
        assert!(!waiter.should_spin(), "two in flight: the CPU has other work");
        assert!(!IdleWait::default().waiter().should_spin());
    }

    #[test]
    fn queued_work_switches_spinning_off_for_sixteen_waits() {
        let mut waiter = spinning(1_000).waiter();
        let (send, jobs) = crossbeam_channel::bounded(1);
        send.send(1).unwrap();
        assert_eq!(waiter.next_job(&jobs), Some(1), "taken without waiting");
        for _ in 0..15 {
            waiter.note_backlog(false);
            assert!(!waiter.should_spin(), "a job was queued within the last 16 waits");
        }
        waiter.note_backlog(false);
        assert!(waiter.should_spin(), "16 waits without backlog");
    }

    #[test]
    fn a_closed_queue_ends_the_wait() {
        let mut waiter = spinning(1_000_000).waiter();
        let (send, jobs) = crossbeam_channel::bounded::<u8>(1);
        drop(send);
        assert_eq!(waiter.next_job(&jobs), None);
    }
}
