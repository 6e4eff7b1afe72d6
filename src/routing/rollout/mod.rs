//! Automatic rollout (canary guard): a route's canary target climbs through
//! steps of traffic share, each lasting at least an interval, while each
//! window's figures keep passing the gates; failed checks roll it back.
//!
//! Pure: no clock reads, no I/O, no metrics. The engine measures a
//! [`WindowFigures`] per route and window, calls [`RolloutState::check`]
//! with the current `Instant`, keeps the decision's next state and logs the
//! decision; the route in force is [`RolloutState::effective_route`].

mod figures;
mod judge;
mod settings;
mod state;
mod weights;
mod window;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_weights;

pub use figures::{Measured, WindowFigures, counts_as_error};
pub use judge::Outcome;
pub use settings::{DEFAULT_FAILURE_LIMIT, DEFAULT_MIN_REQUESTS, Gates, Rollout};
pub use state::{Decision, RolloutState, Status};
pub use weights::split;
pub use window::{MirrorFigures, RolloutWindow};
