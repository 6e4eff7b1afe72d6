//! Dynamic batching on a session worker: requests to one version that arrive
//! close together are merged along the first dimension into one ONNX Runtime
//! run and the outputs are split back per request. A batch is sent when it
//! reaches the target size or when its first request has waited
//! `max_queue_delay_us`, whichever comes first.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};
use ort::memory::Allocator;
use ort::session::Session;

use super::executor::{BatchPolicy, Job, RunOutput, WorkerMetrics, guarded, run_session, run_values};
use super::idle_wait::Waiter;
use super::onnx_values::build_value;
use super::{DataType, InputTensor, OutputTensor, encode_bytes_elements, split_bytes_elements};
use crate::error::ServeError;

/// The worker loop of a version with dynamic batching.
pub fn batching_loop(
    mut session: Session,
    jobs: Receiver<Job>,
    mut waiter: Waiter,
    metrics: WorkerMetrics,
    policy: BatchPolicy,
) {
    let allocator = Allocator::default();
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
        let Some(first) = first.answer_if_stale(&metrics) else {
            continue;
        };
        let batch = collect(first, &jobs, &mut carried, &policy, &metrics);
        metrics.batch_size.record(batch.len() as f64);
        let started = Instant::now();
        if batch.len() == 1 {
            let job = batch.into_iter().next().expect("one job");
            let result = guarded(|| run_session(&mut session, &allocator, &job.inputs, &job.outputs));
            reply(job, result, started, &metrics);
            continue;
        }
        let rows: Vec<usize> = batch.iter().map(rows_of).collect();
        let result = guarded(|| run_merged(&mut session, &allocator, &batch, &policy.all_outputs));
        let infer_time = started.elapsed();
        metrics.inference.record(infer_time.as_secs_f64());
        match result.and_then(|outputs| split_outputs(&outputs, &rows)) {
            Ok(per_job) => {
                for (job, outputs) in batch.into_iter().zip(per_job) {
                    let selected = select(&job.outputs, outputs);
                    send(job, Ok(selected), infer_time);
                }
            }
            // One request's bad data must not fail its neighbours: run
            // each alone, so only the culprit gets the error.
            Err(_) => {
                for job in batch {
                    let started = Instant::now();
                    let result = guarded(|| run_session(&mut session, &allocator, &job.inputs, &job.outputs));
                    reply(job, result, started, &metrics);
                }
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
    metrics: &WorkerMetrics,
) -> Vec<Job> {
    let deadline = first.enqueued + policy.max_delay;
    let mut rows = rows_of(&first);
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
        let next_rows = rows_of(&next);
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

fn rows_of(job: &Job) -> usize {
    job.inputs
        .first()
        .and_then(|i| i.shape.first())
        .map_or(0, |&d| d as usize)
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

/// One run over the stacked inputs of `batch`.
fn run_merged(
    session: &mut Session,
    allocator: &Allocator,
    batch: &[Job],
    outputs: &[String],
) -> Result<Vec<OutputTensor>, ServeError> {
    let total: usize = batch.iter().map(rows_of).sum();
    let mut values = Vec::with_capacity(batch[0].inputs.len());
    for input in &batch[0].inputs {
        let parts: Vec<_> = batch
            .iter()
            .filter_map(|job| job.inputs.iter().find(|i| i.name == input.name))
            .map(|i| &i.data)
            .collect();
        let mut shape = input.shape.clone();
        shape[0] = total as i64;
        values.push((
            input.name.as_str(),
            build_value(allocator, &input.name, input.datatype, &shape, &parts)?,
        ));
    }
    run_values(session, values, outputs)
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

fn reply(job: Job, result: Result<Vec<OutputTensor>, ServeError>, started: Instant, metrics: &WorkerMetrics) {
    let infer_time = started.elapsed();
    metrics.inference.record(infer_time.as_secs_f64());
    send(job, result, infer_time);
}

fn send(job: Job, result: Result<Vec<OutputTensor>, ServeError>, infer_time: std::time::Duration) {
    let queue_time = job.enqueued.elapsed().saturating_sub(infer_time);
    let _ = job.reply.send(result.map(|outputs| RunOutput {
        outputs,
        queue_time,
        infer_time,
    }));
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
            data: super::super::TensorData::Raw(Bytes::new()),
        };
        assert!(compatible(&[input(&[1, 4])], &[input(&[3, 4])]));
        assert!(!compatible(&[input(&[1, 4])], &[input(&[1, 5])]));
        assert!(!compatible(&[input(&[1, 4])], &[input(&[1, 4, 1])]));
    }
}
