//! A PostgreSQL cluster of a test's own, for the fault suite: unlike the shared cluster of
//! `make test`, it can be frozen (SIGSTOP), stopped and restarted, and have its connections
//! killed, without disturbing any other test.
//!
//! The server binaries come from `TICKWATCH_TEST_PG_BIN` (set by `make test`). As root, the
//! cluster runs as the `postgres` user, as `scripts/lib/postgres.sh` runs it.

use std::path::{Path, PathBuf};
use std::process::Output;

use tokio::process::Command;

/// A running (or deliberately broken) throwaway cluster. Dropping it thaws and stops it.
#[derive(Debug)]
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_root: bool,
    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub url: String,
}

fn bin_dir() -> PathBuf {
    std::env::var_os("TICKWATCH_TEST_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!("TICKWATCH_TEST_PG_BIN is not set: run the tests with `make test`, which finds the PostgreSQL server binaries")
        })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn run(command: &mut Command, what: &str) -> Output {
    let output = command
        .output()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

impl Cluster {
    /// Initialises and starts a cluster on a free loopback port (about a second).
    pub async fn start() -> Self {
        crate::init_logging();
        let as_root = run(Command::new("id").arg("-u"), "id -u").await.stdout == b"0\n";
        let dir = tempfile::Builder::new()
            .prefix("tickwatch-fault-")
            .tempdir()
            .expect("a temporary directory");
        if as_root {
            run(
                Command::new("chown").arg("postgres").arg(dir.path()),
                "chown postgres",
            )
            .await;
        }
        let port = free_port();
        let cluster = Self {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            dir,
            bin: bin_dir(),
            port,
            as_root,
        };
        let data = cluster.data();
        run(
            &mut cluster.command(
                "initdb",
                &[
                    "-D",
                    &data,
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
            ),
            "initdb",
        )
        .await;
        cluster.start_again().await;
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let path = self.bin.join(program);
        let mut command = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        command.args(args).kill_on_drop(true);
        command
    }

    /// Starts the (stopped) server again on the same port and data.
    pub async fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        let data = self.data();
        run(
            &mut self.command(
                "pg_ctl",
                &[
                    "-D", &data, "-l", &log, "-w", "-t", "30", "-o", &options, "start",
                ],
            ),
            "pg_ctl start",
        )
        .await;
    }

    /// Stops the server (fast shutdown: sessions are ended, as in a restart).
    pub async fn stop(&self) {
        let data = self.data();
        run(
            &mut self.command("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]),
            "pg_ctl stop",
        )
        .await;
    }

    fn running_postmaster(&self) -> Option<u32> {
        std::fs::read_to_string(Path::new(&self.data()).join("postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next().and_then(|l| l.trim().parse().ok()))
    }

    /// The postmaster's process id.
    pub fn postmaster(&self) -> u32 {
        self.running_postmaster()
            .unwrap_or_else(|| panic!("no running postmaster in {}", self.data()))
    }

    /// The postmaster and every process it started (backends and background workers).
    pub fn processes(&self) -> Vec<u32> {
        processes_of(self.postmaster())
    }

    /// Sends `signal` to `pids`; a process that has exited meanwhile (a session ending) is no
    /// error, but the postmaster must get it.
    async fn signal(&self, signal: &str, pids: &[u32]) {
        for pid in pids {
            let status = Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(pid.to_string())
                .output()
                .await
                .expect("kill");
            assert!(
                status.status.success() || *pid != self.postmaster(),
                "kill -{signal} {pid} (the postmaster) failed"
            );
        }
    }

    /// Freezes the whole server (SIGSTOP to the postmaster and every backend): connections stay
    /// open and the kernel still accepts bytes, but nothing answers.
    pub async fn freeze(&self) {
        self.signal("STOP", &self.processes()).await;
    }

    /// Freezes only the postmaster: open sessions keep working, new connections hang.
    pub async fn freeze_postmaster(&self) {
        self.signal("STOP", &[self.postmaster()]).await;
    }

    /// Undoes [`Cluster::freeze`] and [`Cluster::freeze_postmaster`].
    pub async fn thaw(&self) {
        self.signal("CONT", &self.processes()).await;
    }

    /// Ends every session the library opened (`application_name = 'tickwatch'`), as an
    /// administrator's `pg_terminate_backend` or a failover would; returns how many.
    pub async fn kill_connections(&self) -> i64 {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .expect("an administrator's connection");
        let task = tokio::spawn(connection);
        let killed: i64 = client
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE application_name = 'tickwatch' AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .expect("terminate the sessions")
            .get(0);
        drop(client);
        let _ = task.await;
        killed
    }
}

/// `postmaster` and the processes whose parent it is.
fn processes_of(postmaster: u32) -> Vec<u32> {
    let mut pids = vec![postmaster];
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces.
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if parent == Some(postmaster) {
            pids.push(pid);
        }
    }
    pids
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Best effort, synchronously: a test that panicked may have left the server frozen.
        if let Some(postmaster) = self.running_postmaster() {
            let _ = std::process::Command::new("kill")
                .arg("-CONT")
                .args(processes_of(postmaster).iter().map(u32::to_string))
                .status();
            let path = self.bin.join("pg_ctl");
            let data = self.data();
            let args = ["-D", data.as_str(), "-m", "immediate", "-w", "stop"];
            let _ = if self.as_root {
                std::process::Command::new("runuser")
                    .args(["-u", "postgres", "--"])
                    .arg(&path)
                    .args(args)
                    .output()
            } else {
                std::process::Command::new(&path).args(args).output()
            };
        }
    }
}
