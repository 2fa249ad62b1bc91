//! The `turnstile` command: validate agents and print the agent format's JSON Schema.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// turnstile: a dialog runtime for chat and voice agents.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check an agent file; prints a located error and exits 1 when it does not load.
    Validate {
        /// The agent file (YAML).
        agent: PathBuf,
    },
    /// Print the JSON Schema of the agent format (for editors).
    Schema,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate { agent } => {
            let source = std::fs::read_to_string(&agent)
                .with_context(|| format!("cannot read {}", agent.display()))?;
            match turnstile_engine::load_agent_str(&agent.display().to_string(), &source) {
                Ok(loaded) => {
                    let steps: usize = loaded.flows.iter().map(|f| f.nodes.len()).sum();
                    println!(
                        "{}: ok ({} flows, {steps} steps)",
                        agent.display(),
                        loaded.flows.len()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{e}");
                    Ok(ExitCode::FAILURE)
                }
            }
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
