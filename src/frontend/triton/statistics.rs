//! Triton's `ModelStatistics` messages from the engine's statistics, so
//! `perf_analyzer` and `get_inference_statistics()` work unchanged.

use crate::engine::VersionStatistics;
use crate::model::{ComputeStats, Counted};
use crate::proto::inference::{InferBatchStatistics, InferStatistics, ModelStatistics, StatisticDuration};

fn duration(counted: Counted) -> Option<StatisticDuration> {
    Some(StatisticDuration {
        count: counted.count,
        ns: counted.ns,
    })
}

fn batch(size: u64, compute: &ComputeStats) -> InferBatchStatistics {
    InferBatchStatistics {
        batch_size: size,
        compute_input: duration(compute.input),
        compute_infer: duration(compute.infer),
        compute_output: duration(compute.output),
    }
}

pub fn model_statistics(entry: VersionStatistics) -> ModelStatistics {
    let stats = entry.stats;
    ModelStatistics {
        name: entry.model,
        version: entry.version.to_string(),
        last_inference: stats.last_inference_ms,
        inference_count: stats.inference_count,
        execution_count: stats.execution_count,
        inference_stats: Some(InferStatistics {
            success: duration(stats.success),
            fail: duration(stats.fail),
            queue: duration(stats.queue),
            compute_input: duration(stats.compute.input),
            compute_infer: duration(stats.compute.infer),
            compute_output: duration(stats.compute.output),
            cache_hit: duration(Counted::default()),
            cache_miss: duration(Counted::default()),
        }),
        batch_stats: stats
            .batches
            .iter()
            .map(|(size, compute)| batch(*size, compute))
            .collect(),
        ..Default::default()
    }
}
