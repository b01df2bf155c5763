//! The sandbox workspace: the one directory tools may touch.

use std::path::{Component, Path, PathBuf};

use thiserror::Error;

/// Why a path was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum WorkspaceError {
    #[error("`{0}` is absolute; paths are relative to the workspace")]
    Absolute(String),
    #[error("`{0}` climbs out with `..`; paths must stay inside the workspace")]
    ParentDir(String),
    #[error("`{0}` leads outside the workspace (through a symbolic link)")]
    Escapes(String),
    #[error("`{path}`: {reason}")]
    Unresolvable { path: String, reason: String },
}

/// The workspace root, canonical.
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    pub fn new(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root)?;
        Ok(Self {
            root: root.canonicalize()?,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The absolute path of `relative` inside the workspace. Absolute paths, `..` and symbolic
    /// links that lead outside are refused; the path itself need not exist yet.
    pub fn resolve(&self, relative: &str) -> Result<PathBuf, WorkspaceError> {
        let path = Path::new(relative);
        if path.is_absolute() {
            return Err(WorkspaceError::Absolute(relative.to_owned()));
        }
        if path.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(WorkspaceError::ParentDir(relative.to_owned()));
        }
        let joined = self.root.join(path);
        // Canonicalize the longest prefix that exists (following its links), then append
        // the rest, which cannot contain links because it does not exist.
        let mut existing = joined.clone();
        let mut missing = Vec::new();
        while std::fs::symlink_metadata(&existing).is_err() {
            match existing.file_name() {
                Some(name) => missing.push(name.to_owned()),
                None => break,
            }
            if !existing.pop() {
                break;
            }
        }
        let canonical = existing.canonicalize().map_err(|err| {
            // A link whose target does not exist.
            WorkspaceError::Unresolvable {
                path: relative.to_owned(),
                reason: err.to_string(),
            }
        })?;
        if !canonical.starts_with(&self.root) {
            return Err(WorkspaceError::Escapes(relative.to_owned()));
        }
        Ok(missing
            .into_iter()
            .rev()
            .fold(canonical, |path, name| path.join(name)))
    }

    /// `absolute` as a path relative to the workspace, for output.
    pub fn relative(&self, absolute: &Path) -> String {
        absolute
            .strip_prefix(&self.root)
            .unwrap_or(absolute)
            .display()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = Workspace::new(&dir.path().join("ws")).unwrap();
        std::fs::create_dir_all(workspace.root().join("notes")).unwrap();
        std::os::unix::fs::symlink("/etc", workspace.root().join("etc-link")).unwrap();
        std::os::unix::fs::symlink("notes", workspace.root().join("inside-link")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/x", workspace.root().join("dangling")).unwrap();

        assert!(matches!(
            workspace.resolve("/etc/passwd"),
            Err(WorkspaceError::Absolute(_))
        ));
        assert!(matches!(
            workspace.resolve("../x"),
            Err(WorkspaceError::ParentDir(_))
        ));
        assert!(matches!(
            workspace.resolve("notes/../../x"),
            Err(WorkspaceError::ParentDir(_))
        ));
        assert!(matches!(
            workspace.resolve("etc-link/passwd"),
            Err(WorkspaceError::Escapes(_))
        ));
        assert!(matches!(
            workspace.resolve("etc-link"),
            Err(WorkspaceError::Escapes(_))
        ));
        assert!(matches!(
            workspace.resolve("dangling"),
            Err(WorkspaceError::Unresolvable { .. })
        ));

        assert_eq!(
            workspace.resolve("notes/a.md").unwrap(),
            workspace.root().join("notes/a.md")
        );
        assert_eq!(
            workspace.resolve("new/dir/b.md").unwrap(),
            workspace.root().join("new/dir/b.md")
        );
        assert_eq!(
            workspace.resolve("inside-link/c").unwrap(),
            workspace.root().join("notes/c")
        );
        assert_eq!(workspace.resolve(".").unwrap(), workspace.root());
    }
}
