"""The pprof ``profile.proto`` format, encoded with protobuf from a schema built in code.

The message classes are made at import time from a FileDescriptorProto that mirrors
github.com/google/pprof/proto/profile.proto (field numbers and types as published), so no
generated code or protoc is needed.
"""

from __future__ import annotations

import gzip

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_T = descriptor_pb2.FieldDescriptorProto
_SCHEMA = {
    "ValueType": [("type", 1, "int64"), ("unit", 2, "int64")],
    "Label": [("key", 1, "int64"), ("str", 2, "int64"), ("num", 3, "int64"), ("num_unit", 4, "int64")],
    "Sample": [("location_id", 1, "uint64*"), ("value", 2, "int64*"), ("label", 3, "Label*")],
    "Mapping": [("id", 1, "uint64"), ("memory_start", 2, "uint64"), ("memory_limit", 3, "uint64"),
                ("file_offset", 4, "uint64"), ("filename", 5, "int64"), ("build_id", 6, "int64"),
                ("has_functions", 7, "bool"), ("has_filenames", 8, "bool"),
                ("has_line_numbers", 9, "bool"), ("has_inline_frames", 10, "bool")],
    "Line": [("function_id", 1, "uint64"), ("line", 2, "int64"), ("column", 3, "int64")],
    "Location": [("id", 1, "uint64"), ("mapping_id", 2, "uint64"), ("address", 3, "uint64"),
                 ("line", 4, "Line*"), ("is_folded", 5, "bool")],
    "Function": [("id", 1, "uint64"), ("name", 2, "int64"), ("system_name", 3, "int64"),
                 ("filename", 4, "int64"), ("start_line", 5, "int64")],
    "Profile": [("sample_type", 1, "ValueType*"), ("sample", 2, "Sample*"), ("mapping", 3, "Mapping*"),
                ("location", 4, "Location*"), ("function", 5, "Function*"),
                ("string_table", 6, "string*"), ("drop_frames", 7, "int64"), ("keep_frames", 8, "int64"),
                ("time_nanos", 9, "int64"), ("duration_nanos", 10, "int64"),
                ("period_type", 11, "ValueType"), ("period", 12, "int64"), ("comment", 13, "int64*"),
                ("default_sample_type", 14, "int64")],
}
_SCALARS = {"int64": _T.TYPE_INT64, "uint64": _T.TYPE_UINT64, "bool": _T.TYPE_BOOL,
            "string": _T.TYPE_STRING}


def _classes() -> dict[str, type]:
    fd = descriptor_pb2.FileDescriptorProto(name="viewcore_profile.proto", package="perftools.profiles",
                                            syntax="proto3")
    for msg, fields in _SCHEMA.items():
        m = fd.message_type.add(name=msg)
        for name, number, kind in fields:
            repeated = kind.endswith("*")
            kind = kind.rstrip("*")
            f = m.field.add(name=name, number=number,
                            label=_T.LABEL_REPEATED if repeated else _T.LABEL_OPTIONAL)
            if kind in _SCALARS:
                f.type = _SCALARS[kind]
            else:
                f.type = _T.TYPE_MESSAGE
                f.type_name = f".perftools.profiles.{kind}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return {msg: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"perftools.profiles.{msg}"))
            for msg in _SCHEMA}


MESSAGES = _classes()
Profile = MESSAGES["Profile"]


def encode_profile(stacks: list[list[str]], values: list[tuple[int, int]],
                   sample_types=(("inuse_objects", "count"), ("inuse_space", "bytes")),
                   goroutines: list[int] | None = None) -> bytes:
    """Return a gzip-compressed profile: one sample per stack (innermost first) with values,
    labelled ``goroutine`` with ``goroutines[i]`` where that is not negative."""
    strings: dict[str, int] = {"": 0}

    def s(text: str) -> int:
        return strings.setdefault(text, len(strings))

    prof = Profile()
    for typ, unit in sample_types:
        prof.sample_type.add(type=s(typ), unit=s(unit))
    funcs: dict[str, int] = {}
    goro_key = s("goroutine")
    for n, (stack, vals) in enumerate(zip(stacks, values)):
        ids = []
        for name in stack:
            loc = funcs.get(name)
            if loc is None:
                loc = funcs[name] = len(funcs) + 1
                prof.function.add(id=loc, name=s(name), system_name=s(name))
                prof.location.add(id=loc).line.add(function_id=loc)
            ids.append(loc)
        sample = prof.sample.add(location_id=ids, value=list(vals))
        if goroutines is not None and goroutines[n] >= 0:
            sample.label.add(key=goro_key, num=goroutines[n])
    prof.default_sample_type = s(sample_types[-1][0])
    prof.string_table.extend(sorted(strings, key=strings.get))
    return gzip.compress(prof.SerializeToString())
