//! The cluster phase of `turnstile bench --postgres URL`:
//! 1. one node with the PostgreSQL store against one with the embedded store (alternating
//!    rounds, medians, ratio);
//! 2. two nodes on PostgreSQL, all load sent to node 1: users node 1 owns (local turns)
//!    against users node 2 owns (each turn forwarded to node 2 and streamed back).

use std::net::UdpSocket;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use turnstile_cluster::{Ring, partition_of};

use super::{BenchArgs, ChildServer, client, closed_loop_users, median, post, spawn};

/// A loopback port free for TCP and UDP (a node gossips on its listen port number).
fn free_port() -> anyhow::Result<u16> {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = tcp.local_addr()?.port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
}

fn node(agent: &str, url: &str, id: &str, port: u16, seeds: &str) -> anyhow::Result<ChildServer> {
    spawn(&[
        "serve",
        "--agent",
        agent,
        "--store",
        url,
        "--node-id",
        id,
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--seeds",
        seeds,
    ])
}

/// `count` user names whose sessions `owner` owns in a cluster of `members`.
fn users_owned_by(members: &[&str], owner: &str, count: usize, tag: &str) -> Vec<String> {
    let ring = Ring::new(members.iter().copied());
    (0..)
        .map(|i| format!("{tag}-{i}"))
        .filter(|u| ring.owner(partition_of("default", u)) == Some(owner))
        .take(count)
        .collect()
}

pub async fn run(args: &BenchArgs, agent: &str, url: &str, work: &Path) -> anyhow::Result<()> {
    let client = client()?;
    let duration = Duration::from_secs(args.seconds);
    let connections = args.connections;

    // 1. The store: PostgreSQL against embedded, one node each.
    let data = work.join("db");
    let embedded = spawn(&[
        "serve",
        "--agent",
        agent,
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap_or("db"),
    ])?;
    let postgres = spawn(&[
        "serve",
        "--agent",
        agent,
        "--listen",
        "127.0.0.1:0",
        "--store",
        url,
    ])
    .context("cannot start a node on the PostgreSQL store")?;
    println!(
        "{connections} connections, {} s rounds, {} cores",
        args.seconds,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let (mut e_rates, mut p_rates) = (Vec::new(), Vec::new());
    for round in 0..args.rounds.max(1) {
        let users = |tag: &str| {
            (0..connections)
                .map(|w| format!("{tag}{round}-{w}"))
                .collect()
        };
        let e = closed_loop_users(&client, embedded.addr, users("e"), duration).await?;
        let p = closed_loop_users(&client, postgres.addr, users("p"), duration).await?;
        println!(
            "round {}: embedded {e:.0} turns/s, postgres {p:.0} turns/s (ratio {:.2})",
            round + 1,
            p / e
        );
        e_rates.push(e);
        p_rates.push(p);
    }
    let (e, p) = (median(&mut e_rates), median(&mut p_rates));
    println!(
        "store (median): embedded {e:.0} turns/s, postgres {p:.0} turns/s, ratio {:.2}",
        p / e
    );
    drop(embedded);
    drop(postgres);

    // 2. Forwarding: two nodes, the load on node 1.
    let ports = [free_port()?, free_port()?];
    let seeds = format!("127.0.0.1:{},127.0.0.1:{}", ports[0], ports[1]);
    let n1 = node(agent, url, "n1", ports[0], &seeds)?;
    let _n2 = node(agent, url, "n2", ports[1], &seeds)?;
    // Wait until node 1 sees both members ready.
    let status_url = format!("http://{}/cluster", n1.addr);
    for _ in 0..200 {
        let status: serde_json::Value =
            serde_json::from_str(&client.get(&status_url).send().await?.text().await?)?;
        let ready = status["members"]
            .as_array()
            .map_or(0, |m| m.iter().filter(|m| m["state"] == "ready").count());
        if ready == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let members = ["n1", "n2"];
    // Warm the connection between the nodes before measuring.
    for user in users_owned_by(&members, "n2", 4, "warm") {
        post(&client, n1.addr, &user, &super::conversation()[0]).await?;
    }
    let (mut local, mut forwarded) = (Vec::new(), Vec::new());
    for round in 0..args.rounds.max(1) {
        let l = closed_loop_users(
            &client,
            n1.addr,
            users_owned_by(&members, "n1", connections, &format!("l{round}")),
            duration,
        )
        .await?;
        let f = closed_loop_users(
            &client,
            n1.addr,
            users_owned_by(&members, "n2", connections, &format!("f{round}")),
            duration,
        )
        .await?;
        println!(
            "round {}: local {l:.0} turns/s, forwarded {f:.0} turns/s (ratio {:.2})",
            round + 1,
            f / l
        );
        local.push(l);
        forwarded.push(f);
    }
    let (l, f) = (median(&mut local), median(&mut forwarded));
    println!(
        "forwarding (median, 2 nodes on one machine): local {l:.0} turns/s, forwarded {f:.0} \
         turns/s, ratio {:.2}",
        f / l
    );
    Ok(())
}
