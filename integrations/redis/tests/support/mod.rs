//! A real redis-server for the tests: started on a free 127.0.0.1 port with
//! no persistence, stopped (killed) when dropped.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running redis-server owned by one test.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Start one, or `None` (with a message on stderr) when `redis-server` is
    /// not installed — `scripts/setup.sh` installs it.
    pub fn start() -> Option<RedisServer> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            eprintln!("SKIPPED: redis-server is not installed (run scripts/setup.sh)");
            return None;
        }
        // A port another server took between `free_port` and the bind (tests
        // run in parallel) makes this server exit: try another port.
        for _ in 0..5 {
            let mut server = RedisServer {
                port: free_port(),
                child: None,
            };
            if server.try_spawn() {
                return Some(server);
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    fn spawn(&mut self) {
        assert!(
            self.try_spawn(),
            "redis-server did not start again on {}",
            self.port
        );
    }

    /// Start the server on `self.port`; `false` when it exited instead
    /// (its port was taken). The port answering is not enough: it must be
    /// this child that answers, so the child is checked to be alive after.
    fn try_spawn(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None; // exited: the port was taken
                return false;
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                // Listening, unless it is another server and ours is about
                // to exit on the bind error: give it a moment to show that.
                std::thread::sleep(Duration::from_millis(20));
                if let Some(Ok(Some(_))) = self.child.as_mut().map(Child::try_wait) {
                    self.child = None;
                    return false;
                }
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Kill the server (SIGKILL): every key is gone, as after a crash.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start it again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// SIGSTOP / SIGCONT the server.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
        }
        self.stop();
    }
}

/// A free port no other server of this test binary was given (the OS may
/// hand a just-released port out again).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind(("127.0.0.1", 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A `SharedLimiter` on its own connection to `url` (one process of a
/// fleet), with the given store options, limits and failure policy.
pub fn shared_limiter(
    url: &str,
    options: weir_redis::StoreOptions,
    limits: weir::LimiterConfig,
    policy: weir_redis::FailurePolicy,
) -> std::sync::Arc<weir_redis::SharedLimiter> {
    let store = weir_redis::RedisStore::new(redis::Client::open(url).unwrap(), options).unwrap();
    std::sync::Arc::new(
        weir_redis::SharedLimiter::new(
            store,
            weir_redis::SharedConfig {
                limits,
                on_store_error: policy,
                local_share: 1,
            },
        )
        .unwrap(),
    )
}

/// [`shared_limiter`] with the closed policy (a store failure denies).
pub fn closed_limiter(
    url: &str,
    options: weir_redis::StoreOptions,
    limits: weir::LimiterConfig,
) -> std::sync::Arc<weir_redis::SharedLimiter> {
    shared_limiter(url, options, limits, weir_redis::FailurePolicy::Closed)
}
