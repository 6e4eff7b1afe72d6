"""Prove Switchyard's hand-written protos are wire-compatible with tritonclient.

The .proto files under ``proto/`` are compiled at test time with
``grpc_tools.protoc`` into a FileDescriptorSet and compared, descriptor by
descriptor, with the descriptors that ship inside ``tritonclient[grpc]``:

* grpc_service.proto must be *complete*: every reference message, nested
  message, field and RPC must be present with identical wire properties.
* model_config.proto may be a *subset*, but every field it defines must match
  the reference exactly, and the messages Switchyard relies on must exist.

A final set of round-trip tests encodes messages with tritonclient's classes,
decodes them with classes built from our descriptors, and checks nothing is
lost or misplaced.

Requires: grpcio-tools, tritonclient[grpc], pytest.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory, text_format
from grpc_tools import protoc

import tritonclient.grpc.model_config_pb2 as ref_model_config_pb2
import tritonclient.grpc.service_pb2 as ref_service_pb2

PROTO_DIR = Path(__file__).resolve().parents[2] / "proto"
PACKAGE = "inference"
SERVICE_FILE = "grpc_service.proto"
CONFIG_FILE = "model_config.proto"
FDP = descriptor_pb2.FieldDescriptorProto

# Messages / enums (and their fields) Switchyard needs from model_config.proto.
REQUIRED_CONFIG_FIELDS = {
    "ModelConfig": [
        "name", "platform", "backend", "version_policy", "max_batch_size",
        "input", "output", "dynamic_batching", "instance_group",
    ],
    "ModelVersionPolicy": ["latest", "all", "specific"],
    "ModelVersionPolicy.Latest": ["num_versions"],
    "ModelVersionPolicy.All": [],
    "ModelVersionPolicy.Specific": ["versions"],
    "ModelInput": ["name", "data_type", "dims"],
    "ModelOutput": ["name", "data_type", "dims"],
    "ModelDynamicBatching": [
        "preferred_batch_size", "max_queue_delay_microseconds", "preserve_ordering",
    ],
    "ModelInstanceGroup": ["name", "kind", "count"],
}
REQUIRED_CONFIG_ENUMS = ["DataType", "ModelInstanceGroup.Kind"]


# --------------------------------------------------------------------------
# Descriptor loading and indexing
# --------------------------------------------------------------------------


def _compile_ours(tmp_dir: Path) -> descriptor_pb2.FileDescriptorSet:
    out = tmp_dir / "switchyard.pb"
    args = [
        "protoc",
        f"-I{PROTO_DIR}",
        f"--descriptor_set_out={out}",
        "--include_imports",
        SERVICE_FILE,
    ]
    rc = protoc.main(args)
    assert rc == 0, f"protoc failed ({rc}) compiling {PROTO_DIR / SERVICE_FILE}"
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(out.read_bytes())
    return fds


def _reference_files() -> dict[str, descriptor_pb2.FileDescriptorProto]:
    files = {}
    for mod in (ref_model_config_pb2, ref_service_pb2):
        fdp = descriptor_pb2.FileDescriptorProto()
        mod.DESCRIPTOR.CopyToProto(fdp)
        files[fdp.name] = fdp
    return files


class Index:
    """Flattened view of one .proto file: messages and enums by relative name."""

    def __init__(self, fdp: descriptor_pb2.FileDescriptorProto):
        self.file = fdp
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        for e in fdp.enum_type:
            self.enums[e.name] = e
        self._walk(fdp.message_type, "")
        self.services = {s.name: s for s in fdp.service}

    def _walk(self, msgs, prefix):
        for m in msgs:
            name = prefix + m.name
            self.messages[name] = m
            for e in m.enum_type:
                self.enums[f"{name}.{e.name}"] = e
            self._walk(m.nested_type, name + ".")


def _qualified(type_name: str) -> str:
    return type_name.lstrip(".")


def _field_sig(msg: descriptor_pb2.DescriptorProto, f: descriptor_pb2.FieldDescriptorProto):
    """Everything about a field that matters on the wire (plus its name)."""
    oneof = None
    # Synthetic oneofs (proto3 `optional`) are reported separately.
    if f.HasField("oneof_index") and not f.proto3_optional:
        oneof = msg.oneof_decl[f.oneof_index].name
    return {
        "name": f.name,
        "number": f.number,
        "type": FDP.Type.Name(f.type),
        "type_name": _qualified(f.type_name) if f.type_name else "",
        "label": FDP.Label.Name(f.label),
        "oneof": oneof,
        "proto3_optional": f.proto3_optional,
        "packed": f.options.packed if f.options.HasField("packed") else None,
    }


@pytest.fixture(scope="module")
def descriptors(tmp_path_factory):
    fds = _compile_ours(tmp_path_factory.mktemp("protoc"))
    ours = {f.name: f for f in fds.file}
    ref = _reference_files()
    return ours, ref, fds


@pytest.fixture(scope="module")
def ours_idx(descriptors):
    ours, _, _ = descriptors
    return {name: Index(fdp) for name, fdp in ours.items()}


@pytest.fixture(scope="module")
def ref_idx(descriptors):
    _, ref, _ = descriptors
    return {name: Index(fdp) for name, fdp in ref.items()}


# --------------------------------------------------------------------------
# File-level checks
# --------------------------------------------------------------------------


def test_files_package_and_imports(descriptors):
    ours, ref, _ = descriptors
    assert set(ours) == {SERVICE_FILE, CONFIG_FILE}, (
        f"expected exactly {SERVICE_FILE} and {CONFIG_FILE}, got {sorted(ours)} "
        "(no other imports, e.g. google well-known types, are allowed)"
    )
    for name in (SERVICE_FILE, CONFIG_FILE):
        assert ours[name].package == ref[name].package == PACKAGE
        assert ours[name].syntax == ref[name].syntax == "proto3"
        assert list(ours[name].dependency) == list(ref[name].dependency), name


# --------------------------------------------------------------------------
# Shared: everything we define must match the reference exactly
# --------------------------------------------------------------------------


def _check_faithful(ours: Index, ref: Index, file_name: str) -> list[str]:
    errors = []
    for mname, msg in ours.messages.items():
        rmsg = ref.messages.get(mname)
        if rmsg is None:
            errors.append(f"{file_name}: message {mname} not in reference")
            continue
        if msg.options.map_entry != rmsg.options.map_entry:
            errors.append(f"{file_name}: {mname} map_entry mismatch")
        rfields = {f.name: f for f in rmsg.field}
        rnumbers = {f.number: f.name for f in rmsg.field}
        for f in msg.field:
            if f.name not in rfields:
                clash = rnumbers.get(f.number)
                errors.append(
                    f"{file_name}: {mname}.{f.name} (= {f.number}) not in reference"
                    + (f"; number {f.number} is {clash!r} there" if clash else "")
                )
                continue
            got, want = _field_sig(msg, f), _field_sig(rmsg, rfields[f.name])
            for key in want:
                if got[key] != want[key]:
                    errors.append(
                        f"{file_name}: {mname}.{f.name}: {key} is {got[key]!r}, "
                        f"reference has {want[key]!r}"
                    )
        # Every oneof we declare must exist in the reference under that name.
        ref_oneofs = {o.name for o in rmsg.oneof_decl}
        for o in msg.oneof_decl:
            if o.name not in ref_oneofs:
                errors.append(f"{file_name}: {mname} oneof {o.name} not in reference")
    for ename, enum in ours.enums.items():
        renum = ref.enums.get(ename)
        if renum is None:
            errors.append(f"{file_name}: enum {ename} not in reference")
            continue
        got = {v.name: v.number for v in enum.value}
        want = {v.name: v.number for v in renum.value}
        # Enums are small and a missing value decodes as an unknown int, so
        # require the complete value set.
        if got != want:
            errors.append(f"{file_name}: enum {ename} values {got} != reference {want}")
    return errors


@pytest.mark.parametrize("file_name", [SERVICE_FILE, CONFIG_FILE])
def test_defined_types_match_reference(ours_idx, ref_idx, file_name):
    errors = _check_faithful(ours_idx[file_name], ref_idx[file_name], file_name)
    assert not errors, "\n".join(errors)


# --------------------------------------------------------------------------
# grpc_service.proto: complete
# --------------------------------------------------------------------------


def test_service_messages_complete(ours_idx, ref_idx):
    ours, ref = ours_idx[SERVICE_FILE], ref_idx[SERVICE_FILE]
    errors = []
    for mname, rmsg in ref.messages.items():
        msg = ours.messages.get(mname)
        if msg is None:
            errors.append(f"missing message {mname}")
            continue
        have = {f.name for f in msg.field}
        for f in rmsg.field:
            if f.name not in have:
                errors.append(f"missing field {mname}.{f.name} = {f.number}")
        have_oneofs = {o.name for o in msg.oneof_decl}
        for o in rmsg.oneof_decl:
            if o.name not in have_oneofs:
                errors.append(f"missing oneof {mname}.{o.name}")
    for ename in ref.enums:
        if ename not in ours.enums:
            errors.append(f"missing enum {ename}")
    assert not errors, "\n".join(errors)


def test_service_rpcs_complete(ours_idx, ref_idx):
    ours, ref = ours_idx[SERVICE_FILE], ref_idx[SERVICE_FILE]
    assert set(ours.services) == set(ref.services) == {"GRPCInferenceService"}
    errors = []
    for sname, rsvc in ref.services.items():
        methods = {m.name: m for m in ours.services[sname].method}
        assert len(rsvc.method) == 20
        for rm in rsvc.method:
            m = methods.pop(rm.name, None)
            if m is None:
                errors.append(f"missing rpc {sname}.{rm.name}")
                continue
            for attr in ("input_type", "output_type"):
                if _qualified(getattr(m, attr)) != _qualified(getattr(rm, attr)):
                    errors.append(
                        f"rpc {rm.name}: {attr} {getattr(m, attr)} != {getattr(rm, attr)}"
                    )
            for attr in ("client_streaming", "server_streaming"):
                if getattr(m, attr) != getattr(rm, attr):
                    errors.append(f"rpc {rm.name}: {attr} {getattr(m, attr)} != {getattr(rm, attr)}")
        for extra in methods:
            errors.append(f"rpc {sname}.{extra} not in reference")
    assert not errors, "\n".join(errors)


# --------------------------------------------------------------------------
# model_config.proto: faithful subset containing what Switchyard needs
# --------------------------------------------------------------------------


def test_config_required_types_present(ours_idx):
    ours = ours_idx[CONFIG_FILE]
    errors = []
    for mname, fields in REQUIRED_CONFIG_FIELDS.items():
        msg = ours.messages.get(mname)
        if msg is None:
            errors.append(f"missing message {mname}")
            continue
        have = {f.name for f in msg.field}
        errors += [f"missing field {mname}.{f}" for f in fields if f not in have]
    errors += [f"missing enum {e}" for e in REQUIRED_CONFIG_ENUMS if e not in ours.enums]
    dt = ours.enums.get("DataType")
    if dt is not None:
        names = [v.name for v in dt.value]
        assert names[0] == "TYPE_INVALID" and "TYPE_STRING" in names and "TYPE_BF16" in names
    assert not errors, "\n".join(errors)


def test_config_message_references_resolve_inside_subset(ours_idx):
    """Any message/enum type one of our fields names must be one we define."""
    ours = ours_idx[CONFIG_FILE]
    known = {f"{PACKAGE}.{n}" for n in list(ours.messages) + list(ours.enums)}
    missing = [
        f"{m}.{f.name} -> {f.type_name}"
        for m, msg in ours.messages.items()
        for f in msg.field
        if f.type_name and _qualified(f.type_name) not in known
    ]
    assert not missing, "\n".join(missing)


# --------------------------------------------------------------------------
# Round trip: bytes from tritonclient decode identically with our schema
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def our_classes(descriptors):
    _, _, fds = descriptors
    pool = descriptor_pool.DescriptorPool()
    for fdp in fds.file:  # --include_imports emits dependencies first
        pool.Add(fdp)

    def get(name: str):
        return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{name}"))

    return get


SAMPLES = {
    "ModelInferRequest": """
        model_name: "resnet" model_version: "3" id: "req-1"
        parameters { key: "priority" value { uint64_param: 7 } }
        parameters { key: "flag" value { bool_param: true } }
        inputs {
          name: "INPUT0" datatype: "FP32" shape: [1, 3]
          parameters { key: "shared_memory_region" value { string_param: "r0" } }
          contents { fp32_contents: [1.5, 2.5, 3.5] }
        }
        outputs { name: "OUTPUT0" parameters { key: "classification" value { int64_param: 3 } } }
        raw_input_contents: "\\x00\\x01\\x02\\x03"
    """,
    "ModelStreamInferResponse": """
        error_message: "boom"
        infer_response {
          model_name: "m" id: "x"
          outputs { name: "OUT" datatype: "INT64" shape: [2] contents { int64_contents: [4, -5] } }
          raw_output_contents: "abc"
          parameters { key: "triton_final_response" value { bool_param: true } }
        }
    """,
    "ModelMetadataResponse": """
        name: "m" versions: ["1", "2"] platform: "onnxruntime_onnx"
        inputs { name: "a" datatype: "BYTES" shape: [-1, 4] }
        outputs { name: "b" datatype: "BF16" shape: [1] }
    """,
    "ModelStatisticsResponse": """
        model_stats {
          name: "m" version: "1" last_inference: 123 inference_count: 4 execution_count: 2
          inference_stats { success { count: 4 ns: 1000 } queue { count: 4 ns: 10 } cache_miss { count: 1 ns: 2 } }
          batch_stats { batch_size: 2 compute_infer { count: 2 ns: 99 } }
          memory_usage { type: "CPU" id: 0 byte_size: 4096 }
          response_stats { key: "0" value { success { count: 1 ns: 5 } cancel { count: 0 ns: 0 } } }
        }
    """,
    "ModelConfigResponse": """
        config {
          name: "resnet" platform: "onnxruntime_onnx" backend: "onnxruntime"
          version_policy { specific { versions: [1, 3] } }
          max_batch_size: 8
          input { name: "INPUT0" data_type: TYPE_FP32 dims: [3, 224, 224] }
          output { name: "OUTPUT0" data_type: TYPE_BF16 dims: [-1] }
          dynamic_batching { preferred_batch_size: [4, 8] max_queue_delay_microseconds: 100 preserve_ordering: true }
          instance_group { name: "g0" kind: KIND_CPU count: 2 }
        }
    """,
    "RepositoryModelLoadRequest": """
        repository_name: "r" model_name: "m"
        parameters { key: "config" value { string_param: "{}" } }
        parameters { key: "file:1/model.onnx" value { bytes_param: "\\x7f" } }
    """,
    "SystemSharedMemoryStatusResponse": """
        regions { key: "r" value { name: "r" key: "/shm" offset: 8 byte_size: 64 } }
    """,
    "CudaSharedMemoryRegisterRequest": """
        name: "c" raw_handle: "\\x01\\x02" device_id: 1 byte_size: 32
    """,
    "TraceSettingRequest": """
        settings { key: "trace_level" value { value: ["TIMESTAMPS", "TENSORS"] } }
        model_name: "m"
    """,
    "LogSettingsResponse": """
        settings { key: "log_verbose_level" value { uint32_param: 2 } }
        settings { key: "log_info" value { bool_param: true } }
    """,
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_round_trip_with_tritonclient(our_classes, name):
    ref_cls = getattr(ref_service_pb2, name)
    ref_msg = text_format.Parse(SAMPLES[name], ref_cls())
    wire = ref_msg.SerializeToString(deterministic=True)

    ours = our_classes(name)()
    ours.ParseFromString(wire)
    # Same field names and values when decoded by our schema...
    assert json_format.MessageToDict(ours) == json_format.MessageToDict(ref_msg)
    # ...and our encoding decodes back to the original in tritonclient.
    back = ref_cls()
    back.ParseFromString(ours.SerializeToString(deterministic=True))
    assert back == ref_msg
