//! The `turnstile` command: serve agents over the Dialog Manager API, chat with an agent in the
//! terminal, validate agent files, print the agent format's JSON Schema.

mod bench;
mod chat;
mod cluster;
mod config;
mod serve;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::FileConfig;

// Turns allocate many small objects from many threads; glibc's allocator spent about a sixth of
// the server's CPU in the HTTP benchmark, mimalloc much less (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// turnstile: a dialog runtime for chat and voice agents.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve agents over the Voiceflow Dialog Manager API.
    Serve(ServeArgs),
    /// Chat with an agent file (in-process) or a running server (http://…) in the terminal.
    Chat {
        /// An agent file, or the base URL of a turnstile server.
        target: String,
        /// The API key, when talking to a server that needs one.
        #[arg(long, env = "TURNSTILE_API_KEY")]
        key: Option<String>,
        /// Talk to the server over gRPC instead of HTTP.
        #[arg(long)]
        grpc: bool,
    },
    /// Check an agent file; prints a located error and exits 1 when it does not load.
    Validate {
        /// The agent file (YAML).
        agent: PathBuf,
    },
    /// Print the JSON Schema of the agent format (for editors).
    Schema,
    /// Inspect a cluster.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Load-test the server over HTTP against a bare axum handler (docs/benchmarks.md).
    Bench(bench::BenchArgs),
    /// The bare reference server of `bench` (internal).
    #[command(hide = true)]
    BenchBare {
        #[arg(long)]
        body: String,
    },
}

/// `turnstile cluster …`
#[derive(Subcommand)]
enum ClusterCommand {
    /// Show the members of the cluster a node belongs to, their states and partition counts.
    Status {
        /// The node's base URL, e.g. http://127.0.0.1:8080.
        url: String,
    },
}

/// `serve` flags; each also reads a `TURNSTILE_*` variable and the config file.
#[derive(clap::Args)]
struct ServeArgs {
    /// Development mode: serve this agent as project `default`, without API keys.
    #[arg(long, env = "TURNSTILE_AGENT")]
    agent: Option<PathBuf>,
    /// The config file (default: ./turnstile.toml when it exists).
    #[arg(long, env = "TURNSTILE_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080]; serves HTTP and gRPC.
    #[arg(long, env = "TURNSTILE_LISTEN")]
    listen: Option<SocketAddr>,
    /// Serve gRPC on this address instead of on the HTTP listener.
    #[arg(long, env = "TURNSTILE_GRPC_LISTEN")]
    grpc_listen: Option<SocketAddr>,
    /// Where the embedded store keeps its file [default: ./data].
    #[arg(long, env = "TURNSTILE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// `embedded` (durable, the default) or `memory`.
    #[arg(long, env = "TURNSTILE_STORE")]
    store: Option<String>,
    /// Embedded store: how long (µs) the writer waits to gather more commits into one fsync.
    #[arg(long, env = "TURNSTILE_STORE_BATCH_WAIT_US")]
    store_batch_wait_us: Option<u64>,
    /// Join a cluster as this node (unique, stable across restarts); needs a postgres store.
    #[arg(long, env = "TURNSTILE_NODE_ID")]
    node_id: Option<String>,
    /// UDP address for gossip [default: the listen address].
    #[arg(long, env = "TURNSTILE_GOSSIP_LISTEN")]
    gossip_listen: Option<SocketAddr>,
    /// Gossip addresses of nodes to join through, comma-separated.
    #[arg(long, env = "TURNSTILE_SEEDS", value_delimiter = ',')]
    seeds: Vec<String>,
    /// The HOST:PORT other nodes reach this node's listener at [default: the listen address].
    #[arg(long, env = "TURNSTILE_ADVERTISE")]
    advertise: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // reqwest is built without a default crypto provider (ring is used, not aws-lc).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let filter = tracing_subscriber::EnvFilter::try_from_env("TURNSTILE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => {
            let settings = serve_settings(args)?;
            runtime()?.block_on(serve::serve(settings))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Chat { target, key, grpc } => {
            runtime()?.block_on(chat::chat(chat::Target::parse(&target, key, grpc)))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { agent } => match serve::load_agent(&agent) {
            Ok(loaded) => {
                let steps: usize = loaded.flows.iter().map(|f| f.nodes.len()).sum();
                println!(
                    "{}: ok ({} flows, {steps} steps)",
                    agent.display(),
                    loaded.flows.len()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) if e.is::<turnstile_engine::LoadError>() => {
                eprintln!("{e}");
                Ok(ExitCode::FAILURE)
            }
            Err(e) => Err(e),
        },
        Command::Cluster(ClusterCommand::Status { url }) => {
            runtime()?.block_on(cluster::status(&url))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) => {
            runtime()?.block_on(bench::run(args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchBare { body } => {
            runtime()?.block_on(bench::bare_server(body))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Schema => {
            let schema = serde_json::to_string_pretty(&turnstile_engine::agent_schema())?;
            let mut out = std::io::stdout().lock();
            match writeln!(out, "{schema}") {
                // A closed pipe (`turnstile schema | head`) is not an error.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(ExitCode::SUCCESS),
            }
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Flags, then environment (both through clap), then the config file, then defaults.
fn serve_settings(args: ServeArgs) -> anyhow::Result<serve::ServeSettings> {
    let config_path = args.config.or_else(|| {
        let default = PathBuf::from("turnstile.toml");
        default.exists().then_some(default)
    });
    let file = match &config_path {
        Some(path) => FileConfig::read(path)?,
        None => FileConfig::default(),
    };
    Ok(serve::ServeSettings {
        listen: args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
        data_dir: args
            .data_dir
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from("data")),
        store: args
            .store
            .or_else(|| file.store.clone())
            .unwrap_or_else(|| "embedded".into()),
        agent: args.agent.or_else(|| file.agent.clone()),
        grpc_listen: args.grpc_listen.or(file.grpc_listen),
        batch_wait_us: args
            .store_batch_wait_us
            .or(file.store_options.batch_wait_us),
        cluster: args
            .node_id
            .or_else(|| file.cluster.node_id.clone())
            .map(|node_id| {
                let secret =
                    std::env::var_os(cluster::SECRET_ENV).map(|v| v.to_string_lossy().into_owned());
                anyhow::Ok(cluster::ClusterSettings {
                    node_id,
                    secret: cluster::secret(secret, file.cluster.secret.as_ref())?,
                    gossip_listen: args.gossip_listen.or(file.cluster.gossip_listen),
                    advertise: args.advertise.or_else(|| file.cluster.advertise.clone()),
                    seeds: if args.seeds.is_empty() {
                        file.cluster.seeds.clone()
                    } else {
                        args.seeds
                    },
                    cluster_id: file.cluster.cluster_id.clone(),
                    gossip_interval: file
                        .cluster
                        .gossip_interval_ms
                        .map(std::time::Duration::from_millis),
                    phi_threshold: file.cluster.phi_threshold,
                })
            })
            .transpose()?,
        file,
    })
}
