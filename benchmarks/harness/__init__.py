"""The benchmark harness that benchmarks/bench.py runs.

Modules, in the order a run uses them:

* ``settings``       binaries, environment settings (see run.sh), model configurations, ``log``
* ``machine``        what machine this is; raising the run's priority (NICE)
* ``prepare``        the benchmark models, Switchyard's model repository, starting every server
* ``servers``        one server process: start, address, CPU time, stop (and stop all)
* ``matrix``         the points to measure, and measuring them REPEATS times, interleaved
* ``load``           one load run (``switchyard-bench``, or ONNX Runtime in-process)
* ``points``         one point's repeats and their medians
* ``batch_metrics``  dynamic batching as Switchyard's /metrics saw it
* ``targets``        the performance targets, judged
* ``diagnosis``      perf profiles of what missed (``perf``) and callgrind counts (``callgrind``)
* ``results``        everything measured, saved to and loaded from RESULTS_JSON
* ``plot``           docs/benchmarks-throughput.png
* ``report``         docs/BENCHMARKS.md (with ``report_costs`` for instructions and profiles)
* ``run``            one run from start to finish, and ``--render``
"""
