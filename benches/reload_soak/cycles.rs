//! The swap cycles: replace the served file, wait until the new answers show, repeat.

use super::*;

/// One reload cycle as the driver saw it.
pub(crate) struct Cycle {
    /// The staged file started to be written: the swap's own work begins.
    pub(crate) started: Instant,
    pub(crate) renamed: Instant,
    /// A request sent after the rename was answered by the new model.
    pub(crate) visible: Instant,
    /// The server at the end of the cycle, just before the next one starts.
    pub(crate) status: ProcessStatus,
}

impl Cycle {
    /// Requests in flight at any time inside this window count as "during swap".
    pub(crate) fn swap_window(&self) -> (Instant, Instant) {
        (self.started, self.visible + SWAP_TAIL)
    }
}

/// When things happened, to attribute each request afterwards.
pub(crate) struct Timeline {
    pub(crate) first_window: (Instant, Instant),
    pub(crate) last_window: (Instant, Instant),
    pub(crate) cycles: Vec<Cycle>,
    pub(crate) before: ProcessStatus,
    pub(crate) after: ProcessStatus,
}

pub(crate) async fn run_cycles(
    settings: &Settings,
    server: &Server,
    clients: &Clients,
    repo: &Path,
    models: [Vec<u8>; 2],
) -> Result<Timeline> {
    let models = Arc::new(models);
    let target = repo.join(MODEL).join("1").join("model.onnx");
    let first_window = steady_window(settings.steady).await;
    let before = process_status(server.pid())?;
    let mut cycles = Vec::new();
    for number in 1..=settings.cycles {
        let variant = usize::try_from(number % 2)?;
        let (started, renamed, visible) = swap(&clients.shared, &target, &models, variant).await?;
        // The tail belongs to the swap; the gap after it is steady state, so
        // steady and swap samples are spread over the same minutes and any
        // other work on the machine weighs on both alike.
        tokio::time::sleep(SWAP_TAIL + STEADY_GAP).await;
        let status = process_status(server.pid())?;
        if number % 10 == 0 {
            eprintln!("cycle {number}: new model answered after {:?}", visible - renamed);
        }
        cycles.push(Cycle {
            started,
            renamed,
            visible,
            status,
        });
    }
    let last_window = steady_window(settings.steady).await;
    let after = process_status(server.pid())?;
    Ok(Timeline {
        first_window,
        last_window,
        cycles,
        before,
        after,
    })
}

pub(crate) async fn steady_window(length: Duration) -> (Instant, Instant) {
    let start = Instant::now();
    tokio::time::sleep(length).await;
    (start, Instant::now())
}

/// Swaps the served file to `variant`; returns when the write started, when
/// the rename happened, and when a request sent after it was answered by the
/// new model.
pub(crate) async fn swap(
    shared: &Shared,
    target: &Path,
    models: &Arc<[Vec<u8>; 2]>,
    variant: usize,
) -> Result<(Instant, Instant, Instant)> {
    let (path, files) = (target.to_path_buf(), models.clone());
    let started = Instant::now();
    // Off the async workers: a 40 MB write would stall the clients sharing them.
    let renamed = tokio::task::spawn_blocking(move || {
        replace_atomically(&path, &files[variant]).map(|()| Instant::now())
    })
    .await?
    .context("replace the model file")?;
    let after = shared.micros_since_epoch(renamed);
    while shared.answered_at[variant].load(Ordering::Relaxed) <= after {
        if renamed.elapsed() > SWAP_TIMEOUT {
            bail!("the new model never answered within {SWAP_TIMEOUT:?} of the rename");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok((started, renamed, Instant::now()))
}
