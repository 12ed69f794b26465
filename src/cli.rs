//! The `london-vision` command line: serve (the default), migrate, seed, schema.

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};

use crate::{
    auth::{self, Principal, TokenService, tokens},
    catalogue::organisations,
    config::Config,
    db::Database,
    graphql, returns, startup,
    values::Role,
};

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
    /// Load a synthetic dataset (every measure, all 39 areas, ten periods, each value
    /// marked synthetic) to explore the picture with; never loaded otherwise.
    Demo,
    /// Print a signed token for a partner script, or revoke one.
    Token(TokenArgs),
    /// Submit a return from a CSV file for an organisation, through the same pipeline as
    /// `submitReturn`; prints the summary as JSON and fails when the return is refused.
    Import {
        /// The CSV file: measure,geography,period,value,numerator,denominator,lower_ci,upper_ci,note
        file: std::path::PathBuf,
        /// The organisation the return is for (its slug).
        #[arg(long)]
        org: String,
        /// Check and report, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// A key that makes a repeated import return the first result.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// A note on the whole return.
        #[arg(long)]
        note: Option<String>,
        /// Who is importing, for the audit trail (by default `<org>-import`).
        #[arg(long)]
        subject: Option<String>,
    },
    /// Neighbourhoods: wards or Primary Care Networks under their boroughs.
    Geographies {
        #[command(subcommand)]
        action: GeographiesAction,
    },
    /// Signed receipts of returns.
    Receipt {
        #[command(subcommand)]
        action: ReceiptAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum GeographiesAction {
    /// Import neighbourhoods from a CSV file, `code,name,parent,population,population_year`
    /// (wards by ONS code `E05…`, PCNs by ODS code `U…`; parent: the borough's ONS code), as
    /// an ADMIN: whole or not at all; prints what was done as JSON.
    Import {
        /// The CSV file.
        file: std::path::PathBuf,
        /// The organisation the operator acts for (its slug), for the audit trail.
        #[arg(long, default_value = "gla")]
        org: String,
        /// Who is importing, for the audit trail.
        #[arg(long, default_value = "geographies-import")]
        subject: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReceiptAction {
    /// Check a receipt's signature and print what it says (JSON); fails when it does not
    /// verify. By default against this server's own key; `--jwks` names a key set instead
    /// (as `/.well-known/jwks.json` serves it).
    Verify {
        /// A file holding the receipt (the compact JWS), or `-` for standard input.
        file: std::path::PathBuf,
        /// A JWK set file to verify with.
        #[arg(long)]
        jwks: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub action: Option<TokenAction>,

    /// The organisation the token acts for (its slug, e.g. `camden`).
    #[arg(long)]
    pub org: Option<String>,

    /// A role: SUBMITTER, APPROVER or ADMIN (repeat for several), or READ_ONLY for a token
    /// that only reads; one is required.
    #[arg(long = "role", value_parser = parse_role)]
    pub roles: Vec<Option<Role>>,

    /// How long the token lives: e.g. 90d, 12h, 30m.
    #[arg(long, default_value = "90d", value_parser = tokens::parse_ttl)]
    pub ttl: i64,

    /// Who the token is for (its `sub` claim); by default `<org>-script`.
    #[arg(long)]
    pub subject: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Refuse a token from now on, by its id (`jti`).
    Revoke {
        /// The token's id, as `viewer { tokenId }` or the issuing command shows it.
        jti: String,
        /// Why it is revoked, for the record.
        #[arg(long)]
        reason: Option<String>,
        /// Revoke an id this server did not issue (a token from an identity provider).
        #[arg(long)]
        external: bool,
    },
}

/// A role by name, or `None` for READ_ONLY.
fn parse_role(text: &str) -> Result<Option<Role>, String> {
    let upper = text.trim().to_ascii_uppercase();
    if upper == "READ_ONLY" {
        return Ok(None);
    }
    Role::parse(&upper)
        .map(Some)
        .map_err(|_| format!("'{text}' is not a role: use SUBMITTER, APPROVER, ADMIN or READ_ONLY"))
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
        Command::Receipt { action: ReceiptAction::Verify { file, jwks } } => {
            let text = if file.as_os_str() == "-" {
                let mut t = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut t)?;
                t
            } else {
                std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?
            };
            let keys = match jwks {
                Some(path) => serde_json::from_str(
                    &std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
                )?,
                None => crate::receipts::ReceiptKeys::load(
                    config.receipt_signing_key.as_ref().map(secrecy::ExposeSecret::expose_secret),
                    &config.data_dir,
                )?
                .jwks(),
            };
            let claims = crate::receipts::verify(&text, &keys)?;
            println!("{}", serde_json::to_string_pretty(&claims)?);
        }
        Command::Demo => {
            let db = Database::connect(&config.database_url).await?;
            db.migrate().await?;
            startup::load_seed(&db, &config).await?;
            let report = crate::demo::load(&db.conn).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            eprintln!("synthetic demonstration data loaded: every value's note says it is not a real figure");
        }
        Command::Token(args) => token(&config, args).await?,
        Command::Geographies { action: GeographiesAction::Import { file, org, subject } } => {
            let db = Database::connect(&config.database_url).await?;
            db.migrate().await?;
            let actor = Principal::for_organisation(&db.conn, &org, subject, vec![Role::Admin], "cli".into())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .ok_or_else(|| anyhow::anyhow!("no organisation has the slug '{org}'"))?;
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let outcome = match crate::catalogue::neighbourhoods::read_csv(&text) {
                Ok(rows) => crate::catalogue::neighbourhoods::import(&db.conn, &actor, rows)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
                Err(errors) => Err(errors),
            };
            match outcome {
                Ok(done) => println!("{}", serde_json::to_string_pretty(&done)?),
                Err(errors) => {
                    println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "userErrors": errors }))?);
                    bail!("the import was refused: nothing was written");
                }
            }
        }
        Command::Import { file, org, dry_run, idempotency_key, note, subject } => {
            let db = Database::connect(&config.database_url).await?;
            db.migrate().await?;
            let subject = subject.unwrap_or_else(|| format!("{org}-import"));
            let actor = Principal::for_organisation(&db.conn, &org, subject, vec![Role::Submitter], "cli".into())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .ok_or_else(|| anyhow::anyhow!("no organisation has the slug '{org}'"))?;
            std::fs::metadata(&file).with_context(|| format!("opening {}", file.display()))?;
            let submission = returns::Submission {
                organisation: org,
                rows: returns::Rows::CsvFile(file),
                idempotency_key,
                dry_run,
                note,
            };
            let reference = returns::Reference::load(&db.conn).await?;
            let outcome =
                returns::submit(&db.conn, reference, &actor, submission).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            // Servers on the same PostgreSQL database tell their subscribers.
            if let Some(event) = crate::events::Event::of_submission(&outcome) {
                crate::events::notify(&db.conn, &event).await?;
            }
            let summary = returns::Summary::new(outcome);
            println!("{}", serde_json::to_string_pretty(&summary)?);
            if summary.refused() {
                bail!("the return was refused: nothing was written");
            }
        }
    }
    Ok(())
}

async fn token(config: &Config, args: TokenArgs) -> anyhow::Result<()> {
    let db = Database::connect(&config.database_url).await?;
    db.migrate().await?;
    if let Some(TokenAction::Revoke { jti, reason, external }) = args.action {
        if !external && !auth::was_issued(&db.conn, &jti).await.map_err(|e| anyhow::anyhow!("{e}"))? {
            bail!(
                "no token with the id '{jti}' was issued by this server: check the id (`viewer {{ tokenId }}` shows \
                 it), or add --external for a token from an identity provider"
            );
        }
        if auth::revoke(&db.conn, &jti, reason).await.map_err(|e| anyhow::anyhow!("{e}"))? {
            // Servers close live connections opened with it (on SQLite, at their next look).
            crate::events::notify_revocation(&db.conn, &jti).await?;
            eprintln!("token {jti} is revoked");
        } else {
            eprintln!("token {jti} was already revoked");
        }
        return Ok(());
    }
    let Some(org) = args.org else { bail!("name the organisation: london-vision token --org SLUG --role ROLE") };
    if args.roles.is_empty() {
        bail!("name the token's role: --role SUBMITTER, APPROVER or ADMIN (repeat for several), or READ_ONLY");
    }
    let roles: Vec<Role> = args.roles.iter().flatten().copied().collect();
    if roles.len() < args.roles.len() && !roles.is_empty() {
        bail!("READ_ONLY cannot be combined with other roles");
    }
    let found = organisations::by_slug(&db.conn, &org).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    if found.is_none() {
        bail!("no organisation has the slug '{org}' (is the database seeded?)");
    }
    let service = TokenService::from_config(config).context("loading the signing key")?;
    let subject = args.subject.unwrap_or_else(|| format!("{org}-script"));
    let (token, claims) = service.issue(&org, &subject, &roles, args.ttl)?;
    auth::record_issued(&db.conn, &claims).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let expires = chrono::DateTime::from_timestamp(claims.exp, 0).map(|t| t.to_rfc3339()).unwrap_or_default();
    eprintln!("token for {org} ({}), id {}, expires {expires}", claims.roles.join(", "), claims.jti);
    println!("{token}");
    Ok(())
}
