//! `london-vision`: parse the command line and hand over to the library.

use clap::Parser as _;
use london_vision::{cli, telemetry};

/// The server allocates and frees many small values per request (an answer's fields, rows,
/// strings); mimalloc does that with less contention between threads than the system's
/// allocator (bench/RESULTS.md, the profile of answers built each time).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = cli::Cli::parse();
    telemetry::init();
    cli::run(args).await
}
