#!/usr/bin/env python3
"""Runs the benchmark matrix and writes docs/BENCHMARKS.md plus the plot.

Called by benchmarks/run.sh after it has installed and built everything; run
that, not this. Settings come from the environment (see run.sh).

On the same machine, in one run, interleaved so that a change in background
load hits every server alike:

* ``echo``       examples/echo_server.rs: bare tonic, no model (the harness ceiling)
* ``switchyard`` target/release/switchyard serve
* ``python``     benchmarks/python_server.py: grpcio + onnxruntime
* ``in-process`` examples/ort_inprocess.rs: ONNX Runtime with no server at all

Load comes from ``switchyard bench`` (closed loop, one thread); server CPU is
read from /proc/<pid>/stat around each load run.

The harness is the package benchmarks/harness/ (servers, load runs, profiling,
the results page); this file is the command line:

    bench.py             measure, then write RESULTS_JSON, the page and the plot
    bench.py --render    rewrite the page and the plot from RESULTS_JSON
"""

from __future__ import annotations

import signal
import sys

from harness.run import main, render_only


def terminate(signum, _frame):
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    if sys.argv[1:] == ["--render"]:
        sys.exit(render_only())
    signal.signal(signal.SIGTERM, terminate)
    sys.exit(main())
