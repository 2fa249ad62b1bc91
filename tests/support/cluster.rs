//! A cluster of real `turnstile serve` processes on loopback, sharing a private PostgreSQL.

use std::net::{TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use serde_json::Value;
use turnstile_testkit::PgServer;

use super::{Server, TempDir, repo, write};

/// Node `i`'s base URL, whether or not it is running.
pub fn url_of(port: u16, path: &str) -> String {
    format!("http://127.0.0.1:{port}{path}")
}

/// A loopback port free for both TCP (HTTP/gRPC) and UDP (gossip, same number).
pub fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The secret the test clusters' nodes share (`TURNSTILE_CLUSTER_SECRET`).
pub const SECRET: &str = "test-cluster-secret-5f0c9a2e";

/// Nodes `n1`, `n2`, … serving the pizza agent, each on a fixed port (kept across restarts),
/// every node listing every node as a seed, all sharing [`SECRET`].
pub struct Cluster {
    /// `None` while a node is down. First, so that the nodes stop before PostgreSQL does
    /// (fields drop in order): otherwise every node logs its lost connections.
    pub nodes: Vec<Option<Server>>,
    pub agent: std::path::PathBuf,
    pub pg: PgServer,
    pub database: String,
    pub ports: Vec<u16>,
    /// A config file to serve instead of the agent in development mode.
    pub config: Option<std::path::PathBuf>,
    _dir: TempDir,
}

impl Cluster {
    /// `size` nodes serving the pizza agent.
    pub async fn start(name: &str, size: usize) -> Cluster {
        Cluster::start_with(name, size, "examples/agents/pizza.yaml").await
    }

    /// `size` nodes serving `agent` (a path in the repository).
    pub async fn start_with(name: &str, size: usize, agent: &str) -> Cluster {
        Cluster::start_inner(name, size, agent, None).await
    }

    /// `size` nodes serving the keyed projects `alpha` (key `VF.DM.alpha.secret`) and `beta`
    /// (`VF.DM.beta.secret`), both running the pizza agent.
    pub async fn start_keyed(name: &str, size: usize) -> Cluster {
        let agent = repo("examples/agents/pizza.yaml");
        let config = format!(
            "[[projects]]\nid = \"alpha\"\nagent = {agent:?}\napi_keys = [\"VF.DM.alpha.secret\"]\n\n\
             [[projects]]\nid = \"beta\"\nagent = {agent:?}\napi_keys = [\"VF.DM.beta.secret\"]\n"
        );
        Cluster::start_inner(name, size, "examples/agents/pizza.yaml", Some(config)).await
    }

    async fn start_inner(name: &str, size: usize, agent: &str, config: Option<String>) -> Cluster {
        let dir = TempDir::new(name);
        let config = config.map(|text| write(dir.path(), "turnstile.toml", &text));
        let pg = PgServer::start();
        let database = pg.create_database(name);
        let ports: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let mut cluster = Cluster {
            agent: repo(agent),
            pg,
            database,
            ports,
            nodes: (0..size).map(|_| None).collect(),
            config,
            _dir: dir,
        };
        for i in 0..size {
            cluster.start_node(i);
        }
        cluster.wait_converged(size, Duration::from_secs(20)).await;
        cluster
    }

    pub fn node_id(i: usize) -> String {
        format!("n{}", i + 1)
    }

    fn args(&self, i: usize) -> Vec<String> {
        let seeds: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let serve = match &self.config {
            Some(config) => ["--config".to_owned(), config.to_str().unwrap().to_owned()],
            None => [
                "--agent".to_owned(),
                self.agent.to_str().unwrap().to_owned(),
            ],
        };
        let mut args = serve.to_vec();
        args.extend([
            "--store".into(),
            self.database.clone(),
            "--node-id".into(),
            Self::node_id(i),
            "--listen".into(),
            format!("127.0.0.1:{}", self.ports[i]),
            "--seeds".into(),
            seeds.join(","),
        ]);
        args
    }

    /// Starts node `i` (it is ready in its own view when this returns).
    pub fn start_node(&mut self, i: usize) {
        let args = self.args(i);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.nodes[i] = Some(Server::start_env(
            &args,
            &[("TURNSTILE_CLUSTER_SECRET", SECRET)],
        ));
    }

    /// SIGKILL node `i`.
    pub fn kill_node(&mut self, i: usize) {
        if let Some(mut node) = self.nodes[i].take() {
            node.kill9();
        }
    }

    pub fn node(&self, i: usize) -> &Server {
        self.nodes[i].as_ref().expect("the node is running")
    }

    pub fn running(&self) -> impl Iterator<Item = &Server> {
        self.nodes.iter().flatten()
    }

    /// Waits until every running node sees `ready` ready members.
    pub async fn wait_converged(&self, ready: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let mut all = true;
            for node in self.running() {
                let (_, status) = node.get("/cluster", &[]).await;
                let count = ready_members(&status);
                all &= count == ready;
            }
            if all {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not converge on {ready} ready members"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// How many members of a `GET /cluster` answer are ready.
pub fn ready_members(status: &Value) -> usize {
    status["members"]
        .as_array()
        .map_or(0, |m| m.iter().filter(|m| m["state"] == "ready").count())
}
