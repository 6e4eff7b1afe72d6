//! ModelInfer requests in flight, server-wide: the engine takes a permit per
//! request and sheds requests beyond `--max-concurrent-requests`, whichever
//! front end they came through; idle session threads read the count to tell
//! a lone client from load (`model::IdleWait`, through [`LoadProbe`]).

use std::sync::Arc;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::model::LoadProbe;

#[derive(Debug, Clone)]
pub struct InFlight {
    permits: Arc<Semaphore>,
    limit: usize,
}

impl InFlight {
    /// At most `limit` requests at once (capped at tokio's largest semaphore).
    pub fn new(limit: usize) -> Self {
        let limit = limit.min(Semaphore::MAX_PERMITS);
        Self {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }

    /// Counts a request until the permit is dropped; `None` at the limit.
    pub fn try_enter(&self) -> Option<SemaphorePermit<'_>> {
        self.permits.try_acquire().ok()
    }

    pub fn count(&self) -> usize {
        self.limit - self.permits.available_permits()
    }

    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl LoadProbe for InFlight {
    fn in_flight(&self) -> usize {
        self.count()
    }
}

/// No bound: for loaders outside `serve` (`check`, tests), where nothing counts.
impl Default for InFlight {
    fn default() -> Self {
        Self::new(Semaphore::MAX_PERMITS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_permits_until_dropped_and_refuses_beyond_the_limit() {
        let in_flight = InFlight::new(2);
        let first = in_flight.try_enter().expect("room for one");
        let second = in_flight.try_enter().expect("room for two");
        assert_eq!(in_flight.count(), 2);
        assert!(in_flight.try_enter().is_none(), "the limit is two");
        drop(first);
        assert_eq!(in_flight.count(), 1);
        drop(second);
        assert_eq!(in_flight.count(), 0);
        assert_eq!(InFlight::default().count(), 0);
    }
}
