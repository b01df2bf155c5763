//! A PostgreSQL server of the test's own: a cluster made by `initdb` in a temporary
//! directory, run as the `postgres` user (PostgreSQL refuses root), listening only on a Unix
//! socket in that directory (no TCP at all), stopped by its pid when dropped.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    child: Option<Child>,
}

/// The port that only names the socket (`.s.PGSQL.5432` in the cluster's own directory).
const PORT: u16 = 5432;

/// Debian's server programs (the newest version installed).
fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

/// `program` run as the `postgres` user, in this process's place (setpriv executes it, so
/// the child's pid is the program's), killed if the thread that started it ends first (a
/// test killed mid-way leaves no server behind).
fn as_postgres(program: &Path) -> Command {
    let mut command = Command::new("setpriv");
    command
        .args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--pdeathsig=KILL",
            "--",
        ])
        .arg(program);
    command
}

impl Postgres {
    /// Starts a server with a database `choir`; none (saying why) without root or without
    /// PostgreSQL (scripts/setup.sh installs it).
    pub fn start(test: &str) -> Option<Postgres> {
        if !super::root() {
            eprintln!("{test}: skipped, running PostgreSQL as its own user needs root");
            return None;
        }
        let bin = bin_dir().unwrap_or_else(|| {
            panic!("{test}: PostgreSQL is not installed (scripts/setup.sh installs it)")
        });
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let chown = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(chown.success());
        let init = as_postgres(&bin.join("initdb"))
            .args(["--auth=trust", "--no-sync", "--username=postgres", "-D"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(init.status.success(), "initdb: {init:?}");
        let mut server = Postgres {
            dir,
            bin,
            child: None,
        };
        server.run();
        let bin = &server.bin;
        let made = as_postgres(&bin.join("createdb"))
            .arg("-h")
            .arg(server.dir.path())
            .arg("-p")
            .arg(PORT.to_string())
            .arg("choir")
            .output()
            .unwrap();
        assert!(made.status.success(), "createdb: {made:?}");
        Some(server)
    }

    /// Starts the server on its cluster and waits until it takes connections.
    pub fn run(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = as_postgres(&self.bin.join("postgres"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-k")
            .arg(self.dir.path())
            .args(["-c", "listen_addresses=", "-c", "fsync=off", "-p"])
            .arg(PORT.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = as_postgres(&self.bin.join("pg_isready"))
                .arg("-h")
                .arg(self.dir.path())
                .arg("-p")
                .arg(PORT.to_string())
                .output()
                .unwrap();
            if ready.status.success() {
                return;
            }
            assert!(Instant::now() < deadline, "PostgreSQL did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (its fast shutdown: clients are disconnected), by its pid; its
    /// cluster stays, for [`run`](Self::run).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The database's URL, as `--database` takes it.
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@localhost/choir?host={}&port={PORT}",
            self.dir.path().display()
        )
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
