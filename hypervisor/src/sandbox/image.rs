//! `choir-hypervisor image build`: the sandbox image, `choir-sandbox:<version>`, made from a
//! root filesystem (`scripts/build-sandbox-rootfs.sh` makes one from Debian's packages) and
//! this build's `choir-daemon` and `choir`, imported into each Docker engine. No registry is
//! involved.

use std::path::Path;

use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;

use super::docker::{connect, image_name};

/// Writes the image's layer to `out`: `rootfs` as it is (links kept as links), the two
/// programs in `/usr/local/bin`, and the mount points the containers use.
fn layer(rootfs: &Path, daemon: &Path, choir: &Path, out: &Path) -> std::io::Result<()> {
    let file = std::fs::File::create(out)?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
    tar.follow_symlinks(false);
    // Modes as they are: /tmp stays 1777 (a tmpfs mounted there takes the mode of the
    // image's directory).
    tar.mode(tar::HeaderMode::Complete);
    tar.append_dir_all(".", rootfs)?;
    for (program, name) in [(daemon, "choir-daemon"), (choir, "choir")] {
        let mut header = tar::Header::new_gnu();
        let bytes = std::fs::read(program)?;
        header.set_size(bytes.len() as u64);
        header.set_mode(0o755);
        header.set_cksum();
        tar.append_data(
            &mut header,
            format!("usr/local/bin/{name}"),
            bytes.as_slice(),
        )?;
    }
    tar.into_inner()?
        .into_inner()
        .map_err(|err| err.into_error())?;
    Ok(())
}

/// Builds the image from `rootfs` and imports it into every engine; returns its name.
pub async fn build(
    engines: &[String],
    rootfs: &Path,
    daemon: &Path,
    choir: &Path,
) -> Result<String, String> {
    if !rootfs.join("bin").exists() && !rootfs.join("usr/bin").exists() {
        return Err(format!(
            "{} is not a root filesystem (no bin or usr/bin): make one with scripts/build-sandbox-rootfs.sh",
            rootfs.display()
        ));
    }
    let dir = tempfile::tempdir().map_err(|err| err.to_string())?;
    let tar_path = dir.path().join("layer.tar");
    let (rootfs_, daemon_, choir_, tar_) = (
        rootfs.to_owned(),
        daemon.to_owned(),
        choir.to_owned(),
        tar_path.clone(),
    );
    tokio::task::spawn_blocking(move || layer(&rootfs_, &daemon_, &choir_, &tar_))
        .await
        .map_err(|err| err.to_string())?
        .map_err(|err| format!("cannot pack the image: {err}"))?;
    let name = image_name();
    let (repo, tag) = name.split_once(':').unwrap_or((&name, "latest"));
    for url in engines {
        // The engine answers once the whole import is done: minutes on a slow disk.
        let docker = connect(url)
            .await?
            .with_timeout(std::time::Duration::from_secs(30 * 60));
        let file = tokio::fs::File::open(&tar_path)
            .await
            .map_err(|err| err.to_string())?;
        let body = bollard::body_try_stream(tokio_util::io::ReaderStream::new(file));
        let options = CreateImageOptionsBuilder::default()
            .from_src("-")
            .repo(repo)
            .tag(tag)
            .build();
        let mut progress = docker.create_image(Some(options), Some(body), None);
        while let Some(step) = progress.next().await {
            step.map_err(|err| format!("{url}: the import failed: {err}"))?;
        }
        eprintln!("{name}: imported into {url}");
    }
    Ok(name)
}
