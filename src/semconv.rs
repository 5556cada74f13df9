//! Span names and attribute keys, named after the conventions they follow: the OpenTelemetry
//! GenAI conventions (`gen_ai.*`), the general ones (`error.type`) and ours
//! (`orchestration.*`). The inspector reads traces back through these same constants.

/// `gen_ai.operation.name`: `invoke_workflow` on the root span, `execute_tool` on tool spans.
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
/// `gen_ai.workflow.name`: the workflow (plan) name on the root span.
pub const GEN_AI_WORKFLOW_NAME: &str = "gen_ai.workflow.name";
/// `gen_ai.tool.name`: the tool type.
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
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
/// How many other tools the group has, set when [`PARALLEL_WITH`] lists only the first
/// [`MAX_PARALLEL_WITH`] of them.
pub const PARALLEL_WITH_COUNT: &str = "orchestration.parallel_with_count";
/// The most ids [`PARALLEL_WITH`] lists: without a bound a level of n tools would put n²
/// ids on the wire.
pub const MAX_PARALLEL_WITH: usize = 128;
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
