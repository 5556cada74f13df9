//! The tool contract: [`Tool`], its [`ToolContext`], and the [`ToolRegistry`] that maps tool
//! types to implementations. A tool fails with a [`ToolError`].

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::run::ToolError;

/// A tool: an async function from an input JSON value to an output JSON value.
///
/// ```
/// use orchestrace::{Tool, ToolContext, ToolError};
/// use serde_json::{json, Value};
///
/// struct Greet;
///
/// #[orchestrace::async_trait]
/// impl Tool for Greet {
///     async fn call(&self, input: Value, _ctx: &ToolContext) -> Result<Value, ToolError> {
///         let name = input["name"].as_str().ok_or_else(|| ToolError::new("name is required"))?;
///         Ok(json!({"greeting": format!("hello {name}")}))
///     }
/// }
/// ```
#[async_trait]
pub trait Tool: Send + Sync + 'static {
    /// Runs the tool once. The executor handles timeouts, retries, fallback and caching.
    async fn call(&self, input: Value, ctx: &ToolContext) -> Result<Value, ToolError>;
}

/// What a tool knows about the call it is serving.
#[derive(Debug, Clone)]
pub struct ToolContext {
    // Shared, so that a tool which keeps its context (a `register_fn` closure gets its own)
    // costs reference counts, not a copy of each string and a span handle (which is one
    // dispatch through every layer to clone and another to drop).
    pub(crate) tool_id: Arc<str>,
    pub(crate) tool_type: Arc<str>,
    pub(crate) attempt: u32,
    pub(crate) span: Arc<tracing::Span>,
}

impl ToolContext {
    /// A context for calling a tool outside an orchestrated run (tests, benchmarks).
    pub fn detached(tool_id: impl Into<String>, tool_type: impl Into<String>) -> Self {
        ToolContext {
            tool_id: Arc::from(tool_id.into()),
            tool_type: Arc::from(tool_type.into()),
            attempt: 0,
            span: Arc::new(tracing::Span::none()),
        }
    }

    /// The plan's id for this tool.
    pub fn tool_id(&self) -> &str {
        &self.tool_id
    }

    /// The tool type being called (the fallback's type when the fallback runs).
    pub fn tool_type(&self) -> &str {
        &self.tool_type
    }

    /// 0 for the first attempt, then 1, 2, … for retries; the fallback continues the count.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The `execute_tool` span of this call; spans the tool opens are its children.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Writes this call's W3C trace context (`traceparent`, and `tracestate` when there is
    /// one) into `carrier` — the headers of an HTTP request, gRPC metadata, message headers —
    /// so the remote service's spans become children of this tool's span. Returns `false`,
    /// writing nothing, when the call is not traced (no OpenTelemetry layer, a detached
    /// context). See [`propagation::inject`](crate::propagation::inject).
    ///
    /// ```
    /// use orchestrace::{Tool, ToolContext, ToolError};
    /// use serde_json::{json, Value};
    ///
    /// struct Remote;
    ///
    /// #[orchestrace::async_trait]
    /// impl Tool for Remote {
    ///     async fn call(&self, input: Value, ctx: &ToolContext) -> Result<Value, ToolError> {
    ///         let mut headers = http::HeaderMap::new();
    ///         ctx.inject(&mut headers);
    ///         // … send the request with these headers …
    ///         Ok(json!({"sent": input, "traced": headers.contains_key("traceparent")}))
    ///     }
    /// }
    /// ```
    pub fn inject<C>(&self, carrier: &mut C) -> bool
    where
        C: crate::propagation::InjectCarrier + ?Sized,
    {
        crate::propagation::inject(&self.span, carrier)
    }
}

struct FnTool<F>(F);

#[async_trait]
impl<F, Fut> Tool for FnTool<F>
where
    F: Fn(Value, ToolContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, ToolError>> + Send + 'static,
{
    async fn call(&self, input: Value, ctx: &ToolContext) -> Result<Value, ToolError> {
        (self.0)(input, ctx.clone()).await
    }
}

/// Tool types by name.
#[derive(Clone, Default)]
pub struct ToolRegistry {
    tools: BTreeMap<String, Arc<dyn Tool>>,
}

impl fmt::Debug for ToolRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.tools.keys()).finish()
    }
}

impl ToolRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or replaces) a tool type.
    pub fn register(&mut self, name: impl Into<String>, tool: impl Tool) -> &mut Self {
        self.tools.insert(name.into(), Arc::new(tool));
        self
    }

    /// Registers an async closure as a tool type.
    pub fn register_fn<F, Fut>(&mut self, name: impl Into<String>, f: F) -> &mut Self
    where
        F: Fn(Value, ToolContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, ToolError>> + Send + 'static,
    {
        self.register(name, FnTool(f))
    }

    /// Whether a tool type is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.tools.contains_key(name)
    }

    /// The registered tool type names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tools.keys().map(String::as_str)
    }

    pub(crate) fn get(&self, name: &str) -> Option<Arc<dyn Tool>> {
        self.tools.get(name).cloned()
    }
}
