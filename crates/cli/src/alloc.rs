//! One heap arena for the whole process (glibc).
//!
//! glibc gives threads arenas of their own (up to eight a core). The run allocates on the
//! runtime's worker threads and the views are drawn on the main thread, so memory the run
//! freed cannot serve the views, and peak RSS becomes the sum of both peaks. With one arena, a
//! 50,000-tool run with views peaks at 359 MB instead of 489 MB, and 127 MB instead of 148 MB
//! with `--view none`, at the same speed (`benches/README.md`). An arena limit in the
//! environment (`MALLOC_ARENA_MAX`, `GLIBC_TUNABLES=glibc.malloc.arena_max=N`) is left to
//! glibc.

/// Limits the process to one heap arena unless the environment says otherwise.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn one_arena() {
    let tuned = std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("arena_max"));
    if tuned || std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    // SAFETY: `mallopt` only sets an allocator parameter; it is called before any thread of
    // ours exists, and M_ARENA_MAX takes any positive value.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Other platforms keep their allocator's defaults.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn one_arena() {}
