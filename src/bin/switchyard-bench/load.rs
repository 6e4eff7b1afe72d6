//! Issuing the load. Every in-flight request is a long-lived "slot" future
//! created at start; slots are grouped into a few worker tasks that each own
//! one histogram, so the hot loop allocates nothing of its own and never
//! contends on a lock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tonic::transport::{Channel, Endpoint};

use super::args::Mode;
use super::request::Template;
use super::stats::Stats;
use switchyard::proto::inference::grpc_inference_service_client::GrpcInferenceServiceClient;

pub type Client = GrpcInferenceServiceClient<Channel>;

/// One HTTP/2 connection per client; fails if any cannot be opened.
pub async fn connect(url: &str, connections: usize) -> Result<Vec<Client>, String> {
    let endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|error| format!("invalid --url '{url}': {}", chain(&error)))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true);
    let mut clients = Vec::with_capacity(connections);
    for _ in 0..connections {
        let channel = endpoint
            .connect()
            .await
            .map_err(|error| format!("cannot connect to {url}: {}", chain(&error)))?;
        clients.push(Client::new(channel).max_decoding_message_size(usize::MAX));
    }
    Ok(clients)
}

/// An error with its sources: tonic's transport errors say little on their own.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What the run measured.
pub struct Outcome {
    pub stats: Stats,
    /// Open-loop sends skipped because `--max-outstanding` were in flight.
    pub overloads: u64,
    /// Measured wall time and the process's CPU time over it.
    pub wall: Duration,
    pub cpu: Duration,
}

/// Fixed plan of one run.
pub struct Plan {
    pub mode: Mode,
    pub warmup: Duration,
    pub duration: Duration,
    /// Worker tasks to spread slots over.
    pub workers: usize,
    /// How long in-flight requests may run past the window before being abandoned.
    pub grace: Duration,
}

/// One in-flight request's worth of state, reused for every send.
struct Slot {
    client: Client,
    template: Arc<Template>,
    stats: Arc<Mutex<Stats>>,
    measure_start: Instant,
}

impl Slot {
    /// Sends one request planned for `planned` and records it if that is inside
    /// the measured window; latency counts from `planned`.
    async fn send(&mut self, planned: Instant) {
        let measured = planned >= self.measure_start;
        if measured {
            self.stats().sent += 1;
        }
        let result = self.client.model_infer(self.template.request()).await;
        if measured {
            let latency = planned.elapsed();
            self.stats().record(latency, &result);
        }
    }

    /// Uncontended: only the slots of one worker task, polled one at a time, use it.
    fn stats(&self) -> MutexGuard<'_, Stats> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Closed loop: the next request leaves as soon as the previous one answered.
async fn closed_slot(mut slot: Slot, end: Instant) {
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        slot.send(now).await;
    }
}

/// Open loop: takes planned send times from the scheduler until it hangs up.
async fn open_slot(
    mut slot: Slot,
    tickets: Arc<tokio::sync::Mutex<mpsc::Receiver<Instant>>>,
    outstanding: Arc<AtomicUsize>,
) {
    loop {
        let ticket = tickets.lock().await.recv().await;
        let Some(planned) = ticket else { break };
        slot.send(planned).await;
        outstanding.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs `slots` concurrently inside one task.
async fn worker<F: Future<Output = ()>>(slots: Vec<F>) {
    let mut running: FuturesUnordered<F> = slots.into_iter().collect();
    while running.next().await.is_some() {}
}

/// Drives the load for warm-up plus the window, then waits for in-flight requests.
pub async fn drive(clients: Vec<Client>, template: Arc<Template>, plan: &Plan) -> Outcome {
    let start = Instant::now();
    let measure_start = start + plan.warmup;
    let end = measure_start + plan.duration;
    let slot_count = match plan.mode {
        Mode::Closed { concurrency } => concurrency,
        Mode::Open { max_outstanding, .. } => max_outstanding,
    };
    let workers = plan.workers.clamp(1, slot_count);
    let stats: Vec<_> = (0..workers).map(|_| Arc::new(Mutex::new(Stats::new()))).collect();
    // Slot i uses connection i % C and worker i % W: round-robin on both.
    let mut slots: Vec<Vec<Slot>> = (0..workers).map(|_| Vec::new()).collect();
    for i in 0..slot_count {
        slots[i % workers].push(Slot {
            client: clients[i % clients.len()].clone(),
            template: template.clone(),
            stats: stats[i % workers].clone(),
            measure_start,
        });
    }

    let mut handles = Vec::with_capacity(workers);
    let mut scheduler = None;
    match plan.mode {
        Mode::Closed { .. } => {
            for group in slots {
                let group = group.into_iter().map(|slot| closed_slot(slot, end)).collect();
                handles.push(tokio::spawn(worker(group)));
            }
        }
        Mode::Open {
            rate,
            max_outstanding,
        } => {
            let (sender, receiver) = mpsc::channel(max_outstanding);
            let tickets = Arc::new(tokio::sync::Mutex::new(receiver));
            let outstanding = Arc::new(AtomicUsize::new(0));
            for group in slots {
                let group = group
                    .into_iter()
                    .map(|slot| open_slot(slot, tickets.clone(), outstanding.clone()))
                    .collect();
                handles.push(tokio::spawn(worker(group)));
            }
            let times = Schedule {
                start,
                measure_start,
                end,
                rate,
                max_outstanding,
            };
            scheduler = Some(std::thread::spawn(move || times.run(&sender, &outstanding)));
        }
    }

    let (wall, cpu) = measure_window(measure_start, end).await;
    finish(handles, end + plan.grace).await;
    // The scheduler stops at `end`, so this join does not block for long.
    let overloads = scheduler.map_or(0, |thread| thread.join().unwrap_or(0));
    let mut total = Stats::new();
    for worker_stats in &stats {
        total.merge(&worker_stats.lock().unwrap_or_else(PoisonError::into_inner));
    }
    Outcome {
        stats: total,
        overloads,
        wall,
        cpu,
    }
}

/// Wall and CPU time of the measured window.
async fn measure_window(measure_start: Instant, end: Instant) -> (Duration, Duration) {
    tokio::time::sleep_until(measure_start.into()).await;
    let (wall_start, cpu_start) = (Instant::now(), super::stats::cpu_time());
    tokio::time::sleep_until(end.into()).await;
    (
        wall_start.elapsed(),
        super::stats::cpu_time().saturating_sub(cpu_start),
    )
}

/// A stuck server must not hang the run: abandon what is still running at
/// `give_up` (it shows as CLIENT_UNFINISHED).
async fn finish(handles: Vec<tokio::task::JoinHandle<()>>, give_up: Instant) {
    let give_up = tokio::time::Instant::from(give_up);
    for mut handle in handles {
        if tokio::time::timeout_at(give_up, &mut handle).await.is_err() {
            handle.abort();
            let _ = handle.await;
        }
    }
}

/// The open loop's clock, on its own OS thread: tokio's timer has 1 ms
/// granularity, far too coarse for sub-millisecond intervals.
struct Schedule {
    start: Instant,
    measure_start: Instant,
    end: Instant,
    rate: f64,
    max_outstanding: usize,
}

impl Schedule {
    /// Emits planned send times at fixed intervals until `end`; returns the
    /// number of measured sends skipped because too many were outstanding.
    fn run(&self, sender: &mpsc::Sender<Instant>, outstanding: &AtomicUsize) -> u64 {
        reduce_timer_slack();
        let mut skipped = 0;
        for tick in 0u64.. {
            // Computed from the start, not accumulated, so rounding never drifts.
            let planned = self.start + Duration::from_secs_f64(tick as f64 / self.rate);
            if planned >= self.end {
                break;
            }
            let now = Instant::now();
            if planned > now {
                std::thread::sleep(planned - now);
            }
            // Only this thread increments, so the check cannot race past the cap.
            if outstanding.load(Ordering::Acquire) >= self.max_outstanding {
                skipped += u64::from(planned >= self.measure_start);
                continue;
            }
            outstanding.fetch_add(1, Ordering::AcqRel);
            if sender.try_send(planned).is_err() {
                break; // the slots are gone; nothing left to schedule for
            }
        }
        skipped
    }
}

/// Linux lets a sleeping thread wake up to 50 µs late by default; the
/// scheduler wants to be punctual.
fn reduce_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK only changes this thread's timer slack (in ns).
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1_000 as libc::c_ulong);
    }
}
