//! The system calls a process sandbox may not make, refused by a seccomp filter that
//! `confine` installs last, after `no_new_privs` (every process of the sandbox inherits it):
//! what would let it leave its namespaces or make new ones, reach the kernel's larger attack
//! surfaces (keyrings, BPF, perf, userfaultfd, io_uring), mount, load or replace a kernel, or
//! trace a process it did not start. A refused call fails with `EPERM`, so programs see an
//! ordinary error; `clone3` fails with `ENOSYS` (its flags cannot be inspected), which makes
//! the C library fall back to `clone`, whose flags are.

use std::collections::BTreeMap;

use nix::libc;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// Calls refused whatever their arguments.
const REFUSED: &[i64] = &[
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    libc::SYS_syslog,
    libc::SYS_vhangup,
    libc::SYS_process_vm_writev,
    libc::SYS_lookup_dcookie,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_iopl,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_ioperm,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_uselib,
];

/// `clone` flags that make a namespace.
const NAMESPACE_FLAGS: &[u64] = &[
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWNET as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWCGROUP as u64,
    libc::CLONE_NEWTIME as u64,
];

/// `ptrace` requests that take hold of a running process (a process may still ask to be
/// traced by its parent, as a debugger starting a program does).
const PTRACE_TAKE: &[u64] = &[libc::PTRACE_ATTACH as u64, libc::PTRACE_SEIZE as u64];

#[derive(Debug, thiserror::Error)]
#[error("the seccomp filter: {0}")]
pub struct SyscallError(String);

fn arch() -> Result<TargetArch, SyscallError> {
    if cfg!(target_arch = "x86_64") {
        Ok(TargetArch::x86_64)
    } else if cfg!(target_arch = "aarch64") {
        Ok(TargetArch::aarch64)
    } else {
        Err(SyscallError(format!(
            "no filter for {}",
            std::env::consts::ARCH
        )))
    }
}

fn error(err: impl std::fmt::Display) -> SyscallError {
    SyscallError(err.to_string())
}

/// A rule matching argument `arg` with every bit of `bits` set.
fn has_bits(arg: u8, bits: u64) -> Result<SeccompRule, SyscallError> {
    SeccompRule::new(vec![SeccompCondition::new(
        arg,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(bits),
        bits,
    )
    .map_err(error)?])
    .map_err(error)
}

/// A rule matching argument `arg` equal to `value`.
fn equals(arg: u8, value: u64) -> Result<SeccompRule, SyscallError> {
    SeccompRule::new(vec![SeccompCondition::new(
        arg,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::Eq,
        value,
    )
    .map_err(error)?])
    .map_err(error)
}

/// The two filters: refused calls (`EPERM`), and `clone3` (`ENOSYS`).
fn filters() -> Result<[BpfProgram; 2], SyscallError> {
    let arch = arch()?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        REFUSED.iter().map(|call| (*call, Vec::new())).collect();
    rules.insert(
        libc::SYS_clone,
        NAMESPACE_FLAGS
            .iter()
            .map(|flag| has_bits(0, *flag))
            .collect::<Result<_, _>>()?,
    );
    rules.insert(
        libc::SYS_ptrace,
        PTRACE_TAKE
            .iter()
            .map(|request| equals(0, *request))
            .collect::<Result<_, _>>()?,
    );
    let refused = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(error)?;
    let clone3 = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(error)?;
    Ok([
        refused.try_into().map_err(error)?,
        clone3.try_into().map_err(error)?,
    ])
}

/// Installs the filters on this thread (then inherited across exec and by every child).
/// Needs `no_new_privs` (or root).
pub fn restrict() -> Result<(), SyscallError> {
    for program in filters()? {
        seccompiler::apply_filter(&program).map_err(error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filters_build_for_this_machine() {
        let [refused, clone3] = filters().unwrap();
        assert!(refused.len() > REFUSED.len());
        assert!(!clone3.is_empty());
    }

    /// On a thread of its own (a filter stays with the thread that installs it): refused calls
    /// fail with EPERM, ordinary ones still work.
    #[test]
    fn a_filtered_thread_cannot_make_a_namespace_but_works_otherwise() {
        let outcome = std::thread::spawn(|| {
            nix::sys::prctl::set_no_new_privs().unwrap();
            restrict().unwrap();
            let unshare = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER);
            let keyring = std::fs::read_to_string("/proc/self/status").map(|_| ());
            (unshare, keyring)
        })
        .join()
        .unwrap();
        assert_eq!(outcome.0, Err(nix::Error::EPERM));
        assert!(outcome.1.is_ok());
    }
}
