//! Documents made per second on one core, for each kind: layout, per-document font subset,
//! compression and PDF writing (the register write is not included).
//! `cargo bench -p portal-document`

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use portal_document::documents::{make, sample_record};
use portal_document::entitlement::entitlements;
use portal_document::fonts::Fonts;

fn documents(c: &mut Criterion) {
    let fonts = Fonts::load().expect("fonts");
    let record = sample_record();
    let mut group = c.benchmark_group("document");
    group.throughput(Throughput::Elements(1));
    for entitlement in entitlements(&record) {
        let name = entitlement.title();
        group.bench_function(name, |b| {
            b.iter(|| {
                make(
                    &fonts,
                    &record,
                    &entitlement,
                    "7KQ2-M9XD-3HJP-W6RT",
                    Utc::now(),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, documents);
criterion_main!(benches);
