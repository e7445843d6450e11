//! Synthetic data: `portal seed` and the demo teachers of `portal up --demo`, both from the
//! record service's generator.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use portal_common::values::Trn;

use crate::Config;

/// Adds the demo teachers that README lists, unless the record database already holds the
/// first TRN of the range.
pub async fn add_demo_teachers(config: &Config) -> anyhow::Result<()> {
    let store = config.record.open_store(&config.shared).await?;
    let first = Trn::from_number(config.record.trn_range_start).context("the TRN range start")?;
    let added = portal_record::seed::add_demo_teachers(&store, first, chrono_today()).await?;
    for trn in added {
        tracing::info!(%trn, "demo teacher created");
    }
    Ok(())
}

/// Adds `teachers` generated records, showing progress.
pub async fn seed(config: &Config, teachers: u64, seed: u64) -> anyhow::Result<()> {
    let store = config.record.open_store(&config.shared).await?;
    let bar = ProgressBar::new(teachers).with_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {pos}/{len} teachers ({per_sec}, {eta} left)",
        )?
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    let started = Instant::now();
    portal_record::seed::seed(&store, seed, teachers, chrono_today(), |written| {
        bar.set_position(written);
    })
    .await?;
    bar.finish();
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        teachers,
        seconds,
        per_second = teachers as f64 / seconds.max(f64::EPSILON),
        "seeded"
    );
    Ok(())
}

fn chrono_today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}
