//! CPU priority of a version's session threads. A version that only mirrors
//! (a shadow target that serves no primary traffic) runs at the lowest
//! priority an unprivileged process may ask for, so on a busy machine it
//! takes little more than the CPU the primaries leave idle. Each session
//! thread applies the wanted priority to itself before its next job: Linux
//! keeps the nice value per thread.

use std::sync::atomic::{AtomicBool, Ordering};

/// The priority the loader wants for one version's threads.
#[derive(Debug, Default)]
pub struct PriorityRequest {
    background: AtomicBool,
}

impl PriorityRequest {
    /// Asks for background priority (or back to normal).
    pub fn set_background(&self, background: bool) {
        self.background.store(background, Ordering::Relaxed);
    }

    pub fn is_background(&self) -> bool {
        self.background.load(Ordering::Relaxed)
    }
}

/// What one session thread has applied to itself.
#[derive(Debug, Default)]
pub struct AppliedPriority {
    background: bool,
    warned: bool,
}

impl AppliedPriority {
    /// Brings the calling thread in line with `request` (cheap when it already is).
    pub fn follow(&mut self, request: &PriorityRequest) {
        let wanted = request.is_background();
        if wanted == self.background {
            return;
        }
        match set_current_thread_background(wanted) {
            Ok(()) => self.background = wanted,
            Err(error) => {
                if !self.warned {
                    tracing::warn!(%error, background = wanted, "cannot change a session thread's CPU priority");
                    self.warned = true;
                }
                // Do not retry before every job: the answer will not change.
                self.background = wanted;
            }
        }
    }
}

/// Nice 19 for background, nice 0 for normal, on the calling thread only.
///
/// Nice 19 rather than `SCHED_IDLE`: under `SCHED_IDLE` a thread runs only
/// when nothing else can, so on a saturated machine mirrors could wait for
/// ever (holding their slots, so every later mirror is dropped); at nice 19
/// the thread's CFS weight is 15 against 1024 for a normal one, so it takes
/// about 1.5 % of a core from a busy primary and whatever is idle.
#[cfg(target_os = "linux")]
pub fn set_current_thread_background(background: bool) -> std::io::Result<()> {
    let nice = if background { 19 } else { 0 };
    // SAFETY: plain system calls on the calling thread (its tid).
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, tid, nice) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn set_current_thread_background(_: bool) -> std::io::Result<()> {
    Ok(())
}

/// The calling thread's scheduling policy and nice value (for tests).
#[cfg(all(test, target_os = "linux"))]
pub fn current_thread_priority() -> (i32, i32) {
    // SAFETY: plain system calls on the calling thread.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        (
            libc::sched_getscheduler(0),
            libc::getpriority(libc::PRIO_PROCESS, tid),
        )
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_thread_follows_the_request_both_ways() {
        std::thread::spawn(|| {
            let request = PriorityRequest::default();
            let mut applied = AppliedPriority::default();
            request.set_background(true);
            applied.follow(&request);
            assert_eq!(current_thread_priority(), (libc::SCHED_OTHER, 19));
            request.set_background(false);
            applied.follow(&request);
            // Raising priority back needs privilege (CAP_SYS_NICE or RLIMIT_NICE);
            // where it is refused, the thread stays in the background.
            let (_, nice) = current_thread_priority();
            assert!(nice == 0 || applied.warned, "{nice}");
        })
        .join()
        .unwrap();
    }
}
