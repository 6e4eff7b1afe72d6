"""The ONNX models that scripts/make_models.py writes, built with ``onnx.helper``.

Modules, by what they build:

* ``graph``              opset/IR constants and the helpers every model is made with
* ``checks``             what a model's ONNX Runtime check uses (tolerant and exact asserts)
* ``artifact``           one file to write plus its check; writing and verifying it
* ``mlp``                weights, graph and numpy reference of a ReLU MLP
* ``trip_training``      synthetic taxi trips and the two fits trained on them
* ``trip_duration``      the sample repository's ``trip_duration`` versions 1 and 2
* ``fixtures_dtypes``    test fixtures, one per tensor element type
* ``fixtures_behaviour`` test fixtures for shapes, failures, classifiers and MLPs
* ``fixtures``           every test fixture by name, as artifacts
* ``big_mlp``            the big model of the hot-reload soak benchmark

Everything is deterministic (fixed seeds): regenerating gives byte-identical files.
"""
