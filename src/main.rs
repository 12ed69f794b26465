//! `london-vision`: parse the command line and hand over to the library.

use clap::Parser as _;
use london_vision::{cli, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = cli::Cli::parse();
    telemetry::init();
    cli::run(args).await
}
