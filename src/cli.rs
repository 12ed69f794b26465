//! The `london-vision` command line: serve (the default), migrate, seed, schema.

use clap::{Parser, Subcommand};

use crate::{config::Config, db::Database, graphql, startup};

/// The London Vision partner API.
#[derive(Debug, Parser)]
#[command(name = "london-vision", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate, load the reference data if the database is empty, and serve (the default).
    Serve,
    /// Bring the database schema up to date.
    Migrate,
    /// Load the reference data; rows that already exist are left as they are.
    Seed,
    /// Print the GraphQL schema (SDL), as `schema.graphql` holds it.
    Schema,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = startup::Application::build(&config).await?;
            tracing::info!(address = %app.local_addr(), database = %config.redacted_database_url(), "serving GraphQL on http://{}/graphql", app.local_addr());
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            let db = Database::connect(&config.database_url).await?;
            db.migrate().await?;
            println!("database schema is up to date");
        }
        Command::Seed => {
            let db = Database::connect(&config.database_url).await?;
            db.migrate().await?;
            let report = startup::load_seed(&db, &config).await?;
            if report.is_empty() {
                println!("reference data already loaded: nothing to add");
            } else {
                println!("reference data loaded: {report:?}");
            }
        }
        Command::Schema => print!("{}", graphql::sdl()),
    }
    Ok(())
}
