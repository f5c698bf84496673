//! The scripts on a Redis Cluster: three redis-server nodes started with
//! `--cluster-enabled yes` and joined by `redis-cli --cluster create`. A
//! request's keys (built by `Keys`, one hash tag) live in one slot, so
//! `gcra.lua` (a batch of that tag's requests), `lease.lua` and `pause.lua`
//! run on the node that owns the slot; a batch that mixes two tags of
//! different slots is refused by the server (`CROSSSLOT`) — which is why a
//! store on a Cluster must batch per slot (`RedisStore` talks to one node).

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use weir::Quota;
use weir_redis::keys::Keys;
use weir_redis::lease::{LeaseCall, LeaseReply};
use weir_redis::pause::pause_for;
use weir_redis::rate::run_batch;
use weir_redis::{Cell, RateCall};

struct Cluster {
    nodes: Vec<(u16, Child)>,
    dir: std::path::PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Cluster {
    /// Three masters owning every slot, or `None` when redis-server or
    /// redis-cli is missing.
    fn start() -> Option<Cluster> {
        support::RedisServer::start()?; // checks redis-server is installed
        if Command::new("redis-cli")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            eprintln!("SKIPPED: redis-cli is not installed");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("weir-cluster-{}", support::free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cluster = Cluster {
            nodes: Vec::new(),
            dir,
        };
        for _ in 0..3 {
            // Cluster nodes also listen on port + 10000: keep both free.
            let port = loop {
                let p = support::free_port();
                if p < 55_000 {
                    break p;
                }
            };
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .arg("--dir")
                .arg(&cluster.dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            cluster.nodes.push((port, child));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for (port, _) in &cluster.nodes {
            while std::net::TcpStream::connect(("127.0.0.1", *port)).is_err() {
                assert!(Instant::now() < deadline, "node {port} did not listen");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let addrs: Vec<String> = cluster
            .nodes
            .iter()
            .map(|(p, _)| format!("127.0.0.1:{p}"))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli --cluster create");
        assert!(
            out.status.success(),
            "cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        Some(cluster)
    }

    fn url(&self, port: u16) -> String {
        format!("redis://127.0.0.1:{port}/")
    }

    async fn connect(&self, port: u16) -> MultiplexedConnection {
        redis::Client::open(self.url(port))
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    /// Waits for `cluster_state:ok` on every node.
    async fn ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        for (port, _) in &self.nodes {
            let mut con = self.connect(*port).await;
            loop {
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query_async(&mut con)
                    .await
                    .unwrap();
                if info.contains("cluster_state:ok") {
                    break;
                }
                assert!(Instant::now() < deadline, "cluster not ok: {info}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    /// `key`'s slot.
    async fn slot(&self, key: &str) -> i64 {
        let mut con = self.connect(self.nodes[0].0).await;
        redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query_async(&mut con)
            .await
            .unwrap()
    }

    /// The port of the node owning `key`'s slot.
    async fn owner(&self, key: &str) -> u16 {
        let slot = self.slot(key).await;
        let mut con = self.connect(self.nodes[0].0).await;
        // [[start, end, [host, port, id], ...], ...]
        let ranges: Vec<(i64, i64, (String, i64))> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async::<Vec<redis::Value>>(&mut con)
            .await
            .unwrap()
            .into_iter()
            .map(|range| {
                let redis::Value::Array(items) = range else {
                    panic!("CLUSTER SLOTS: {range:?}")
                };
                let int = |v: &redis::Value| match v {
                    redis::Value::Int(n) => *n,
                    other => panic!("CLUSTER SLOTS: {other:?}"),
                };
                let redis::Value::Array(node) = &items[2] else {
                    panic!("CLUSTER SLOTS: {items:?}")
                };
                (
                    int(&items[0]),
                    int(&items[1]),
                    (String::new(), int(&node[1])),
                )
            })
            .collect();
        let (_, _, (_, port)) = ranges
            .into_iter()
            .find(|(a, b, _)| (*a..=*b).contains(&slot))
            .expect("every slot is owned");
        u16::try_from(port).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scripts_run_on_a_cluster_when_a_requests_keys_share_a_tag() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    cluster.ready().await;
    // Per-key-only limits: each key has its own tag, `{prefix<key>}`, so
    // keys spread over the nodes.
    let keys = Keys::new("fleet:", false);
    let quota = Quota::per_second(10).unwrap().with_burst(3).unwrap();
    let mut owners = std::collections::BTreeSet::new();
    for host in [
        "a.example",
        "b.example",
        "c.example",
        "d.example",
        "e.example",
    ] {
        let cells = [Cell {
            key: keys.key_rate(host, &quota),
            quota,
        }];
        let pauses = [keys.pause(host)];
        let owner = cluster.owner(&cells[0].key).await;
        assert_eq!(owner, cluster.owner(&pauses[0]).await, "one tag, one slot");
        owners.insert(owner);
        let mut con = cluster.connect(owner).await;
        // A batch of five of this host's requests: burst 3.
        let call = RateCall {
            cells: &cells,
            pauses: &pauses,
            cost: 1,
            commit: true,
            figures: true,
            now: None,
            ttl_slack_ms: 1000,
        };
        let replies = run_batch(&[call; 5], &mut con)
            .await
            .expect("gcra.lua on its node");
        let admitted: Vec<bool> = replies.iter().map(|r| r.admitted).collect();
        assert_eq!(admitted, [true, true, true, false, false], "{host}");
        // A lease in the host's set, and a pause, on the same node.
        let sets = [keys.key_leases(host)];
        let lease = LeaseCall {
            sets: &sets,
            caps: &[1],
            id: "p1",
            cost: 1,
            lease: Duration::from_secs(5),
            channel: "",
            now_ms: None,
        };
        assert!(matches!(
            lease.acquire(&mut con).await.unwrap(),
            LeaseReply::Granted { .. }
        ));
        let until = pause_for(
            &mut con,
            &pauses[0],
            Duration::from_secs(1),
            true,
            None,
            1000,
        )
        .await
        .unwrap();
        assert!(until > weir::Instant::ZERO);
    }
    assert!(
        owners.len() >= 2,
        "the hosts spread over the nodes: {owners:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_across_slots_is_refused_by_the_cluster() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    cluster.ready().await;
    let keys = Keys::new("fleet:", false);
    let quota = Quota::per_second(10).unwrap();
    // Two hosts whose tags hash to different slots.
    let cell = |host: &str| Cell {
        key: keys.key_rate(host, &quota),
        quota,
    };
    let (a, b) = (cell("a.example"), cell("b.example"));
    assert_ne!(cluster.slot(&a.key).await, cluster.slot(&b.key).await);
    let owner = cluster.owner(&a.key).await;
    let mut con = cluster.connect(owner).await;
    let (ca, cb) = ([a], [b]);
    let call = |cells| RateCall {
        cells,
        pauses: &[],
        cost: 1,
        commit: true,
        figures: false,
        now: None,
        ttl_slack_ms: 1000,
    };
    let err = run_batch(&[call(&ca), call(&cb)], &mut con)
        .await
        .expect_err("keys of two slots in one script");
    let text = err.to_string();
    assert!(text.to_uppercase().contains("CROSSSLOT"), "{text}");
}
