//! `turnstile chat`: talk to an agent in the terminal, like the DM API tutorial client.
//!
//! It asks for a name (the user id), launches, prints what the agent says, numbers the buttons,
//! and sends a number as that button or anything else as text, until the conversation ends.
//! It runs an agent file in-process, or talks to a running server over the DM API (HTTP) or
//! the gRPC API (`--grpc`).

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use turnstile_engine::{Agent, Request, SessionState, TurnOptions, run_turn};
use turnstile_proto::v1 as pb;
use turnstile_proto::v1::dialog_client::DialogClient;
use turnstile_session::SystemEffects;
use turnstile_wire::{json_to_request, trace_to_json};

use crate::serve::load_agent;

/// Where the conversation runs.
pub enum Target {
    Agent(PathBuf),
    Server { url: String, key: Option<String> },
    Grpc { url: String, key: Option<String> },
}

impl Target {
    pub fn parse(spec: &str, key: Option<String>, grpc: bool) -> Target {
        if spec.starts_with("http://") || spec.starts_with("https://") {
            let url = spec.trim_end_matches('/').to_owned();
            if grpc {
                Target::Grpc { url, key }
            } else {
                Target::Server { url, key }
            }
        } else {
            Target::Agent(PathBuf::from(spec))
        }
    }
}

/// One side of the conversation: sends a DM API request, returns the traces as JSON.
enum Backend {
    Local {
        agent: Box<Agent>,
        state: SessionState,
        effects: SystemEffects,
        user: String,
    },
    Remote {
        client: reqwest::Client,
        url: String,
        key: Option<String>,
        user: String,
    },
    Grpc {
        client: DialogClient<tonic::transport::Channel>,
        key: Option<String>,
        user: String,
    },
}

impl Backend {
    async fn send(&mut self, request: Value) -> anyhow::Result<Vec<Value>> {
        match self {
            Backend::Local {
                agent,
                state,
                effects,
                user,
            } => {
                let request = Request::from_json(&request)?;
                let options = TurnOptions {
                    user_id: user.clone(),
                    ..TurnOptions::default()
                };
                let mut traces = Vec::new();
                run_turn(agent, state, request, effects, &mut traces, &options).await;
                Ok(traces.iter().map(|t| t.to_json()).collect())
            }
            Backend::Remote {
                client,
                url,
                key,
                user,
            } => {
                let mut builder = client
                    .post(format!("{url}/state/user/{user}/interact"))
                    .header("content-type", "application/json")
                    .body(json!({ "action": request }).to_string());
                if let Some(key) = key {
                    builder = builder.header("authorization", key.as_str());
                }
                let response = builder.send().await.context("the server did not answer")?;
                let status = response.status();
                let body = response.text().await?;
                if !status.is_success() {
                    bail!("the server answered {status}: {body}");
                }
                Ok(serde_json::from_str(&body).context("the server's answer is not JSON")?)
            }
            Backend::Grpc { client, key, user } => {
                let mut call = tonic::Request::new(pb::InteractRequest {
                    user_id: user.clone(),
                    request: Some(json_to_request(&request)),
                    ..Default::default()
                });
                if let Some(key) = key {
                    call.metadata_mut()
                        .insert("authorization", key.parse().context("invalid API key")?);
                }
                let answer = client.interact(call).await?.into_inner();
                Ok(answer.traces.iter().map(trace_to_json).collect())
            }
        }
    }
}

pub async fn chat(target: Target) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut out = std::io::stdout();
    write!(out, "What's your name? ")?;
    out.flush()?;
    let name = match lines.next() {
        Some(line) => line?.trim().to_owned(),
        None => return Ok(()),
    };
    let user: String = name
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '_' })
        .collect();
    let user = if user.is_empty() {
        "guest".to_owned()
    } else {
        user
    };
    let mut backend = match target {
        Target::Agent(path) => Backend::Local {
            agent: Box::new(load_agent(&path)?),
            state: SessionState::default(),
            effects: SystemEffects::new()?,
            user,
        },
        Target::Server { url, key } => Backend::Remote {
            client: reqwest::Client::new(),
            url,
            key,
            user,
        },
        Target::Grpc { url, key } => Backend::Grpc {
            client: DialogClient::connect(url.clone())
                .await
                .with_context(|| format!("cannot connect to {url}"))?,
            key,
            user,
        },
    };
    let mut traces = backend.send(json!({ "type": "launch" })).await?;
    loop {
        let (buttons, ended) = show(&traces, &mut out)?;
        if ended {
            writeln!(out, "(the conversation has ended)")?;
            return Ok(());
        }
        write!(out, "> ")?;
        out.flush()?;
        let Some(line) = lines.next() else {
            return Ok(());
        };
        let line = line?;
        let input = line.trim();
        let request = match input.parse::<usize>() {
            Ok(n) if n >= 1 && n <= buttons.len() => buttons[n - 1].clone(),
            _ => json!({ "type": "text", "payload": input }),
        };
        traces = backend.send(request).await?;
    }
}

/// Prints what a person would see; returns the buttons' requests and whether the conversation
/// ended.
fn show(traces: &[Value], out: &mut impl Write) -> anyhow::Result<(Vec<Value>, bool)> {
    let mut buttons = Vec::new();
    let mut ended = false;
    for trace in traces {
        match trace["type"].as_str() {
            Some("text" | "speak") => {
                if let Some(message) = trace["payload"]["message"].as_str() {
                    writeln!(out, "{message}")?;
                }
            }
            Some("visual") => {
                if let Some(image) = trace["payload"]["image"].as_str() {
                    writeln!(out, "[image: {image}]")?;
                }
            }
            Some("cardV2") => {
                writeln!(
                    out,
                    "[card: {}]",
                    trace["payload"]["title"].as_str().unwrap_or("")
                )?;
                collect_buttons(&trace["payload"]["buttons"], &mut buttons, out)?;
            }
            Some("choice") => collect_buttons(&trace["payload"]["buttons"], &mut buttons, out)?,
            Some("end") => ended = true,
            _ => {}
        }
    }
    Ok((buttons, ended))
}

fn collect_buttons(
    list: &Value,
    buttons: &mut Vec<Value>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    for button in list.as_array().into_iter().flatten() {
        buttons.push(button["request"].clone());
        writeln!(
            out,
            "  {}. {}",
            buttons.len(),
            button["name"].as_str().unwrap_or("?")
        )?;
    }
    Ok(())
}
