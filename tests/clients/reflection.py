#!/usr/bin/env python3
"""A client we did not write, knowing only reflection: Python's grpcio.

Against a running gateway (ADDRESS, such as 127.0.0.1:50051) it builds every type from the
server's reflection alone (no generated code), checks that each public service and both
reflection versions are described, sends SignInTeacher a malformed TRN, and decodes the
google.rpc.Status and its BadRequest detail from `grpc-status-details-bin` with types that
reflection resolved. Exits non-zero, saying why, when any of that fails.

Usage: tests/clients/reflection.py ADDRESS
"""

import sys

import grpc
from google.protobuf import descriptor_pool, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

PUBLIC = [
    "dqt.portal.v1.Authentication",
    "dqt.portal.v1.TeacherPortal",
    "dqt.portal.v1.EmployerAccess",
    "dqt.portal.v1.Administration",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
]


def fail(message):
    sys.exit(f"reflection client: {message}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    channel = grpc.insecure_channel(sys.argv[1])
    database = ProtoReflectionDescriptorDatabase(channel)
    pool = descriptor_pool.DescriptorPool(database)

    listed = set(database.get_services())
    missing = [s for s in PUBLIC if s not in listed]
    if missing:
        fail(f"not listed: {missing}")
    for service in listed:
        pool.FindServiceByName(service)

    def message_class(name):
        return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))

    method = pool.FindMethodByName("dqt.portal.v1.Authentication.SignInTeacher")
    request_class = message_class(method.input_type.full_name)
    response_class = message_class(method.output_type.full_name)
    call = channel.unary_unary(
        "/dqt.portal.v1.Authentication/SignInTeacher",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response_class.FromString,
    )
    request = request_class(trn="12", surname="x", forename="y", date_of_birth="1980-01-01")
    try:
        call(request, timeout=10)
        fail("a malformed TRN was accepted")
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.INVALID_ARGUMENT:
            fail(f"expected INVALID_ARGUMENT, got {error.code()}")
        details = dict(error.trailing_metadata() or ()).get("grpc-status-details-bin")
        if details is None:
            fail("no grpc-status-details-bin")

    status = message_class("google.rpc.Status").FromString(details)
    bad_request_class = message_class("google.rpc.BadRequest")
    fields = []
    for detail in status.details:
        if detail.type_url.endswith("/google.rpc.BadRequest"):
            bad_request = bad_request_class.FromString(detail.value)
            fields += [v.field for v in bad_request.field_violations]
    if fields != ["trn"]:
        fail(f"expected a BadRequest naming trn, got {fields}")
    print(f"reflection client: {len(listed)} services described; BadRequest decoded: {fields}")


main()
