//! Dynamic batching on a session worker: requests to one version that arrive
//! close together are merged along the first dimension into one ONNX Runtime
//! run and the outputs are split back per request. A batch is sent when it
//! reaches the target size or when its first request has waited
//! `max_queue_delay_us`, whichever comes first.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};

use super::VersionMetrics;
use super::idle_wait::Waiter;
use super::job::{Job, guarded, run_alone};
use super::priority::{AppliedPriority, PriorityRequest};
use crate::backend::Session;
use crate::error::ServeError;
use crate::tensor::{DataType, InputTensor, OutputTensor, encode_bytes_elements, split_bytes_elements};

/// How a version merges concurrent requests (Triton's dynamic batching).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPolicy {
    /// Most rows (first dimension) in one run.
    pub max_batch_size: usize,
    /// Rows at which a batch is sent without waiting further.
    pub target_rows: usize,
    /// Longest the first request of a batch waits for others.
    pub max_delay: Duration,
}

/// The loop of a session thread with dynamic batching.
pub fn batching_loop(
    mut session: Box<dyn Session>,
    jobs: Receiver<Job>,
    mut waiter: Waiter,
    metrics: &VersionMetrics,
    policy: BatchPolicy,
    priority: &PriorityRequest,
) {
    let mut applied = AppliedPriority::default();
    let all_outputs: Vec<String> = session.outputs().iter().map(|o| o.name.clone()).collect();
    // At most one job that did not fit the previous batch; it opens the next.
    let mut carried: VecDeque<Job> = VecDeque::new();
    loop {
        let first = match carried.pop_front() {
            Some(job) => job,
            None => match waiter.next_job(&jobs) {
                Some(job) => job,
                None => return,
            },
        };
        applied.follow(priority);
        let Some(first) = first.answer_if_stale(metrics) else {
            continue;
        };
        let batch = collect(first, &jobs, &mut carried, &policy, metrics);
        metrics.batch_size.record(batch.len() as f64);
        if batch.len() == 1 {
            for job in batch {
                run_alone(session.as_mut(), job, metrics);
            }
            continue;
        }
        run_merged(session.as_mut(), batch, &all_outputs, metrics);
    }
}

/// Runs `batch` as one and answers each job with its rows; if the merged run
/// fails, each job runs alone so only the culprit gets the error.
fn run_merged(session: &mut dyn Session, batch: Vec<Job>, all_outputs: &[String], metrics: &VersionMetrics) {
    let rows: Vec<usize> = batch.iter().map(Job::rows).collect();
    let started = Instant::now();
    let result = guarded(|| {
        let requests: Vec<&[InputTensor]> = batch.iter().map(|job| job.inputs.as_slice()).collect();
        session.run_batch(&requests, all_outputs)
    });
    metrics.record_run(started.elapsed());
    if let Ok(output) = &result {
        metrics
            .stats
            .record_execution(batch.len() as u64, rows.iter().sum(), &output.timings);
    }
    match result.and_then(|output| split_outputs(&output.outputs, &rows)) {
        Ok(per_job) => {
            for (job, outputs) in batch.into_iter().zip(per_job) {
                let selected = select(&job.outputs, outputs);
                job.answer(Ok(selected));
            }
        }
        Err(_) => {
            for job in batch {
                run_alone(session, job, metrics);
            }
        }
    }
}

/// Gathers jobs that can share a run with `first`: same inputs with the same
/// datatypes and the same dimensions after the first, and rows that fit.
fn collect(
    first: Job,
    jobs: &Receiver<Job>,
    carried: &mut VecDeque<Job>,
    policy: &BatchPolicy,
    metrics: &VersionMetrics,
) -> Vec<Job> {
    let deadline = first.enqueued + policy.max_delay;
    let mut rows = first.rows();
    let mut batch = vec![first];
    while rows < policy.target_rows {
        let next = match jobs.try_recv() {
            Ok(job) => job,
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => match jobs.recv_deadline(deadline) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            },
        };
        let Some(next) = next.answer_if_stale(metrics) else {
            continue;
        };
        let next_rows = next.rows();
        if rows + next_rows <= policy.max_batch_size && compatible(&batch[0].inputs, &next.inputs) {
            rows += next_rows;
            batch.push(next);
        } else {
            carried.push_back(next);
            break;
        }
    }
    batch
}

/// Whether two requests' inputs can be stacked along the first dimension.
fn compatible(a: &[InputTensor], b: &[InputTensor]) -> bool {
    a.len() == b.len()
        && a.iter().all(|x| {
            b.iter().any(|y| {
                x.name == y.name
                    && x.datatype == y.datatype
                    && x.shape.len() == y.shape.len()
                    && x.shape[1..] == y.shape[1..]
            })
        })
}

/// Splits each batched output along its first dimension into `rows` pieces.
/// Fixed-size data is sliced without copying.
pub fn split_outputs(outputs: &[OutputTensor], rows: &[usize]) -> Result<Vec<Vec<OutputTensor>>, ServeError> {
    let total: usize = rows.iter().sum();
    let mut per_job: Vec<Vec<OutputTensor>> =
        rows.iter().map(|_| Vec::with_capacity(outputs.len())).collect();
    for output in outputs {
        if output.shape.first().copied() != Some(total as i64) {
            return Err(ServeError::Runtime(format!(
                "output '{}' has shape {:?}, not batched along the first dimension ({total} rows)",
                output.name, output.shape
            )));
        }
        let pieces: Vec<Bytes> = if output.datatype == DataType::Bytes {
            let elements = split_bytes_elements(&output.name, &output.data)?;
            let per_row = elements.len() / total.max(1);
            let mut start = 0;
            rows.iter()
                .map(|&n| {
                    let piece = encode_bytes_elements(
                        elements[start..start + n * per_row].iter().map(|e| e.as_ref()),
                    );
                    start += n * per_row;
                    piece
                })
                .collect()
        } else {
            let per_row = output.data.len() / total.max(1);
            let mut start = 0;
            rows.iter()
                .map(|&n| {
                    let piece = output.data.slice(start..start + n * per_row);
                    start += n * per_row;
                    piece
                })
                .collect()
        };
        for ((job_outputs, piece), &n) in per_job.iter_mut().zip(pieces).zip(rows) {
            let mut shape = output.shape.clone();
            shape[0] = n as i64;
            job_outputs.push(OutputTensor {
                name: output.name.clone(),
                datatype: output.datatype,
                shape,
                data: piece,
            });
        }
    }
    Ok(per_job)
}

/// The outputs a request asked for, in its order.
fn select(wanted: &[String], mut outputs: Vec<OutputTensor>) -> Vec<OutputTensor> {
    wanted
        .iter()
        .filter_map(|name| {
            outputs
                .iter()
                .position(|o| &o.name == name)
                .map(|i| outputs.swap_remove(i))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp32(shape: &[i64], values: &[f32]) -> OutputTensor {
        OutputTensor::fp32("y", shape, values)
    }

    #[test]
    fn splits_rows_back_per_request() {
        let merged = fp32(&[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let parts = split_outputs(&[merged], &[1, 2]).unwrap();
        assert_eq!(parts[0][0], fp32(&[1, 2], &[1.0, 2.0]));
        assert_eq!(parts[1][0], fp32(&[2, 2], &[3.0, 4.0, 5.0, 6.0]));
    }

    #[test]
    fn splits_bytes_outputs_by_element() {
        let merged = OutputTensor {
            name: "s".into(),
            datatype: DataType::Bytes,
            shape: vec![3],
            data: encode_bytes_elements([b"a".as_slice(), b"bb".as_slice(), b"".as_slice()]),
        };
        let parts = split_outputs(&[merged], &[2, 1]).unwrap();
        assert_eq!(
            parts[0][0].data,
            encode_bytes_elements([b"a".as_slice(), b"bb".as_slice()])
        );
        assert_eq!(parts[1][0].shape, vec![1]);
    }

    #[test]
    fn unbatched_output_is_an_error() {
        assert!(split_outputs(&[fp32(&[2], &[1.0, 2.0])], &[1, 2]).is_err());
    }

    #[test]
    fn compatibility_ignores_the_first_dimension_only() {
        let input = |shape: &[i64]| InputTensor {
            name: "x".into(),
            datatype: DataType::Fp32,
            shape: shape.to_vec(),
            data: crate::tensor::TensorData::Raw(Bytes::new()),
        };
        assert!(compatible(&[input(&[1, 4])], &[input(&[3, 4])]));
        assert!(!compatible(&[input(&[1, 4])], &[input(&[1, 5])]));
        assert!(!compatible(&[input(&[1, 4])], &[input(&[1, 4, 1])]));
    }
}
