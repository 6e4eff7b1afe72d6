//! The loop of a session thread without dynamic batching: one job, one run.

use crossbeam_channel::Receiver;

use super::VersionMetrics;
use super::idle_wait::Waiter;
use super::job::{Job, run_alone};
use super::priority::{AppliedPriority, PriorityRequest};
use crate::backend::Session;

pub fn worker_loop(
    mut session: Box<dyn Session>,
    jobs: Receiver<Job>,
    mut waiter: Waiter,
    metrics: &VersionMetrics,
    priority: &PriorityRequest,
) {
    let mut applied = AppliedPriority::default();
    while let Some(job) = waiter.next_job(&jobs) {
        applied.follow(priority);
        if let Some(job) = job.answer_if_stale(metrics) {
            run_alone(session.as_mut(), job, metrics);
        }
    }
}
