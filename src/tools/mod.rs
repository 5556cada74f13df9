//! The built-in tools, registered by [`ToolRegistry::with_builtins`].

mod builtins;
#[cfg(feature = "http-tool")]
mod http;

use crate::execute::ToolRegistry;

impl ToolRegistry {
    /// A registry holding the built-in tools: `echo`, `sleep`, `fail`, `ci_lookup`,
    /// `ci_aggregate`, and `http` (with the `http-tool` feature).
    pub fn with_builtins() -> Self {
        let mut r = Self::new();
        builtins::register(&mut r);
        #[cfg(feature = "http-tool")]
        r.register("http", http::Http::default());
        r
    }
}
