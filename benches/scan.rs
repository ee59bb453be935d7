//! Micro-benchmarks of the per-block engine on the bundled sample (in memory, one core):
//! prefilter + parse + evaluate for a selective and an unselective query, with and
//! without the prefilter. End-to-end numbers against jq: scripts/bench.sh.

use auditq::block::{BlockProcessor, BlockResult, Plan};
use auditq::query::parse_query;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;

fn plan(query: &str, prefilter: bool) -> Arc<Plan> {
    let expr = parse_query(&[query.to_string()]).expect("benchmark queries are valid");
    Arc::new(Plan::jsonl(expr, prefilter))
}

fn engine(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/sample.log");
    let data = std::fs::read(path).expect("testdata/sample.log is in the repository");
    let mut group = c.benchmark_group("block");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(20);
    for (name, query, prefilter) in [
        ("selective", "verb=delete resource=secrets", true),
        (
            "selective-no-prefilter",
            "verb=delete resource=secrets",
            false,
        ),
        ("unselective", "user=system:*", true),
    ] {
        let mut processor = BlockProcessor::new(plan(query, prefilter));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut result = BlockResult::default();
                processor.process(&data, &mut result);
                result.counters.matched
            })
        });
    }
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
