// A browser front end, as one would be written with a maintained gRPC-Web client
// (@connectrpc/connect-web): it takes every type from the API's descriptors, signs a teacher in
// and reads the record through the gateway, and writes what happened into the page for the test
// to read.
import { createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

async function main() {
  const params = new URLSearchParams(location.search);
  const descriptors = new Uint8Array(await (await fetch("descriptors.bin")).arrayBuffer());
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptors));
  const transport = createGrpcWebTransport({ baseUrl: params.get("gateway") });
  const auth = createClient(registry.getService("dqt.portal.v1.Authentication"), transport);
  const portal = createClient(registry.getService("dqt.portal.v1.TeacherPortal"), transport);
  const session = await auth.signInTeacher({
    trn: params.get("trn"),
    surname: params.get("surname"),
    forename: params.get("forename"),
    dateOfBirth: params.get("dob"),
  });
  const record = await portal.getMyRecord(
    {},
    { headers: { authorization: `Bearer ${session.token}` } },
  );
  return `OK ${record.trn} masked=${record.masked}`;
}

main()
  .then((text) => (document.getElementById("result").textContent = text))
  .catch((error) => (document.getElementById("result").textContent = `ERROR ${error}`));
