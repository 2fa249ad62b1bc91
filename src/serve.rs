//! `turnstile serve`: the server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use axum::serve::ListenerExt;
use tokio_util::task::TaskTracker;
use turnstile_channels::ChannelsConfig;
use turnstile_edge::cluster::{ClusterHandle, ViewPlacement, spawn_rebalancer};
use turnstile_edge::{
    AppState, Auth, ChannelSettings, Dispatch, grpc_router, http_router, install_metrics, router,
};
use turnstile_engine::{Agent, load_agent_str};
use turnstile_session::{AgentCatalog, Project, Sessions};
use turnstile_store::{EmbeddedOptions, EmbeddedStore, SessionStore, StoreSpec, open_store};

use crate::cluster::ClusterSettings;
use crate::config::{FileConfig, Limits, check_open_mode};

/// Resolved `serve` settings.
pub struct ServeSettings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub store: String,
    pub agent: Option<PathBuf>,
    pub grpc_listen: Option<SocketAddr>,
    pub batch_wait_us: Option<u64>,
    /// Set when this node is part of a cluster (`--node-id`).
    pub cluster: Option<ClusterSettings>,
    pub file: FileConfig,
}

pub fn load_agent(path: &Path) -> anyhow::Result<Agent> {
    let source = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read agent {}", path.display()))?;
    Ok(load_agent_str(&path.display().to_string(), &source)?)
}

/// Projects, who may use them, and their channels.
fn projects(settings: &ServeSettings) -> anyhow::Result<(Vec<Project>, Auth, ChannelSettings)> {
    match (&settings.agent, settings.file.projects.is_empty()) {
        (Some(_), false) => bail!(
            "use either --agent (development mode: one open project) or [[projects]] in the \
             config file, not both"
        ),
        (None, true) => bail!(
            "nothing to serve: give an agent (--agent FILE or TURNSTILE_AGENT) or configure \
             [[projects]] in turnstile.toml"
        ),
        (Some(agent), true) => {
            let agent = Arc::new(load_agent(agent)?);
            let channels = ChannelsConfig::from_env(|name| std::env::var(name).ok());
            Ok((
                vec![Project::single("default", agent)],
                Auth::open("default"),
                ChannelSettings::new([("default".to_owned(), channels)])?,
            ))
        }
        (None, false) => {
            let mut projects = Vec::new();
            let mut keys = Vec::new();
            let mut public = Vec::new();
            let mut channels = Vec::new();
            for p in &settings.file.projects {
                channels.push((p.id.clone(), p.channels.clone()));
                let development = Arc::new(load_agent(&p.agent)?);
                let production = match &p.production_agent {
                    Some(path) => Arc::new(load_agent(path)?),
                    None => development.clone(),
                };
                let mut project = Project::single(p.id.clone(), development);
                project.versions.insert("production".into(), production);
                projects.push(project);
                keys.extend(p.api_keys.iter().map(|k| (k.clone(), p.id.clone())));
                if p.public {
                    public.push(p.id.clone());
                }
            }
            let auth = public
                .into_iter()
                .fold(Auth::with_keys(keys), |auth, p| auth.with_public(p));
            Ok((projects, auth, ChannelSettings::new(channels)?))
        }
    }
}

pub async fn serve(settings: ServeSettings) -> anyhow::Result<()> {
    let limits = Limits::from(&settings.file.limits);
    let (projects, auth, channels) = projects(&settings)?;
    check_open_mode(settings.listen, !auth.is_open())?;
    if let Some(grpc) = settings.grpc_listen {
        check_open_mode(grpc, !auth.is_open())?;
    }
    let spec = StoreSpec::parse(&settings.store, &settings.data_dir)?;
    if settings.cluster.is_some() && !matches!(spec, StoreSpec::Postgres { .. }) {
        bail!(
            "a cluster node needs the shared PostgreSQL store (--store postgres://…); `{}` is \
             private to one node",
            settings.store
        );
    }
    if let Some(cluster) = &settings.cluster {
        let listeners: Vec<SocketAddr> = std::iter::once(settings.listen)
            .chain(settings.grpc_listen)
            .collect();
        cluster.check_secret(&listeners)?;
    }
    let store: Arc<dyn SessionStore> = match &spec {
        StoreSpec::Embedded { dir } => {
            let defaults = EmbeddedOptions::default();
            let options = EmbeddedOptions {
                max_wait: settings
                    .batch_wait_us
                    .map_or(defaults.max_wait, Duration::from_micros),
                cache_bytes: settings
                    .file
                    .store_options
                    .cache_mib
                    .map_or(defaults.cache_bytes, |mib| mib * 1024 * 1024),
                ..defaults
            };
            Arc::new(EmbeddedStore::open(dir, options)?)
        }
        other => open_store(other).await?,
    };
    let catalog = Arc::new(AgentCatalog::new(projects));
    let config = limits.sessions();
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let address = listener.local_addr()?;
    // A cluster node joins as `starting`: it gossips but owns nothing until it serves.
    let membership = match &settings.cluster {
        Some(cluster) => Some(crate::cluster::join(cluster.membership(address)?).await?),
        None => None,
    };
    let forward_deadline = config.turn_deadline + Duration::from_secs(5);
    let tasks = TaskTracker::new();
    let (sessions, dispatch) = match &membership {
        Some(membership) => {
            let view = membership.view();
            let node_id = view.self_id().to_owned();
            let placement = Arc::new(ViewPlacement::new(node_id.clone(), membership.watch()));
            let sessions =
                Sessions::start_placed(store, catalog.clone(), config, Some(placement)).await?;
            spawn_rebalancer(sessions.clone(), membership.watch());
            let handle = ClusterHandle::new(
                node_id,
                membership.watch(),
                forward_deadline,
                settings.cluster.as_ref().and_then(|c| c.secret.clone()),
            );
            let dispatch = Dispatch::clustered(sessions.clone(), Arc::new(handle), tasks.clone());
            (sessions, dispatch)
        }
        None => {
            let sessions = Sessions::start(store, catalog.clone(), config).await?;
            (sessions.clone(), Dispatch::local(sessions, tasks.clone()))
        }
    };
    let ready = Arc::new(AtomicBool::new(true));
    let state = AppState {
        dispatch,
        auth: Arc::new(auth),
        limits: limits.edge(),
        metrics: install_metrics(),
        ready: ready.clone(),
        tasks: tasks.clone(),
    };
    let channels = Arc::new(channels);
    let grpc_listener = match settings.grpc_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for gRPC"))?,
        ),
        None => None,
    };
    let mut project_ids: Vec<&str> = catalog.project_ids().collect();
    project_ids.sort();
    let grpc_note = match &grpc_listener {
        Some(l) => format!("; gRPC on http://{}", l.local_addr()?),
        None => "; gRPC on the same address".to_owned(),
    };
    let cluster_note = match &membership {
        Some(m) => format!("; node {}", m.view().self_id()),
        None => String::new(),
    };
    let announce = || {
        // Tests and scripts read this line to find the port.
        println!(
            "turnstile listening on http://{address} (projects: {}; store: {}{grpc_note}{cluster_note})",
            project_ids.join(", "),
            describe(&spec)
        );
        tracing::info!(%address, "listening");
    };
    let (stop, _) = tokio::sync::watch::channel(false);
    let stopped = |stop: &tokio::sync::watch::Sender<bool>| {
        let mut rx = stop.subscribe();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let http_app = if grpc_listener.is_some() {
        http_router(state.clone(), channels)
    } else {
        router(state.clone(), channels)
    };
    // Without TCP_NODELAY, small HTTP/2 frames (streamed traces, Converse answers) wait for
    // delayed ACKs: ~40 ms per turn on a busy stream.
    let http =
        axum::serve(listener.tap_io(no_delay), http_app).with_graceful_shutdown(stopped(&stop));
    let grpc = grpc_listener.map(|l| {
        axum::serve(l.tap_io(no_delay), grpc_router(state.clone()))
            .with_graceful_shutdown(stopped(&stop))
    });
    let signal = async {
        // The listener is bound: a cluster node is ready once its own view routes to it.
        match &membership {
            Some(membership) => match crate::cluster::become_ready(membership).await {
                Ok(()) => announce(),
                Err(e) => {
                    tracing::error!("{e:#}");
                    let _ = stop.send(true);
                    return Err(e);
                }
            },
            None => announce(),
        }
        shutdown_signal().await;
        ready.store(false, Ordering::Release);
        if let Some(membership) = &membership {
            tracing::info!("draining: handing partitions to the other nodes");
            crate::cluster::drain(membership).await;
        }
        tracing::info!("shutting down: finishing running turns");
        let _ = stop.send(true);
        Ok(())
    };
    let servers = async {
        match grpc {
            Some(grpc) => {
                let (a, b) = tokio::join!(http.into_future(), grpc.into_future());
                a.and(b)
            }
            None => http.await,
        }
    };
    let (served, signalled) = tokio::join!(servers, signal);
    served?;
    signalled?;
    // Answers still owed to platforms (a Slack response_url, a slow Telegram reply) run turns:
    // they finish before the sessions stop.
    tasks.close();
    if tokio::time::timeout(limits.shutdown_grace, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            pending = tasks.len(),
            "background deliveries did not finish within the shutdown grace"
        );
    }
    sessions.shutdown(limits.shutdown_grace).await?;
    if let Some(membership) = membership {
        membership.shutdown().await;
    }
    tracing::info!("store flushed; bye");
    Ok(())
}

fn no_delay(tcp: &mut tokio::net::TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!("cannot set TCP_NODELAY: {e}");
    }
}

fn describe(spec: &StoreSpec) -> String {
    match spec {
        StoreSpec::Memory => "memory".into(),
        StoreSpec::Embedded { dir } => format!("embedded in {}", dir.display()),
        // The URL may hold a password: show where, not how.
        StoreSpec::Postgres { url } => {
            let host = url.rsplit('@').next().unwrap_or(url);
            format!(
                "postgres at {}",
                host.trim_start_matches("postgres://")
                    .trim_start_matches("postgresql://")
            )
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
