//! The fuzz targets keep up with the API: the `requests` target checks every request message
//! of the public services, so a new RPC is fuzzed from the day it is added.

use prost::Message as _;

#[test]
fn the_requests_fuzz_target_checks_every_public_request_message() {
    let set = prost_types::FileDescriptorSet::decode(dqt_proto::FILE_DESCRIPTOR_SET).unwrap();
    let target = include_str!("../../fuzz/fuzz_targets/requests.rs");
    let mut inputs = Vec::new();
    for file in set.file.iter().filter(|f| f.package() == "dqt.portal.v1") {
        for method in file.service.iter().flat_map(|s| &s.method) {
            let input = method.input_type().rsplit('.').next().unwrap().to_owned();
            inputs.push(input);
        }
    }
    assert!(
        inputs.len() > 40,
        "every public RPC is read: {}",
        inputs.len()
    );
    let missing: Vec<&String> = inputs
        .iter()
        .filter(|input| {
            !target.contains(&format!("pb::{input},")) && !target.contains(&format!("pb::{input})"))
        })
        .collect();
    assert!(missing.is_empty(), "not fuzzed: {missing:?}");
}
