//! Span names and attribute keys, named after the conventions they follow: the OpenTelemetry
//! GenAI conventions (`gen_ai.*`), the general ones (`error.type`) and ours
//! (`orchestration.*`). The inspector reads traces back through these same constants.
//!
//! The GenAI names are kept here rather than taken from the `opentelemetry-semantic-conventions`
//! crate, which marks every `GEN_AI_*` constant deprecated while the GenAI conventions are
//! maintained in their own repository. [`GEN_AI_SEMCONV_VERSION`] names the state of those
//! conventions this crate follows; all of them are at "development" stability.
//!
//! Span kinds, by the GenAI conventions' span definitions:
//!
//! | span | definition | `gen_ai.operation.name` | name |
//! |---|---|---|---|
//! | root of a [`Runner`](crate::Runner) run | `gen_ai.invocation.internal` | `invoke_workflow` | `invoke_workflow {gen_ai.workflow.name}` |
//! | ROUTE+PLAN stage | `gen_ai.plan.internal` | `plan` | `plan` |
//! | a tool | `gen_ai.execute_tool.internal` | `execute_tool` | `execute_tool {gen_ai.tool.name}` |

/// The GenAI semantic conventions followed: the `semantic-conventions-genai` repository at
/// its development state of 2026 (it has made no release yet), including the proposed DAG
/// edge attributes [`GEN_AI_NODE_EXECUTION_ID`] / [`GEN_AI_NODE_PREVIOUS_EXECUTION_ID`].
pub const GEN_AI_SEMCONV_VERSION: &str = "semantic-conventions-genai/development-2026";

/// `gen_ai.operation.name`: `invoke_workflow` on the root span, `plan` on the ROUTE+PLAN
/// stage, `execute_tool` on tool spans.
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
/// `gen_ai.workflow.name`: the workflow (plan) name on the root span.
pub const GEN_AI_WORKFLOW_NAME: &str = "gen_ai.workflow.name";
/// `gen_ai.tool.name`: the tool type.
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
/// `gen_ai.invocation.is_nested`: on the root span, whether the run is nested in a host's own
/// `invoke_workflow` / `invoke_agent` span.
pub const GEN_AI_INVOCATION_IS_NESTED: &str = "gen_ai.invocation.is_nested";
/// `gen_ai.tool.type`: [`TOOL_TYPE_FUNCTION`] or [`TOOL_TYPE_EXTENSION`] (see [`tool_type`]).
pub const GEN_AI_TOOL_TYPE: &str = "gen_ai.tool.type";
/// `gen_ai.tool.description` (recommended): not emitted, since neither a plan's tool nor a
/// registered [`Tool`](crate::Tool) carries a description.
pub const GEN_AI_TOOL_DESCRIPTION: &str = "gen_ai.tool.description";
/// `gen_ai.node.execution.id` (proposed; opt-in, see
/// [`TelemetryConfig::with_node_ids`](crate::content::TelemetryConfig::with_node_ids)): the
/// plan's tool id, unique within a run.
pub const GEN_AI_NODE_EXECUTION_ID: &str = "gen_ai.node.execution.id";
/// `gen_ai.node.previous_execution.id` (proposed; opt-in): string array of the tool ids
/// whose output fed this tool through its data-flow mappings.
pub const GEN_AI_NODE_PREVIOUS_EXECUTION_ID: &str = "gen_ai.node.previous_execution.id";
/// `gen_ai.tool.call.id`: the plan's tool id.
pub const GEN_AI_TOOL_CALL_ID: &str = "gen_ai.tool.call.id";
/// `gen_ai.tool.call.arguments`: the tool input (content capture only).
pub const GEN_AI_TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
/// `gen_ai.tool.call.result`: the tool output (content capture only).
pub const GEN_AI_TOOL_CALL_RESULT: &str = "gen_ai.tool.call.result";
/// `error.type`: the class of a failure.
pub const ERROR_TYPE: &str = "error.type";

/// Operation name of tool spans.
pub const OP_EXECUTE_TOOL: &str = "execute_tool";
/// Operation name of the root span.
pub const OP_INVOKE_WORKFLOW: &str = "invoke_workflow";
/// Operation name of an enclosing agent span (a host's), which makes a run nested.
pub const OP_INVOKE_AGENT: &str = "invoke_agent";
/// Operation name of the ROUTE+PLAN stage span.
pub const OP_PLAN: &str = "plan";

/// [`GEN_AI_TOOL_TYPE`] of a tool that runs in the process.
pub const TOOL_TYPE_FUNCTION: &str = "function";
/// [`GEN_AI_TOOL_TYPE`] of a tool that calls out to another service.
pub const TOOL_TYPE_EXTENSION: &str = "extension";

/// The [`GEN_AI_TOOL_TYPE`] of a registered tool type: the built-in `http` tool calls another
/// service and is an `extension`; every other tool is taken to run in the process, a
/// `function`. (Registrations carry no type of their own.)
pub fn tool_type(tool: &str) -> &'static str {
    match tool {
        "http" => TOOL_TYPE_EXTENSION,
        _ => TOOL_TYPE_FUNCTION,
    }
}

/// The pipeline stage (`route_plan`, `validate`, `execute`, `compose`, `present`).
pub const STAGE: &str = "orchestration.stage";
/// The plan's tool id.
pub const TOOL_ID: &str = "orchestration.tool_id";
/// The asset a tool or stage used.
pub const ASSET_ID: &str = "orchestration.asset_id";
/// The plan's id.
pub const PLAN_ID: &str = "orchestration.plan_id";
/// `parallel`, `serial` or `dag`.
pub const EXECUTION_STRATEGY: &str = "orchestration.execution_strategy";
/// Level (execution group) index.
pub const EXECUTION_GROUP: &str = "orchestration.execution_group";
/// `parallel` or `serial`, on level spans.
pub const EXECUTION_MODE: &str = "orchestration.execution_mode";
/// Position in the planned order.
pub const EXECUTION_ORDER_INDEX: &str = "orchestration.execution_order_index";
/// Other tools of the same group (string array).
pub const PARALLEL_WITH: &str = "orchestration.parallel_with";
/// How many other tools the group has, set (instead of [`PARALLEL_WITH`]) when there are more
/// than [`MAX_PARALLEL_WITH`].
pub const PARALLEL_WITH_COUNT: &str = "orchestration.parallel_with_count";
/// The most ids [`PARALLEL_WITH`] lists. A tool of a larger level carries no
/// [`PARALLEL_WITH`], only [`PARALLEL_WITH_COUNT`]: its level span lists the level's members
/// once ([`GROUP_TOOLS`]), and a reader derives the others from it. Repeating them on every
/// tool span would put n² ids on the wire for a level of n tools.
pub const MAX_PARALLEL_WITH: usize = 16;
/// All dependencies, explicit and implicit (string array).
pub const DEPENDS_ON: &str = "orchestration.depends_on";
/// The tools of a level (string array, on level spans).
pub const GROUP_TOOLS: &str = "orchestration.tools";
/// JSON `{"input": {"expression": "{…}", "value": <resolved>}}`.
pub const DATA_FLOW_INPUTS: &str = "orchestration.data_flow_inputs";
/// The tool's static params as JSON (redacted).
pub const PARAMS: &str = "orchestration.params";
/// `ok`, `error`, `skipped` or `cancelled`.
pub const STATUS: &str = "orchestration.status";
/// Why a tool was skipped or cancelled.
pub const SKIP_REASON: &str = "orchestration.skip_reason";
/// Milliseconds between ready and start.
pub const QUEUE_WAIT_MS: &str = "orchestration.queue_wait_ms";
/// Retries made.
pub const RETRY_COUNT: &str = "orchestration.retry_count";
/// Whether the fallback produced the result.
pub const FALLBACK_USED: &str = "orchestration.fallback_used";
/// Whether the result came from the cache.
pub const CACHE_HIT: &str = "orchestration.cache_hit";
/// Rows in the output, when it has an array of rows.
pub const RESULT_COUNT: &str = "orchestration.result_count";
/// Size of the output as JSON, in bytes.
pub const RESULT_SIZE_BYTES: &str = "orchestration.result_size_bytes";
/// The execution plan JSON, on the `execute` span.
pub const EXECUTION_PLAN: &str = "orchestration.execution_plan";
/// First tool start to last tool end, on the `execute` span.
pub const TOTAL_DURATION_MS: &str = "orchestration.total_duration_ms";
/// Sum of tool durations, on the `execute` span.
pub const SERIAL_DURATION_MS: &str = "orchestration.serial_duration_ms";
/// Serial minus total, on the `execute` span.
pub const TIME_SAVED_MS: &str = "orchestration.time_saved_ms";
/// Tool ids of the dependency-based critical path (string array), on the `execute` span.
pub const CRITICAL_PATH: &str = "orchestration.critical_path";
/// Length of the critical path, on the `execute` span.
pub const CRITICAL_PATH_MS: &str = "orchestration.critical_path_ms";
/// Link attribute on tool-span links: `depends_on`.
pub const LINK: &str = "orchestration.link";
/// Value of [`LINK`] on links to dependencies.
pub const LINK_DEPENDS_ON: &str = "depends_on";
/// Value of [`LINK`] on the link from a host's span to the remote caller's span, when it
/// chose not to continue the caller's trace.
pub const LINK_REMOTE_PARENT: &str = "remote_parent";

/// `http.request.method`: set by the built-in `http` tool on its tool span.
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
/// `http.response.status_code`: set by the built-in `http` tool on its tool span.
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// `server.address`: the host the built-in `http` tool called.
pub const SERVER_ADDRESS: &str = "server.address";
/// `server.port`: the port the built-in `http` tool called.
pub const SERVER_PORT: &str = "server.port";

// Names the inspector reads back from traces (ours and other services').

/// Span name of the run's `execute` stage span.
pub const SPAN_EXECUTE: &str = "execute";
/// Span name of a level span.
pub const SPAN_LEVEL: &str = "level";
/// Event on a tool span when a retry is scheduled.
pub const EVENT_RETRY: &str = "retry";
/// Event on a tool span when the fallback tool type takes over.
pub const EVENT_FALLBACK: &str = "fallback";
/// Attribute of the [`EVENT_RETRY`] event: the backoff before the retry, in milliseconds.
pub const RETRY_BACKOFF_MS: &str = "backoff_ms";
/// Attribute of the [`EVENT_RETRY`] event: the attempt number.
pub const RETRY_ATTEMPT: &str = "attempt";
/// `error.message` on retry and fallback events.
pub const ERROR_MESSAGE: &str = "error.message";
/// Key of a template in a [`DATA_FLOW_INPUTS`] entry.
pub const DATA_FLOW_EXPRESSION: &str = "expression";
/// Key of the resolved value in a [`DATA_FLOW_INPUTS`] entry.
pub const DATA_FLOW_VALUE: &str = "value";
/// `service.name`, the resource attribute naming the service.
pub const SERVICE_NAME: &str = "service.name";
/// Jaeger's `error` tag: `true` on a failed span.
pub const JAEGER_ERROR: &str = "error";
/// Jaeger's `span.kind` tag.
pub const JAEGER_SPAN_KIND: &str = "span.kind";
/// Jaeger's tag holding an OpenTelemetry span's status code (`OK`, `ERROR`).
pub const OTEL_STATUS_CODE: &str = "otel.status_code";
/// Jaeger's tag holding an OpenTelemetry span's status description.
pub const OTEL_STATUS_DESCRIPTION: &str = "otel.status_description";
/// The field of a Jaeger log that names the event.
pub const JAEGER_LOG_EVENT: &str = "event";
/// Link attribute carrying a Jaeger reference type (`child_of`, `follows_from`).
pub const OPENTRACING_REF_TYPE: &str = "opentracing.ref_type";

/// Metric instrument names. Durations are histograms in seconds; counts are counters. Their
/// attributes are low-cardinality only: workflow, tool name and type, status, strategy, error
/// type — never a run, trace or tool-call id.
pub mod metrics {
    /// Histogram (s): one per tool run, the tool span's duration. Attributes
    /// `gen_ai.tool.name`, `gen_ai.tool.type`, `error.type` (on failure).
    pub const EXECUTE_TOOL_DURATION: &str = "gen_ai.execute_tool.duration";
    /// Histogram (s): one per run, start to end of the run. Attributes
    /// `gen_ai.operation.name`, `gen_ai.invocation.is_nested`, `gen_ai.workflow.name`,
    /// `error.type` (on failure).
    pub const INVOCATION_DURATION: &str = "gen_ai.invocation.duration";
    /// Histogram (s): first tool start to last tool end, per run.
    pub const RUN_MAKESPAN: &str = "orchestration.run.makespan";
    /// Histogram (s): the sum of tool durations, per run.
    pub const RUN_SERIAL_DURATION: &str = "orchestration.run.serial_duration";
    /// Histogram (s): serial duration minus makespan, per run.
    pub const RUN_TIME_SAVED: &str = "orchestration.run.time_saved";
    /// Histogram (s): length of the dependency-based critical path, per run.
    pub const RUN_CRITICAL_PATH: &str = "orchestration.run.critical_path";
    /// Counter ({run}): runs, by `orchestration.status`.
    pub const RUNS: &str = "orchestration.runs";
    /// Counter ({tool}): tools that ended, by `orchestration.status`.
    pub const TOOL_RUNS: &str = "orchestration.tool.runs";
    /// Histogram (s): time between ready and start, per started tool.
    pub const TOOL_QUEUE_WAIT: &str = "orchestration.tool.queue_wait";
    /// Counter ({retry}): retries made.
    pub const TOOL_RETRIES: &str = "orchestration.tool.retries";
    /// Counter ({fallback}): fallbacks taken.
    pub const TOOL_FALLBACKS: &str = "orchestration.tool.fallbacks";
    /// Counter ({hit}): results served from the cache.
    pub const TOOL_CACHE_HITS: &str = "orchestration.tool.cache_hits";
    /// Counter ({tool}): tools on a run's critical path, by tool name.
    pub const TOOL_CRITICAL_PATH: &str = "orchestration.tool.critical_path";
}
