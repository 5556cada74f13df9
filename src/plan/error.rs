//! Errors of the plan and analysis stages.
//!
//! Every error of a plan is one [`PlanError`]: the file (when it came from one), the place in
//! it (`line:column` for JSON syntax and shape, a path such as
//! `tools[2] "aggregate" .output_mapping.count` for everything found by analysis) and a
//! [`PlanErrorKind`] carrying the data a caller needs (the cycle's ids, the template's column).
//! Its `Display` is the one-line message the CLI prints.

use std::fmt;

/// An invalid plan: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    file: Option<String>,
    place: Option<String>,
    kind: PlanErrorKind,
}

/// What is wrong with a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanErrorKind {
    /// The file could not be read.
    Io(String),
    /// The input holds nothing but white space.
    Empty,
    /// The file is larger than the plan size limit.
    TooLarge {
        /// The file's size (one more than the limit when only that much was read: a pipe or
        /// a device has no size).
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// JSON syntax, a wrong type, an unknown or missing field.
    Json(String),
    /// The plan has no tools.
    NoTools,
    /// `max_concurrency` is 0.
    ZeroConcurrency,
    /// A tool id does not match `[A-Za-z_][A-Za-z0-9_-]*`.
    InvalidId(String),
    /// Two tools share an id.
    DuplicateId(String),
    /// A tool type (or fallback type) that is not registered.
    UnknownToolType(String),
    /// A dependency or template names a tool that is not in the plan.
    UnknownDependency(String),
    /// A tool depends on itself.
    SelfDependency(String),
    /// The dependencies form a cycle; the ids in order, the first repeated at the end.
    Cycle(Vec<String>),
    /// An explicit `parallel` strategy on a plan whose tools have dependencies.
    ParallelWithDependencies {
        /// The dependent tool.
        tool: String,
        /// One of its dependencies.
        dependency: String,
    },
    /// A data-flow template that does not parse.
    Template {
        /// The template text as written.
        template: String,
        /// 1-based column (in characters) of the problem within the template text.
        column: usize,
        /// What is wrong there.
        message: String,
    },
    /// Rejected by a validation policy.
    Policy(String),
}

impl PlanError {
    /// An error with no file or place yet.
    pub fn new(kind: PlanErrorKind) -> Self {
        PlanError {
            file: None,
            place: None,
            kind,
        }
    }

    /// Sets the place within the plan (`line:column` or a path like `tools[1].depends_on[0]`).
    pub fn at(mut self, place: impl Into<String>) -> Self {
        self.place = Some(place.into());
        self
    }

    /// Sets the file name, unless one is already set.
    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        if self.file.is_none() {
            self.file = Some(file.into());
        }
        self
    }

    /// What is wrong.
    pub fn kind(&self) -> &PlanErrorKind {
        &self.kind
    }

    /// The file, when the plan came from one.
    pub fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }

    /// The place within the plan.
    pub fn place(&self) -> Option<&str> {
        self.place.as_deref()
    }
}

impl fmt::Display for PlanError {
    /// One line, always: control characters from the plan (a key with a line break in it)
    /// are written escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        if let Some(file) = &self.file {
            text.push_str(file);
            text.push_str(": ");
        }
        if let Some(place) = &self.place {
            text.push_str(place);
            text.push_str(": ");
        }
        text.push_str(&self.kind.to_string());
        for c in text.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for PlanErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanErrorKind::Io(e) => write!(f, "cannot read the plan: {e}"),
            PlanErrorKind::Empty => write!(f, "the plan is empty"),
            PlanErrorKind::TooLarge { bytes, limit } if *bytes <= limit + 1 => write!(
                f,
                "the plan is larger than the {} MiB a plan may have (reading stopped there)",
                limit / 1048576
            ),
            PlanErrorKind::TooLarge { bytes, limit } => write!(
                f,
                "the plan is {:.1} MiB, more than the {} MiB a plan may have",
                *bytes as f64 / 1048576.0,
                limit / 1048576
            ),
            PlanErrorKind::Json(e) => write!(f, "{e}"),
            PlanErrorKind::NoTools => write!(f, "the plan has no tools"),
            PlanErrorKind::ZeroConcurrency => write!(f, "max_concurrency must be at least 1"),
            PlanErrorKind::InvalidId(id) => write!(
                f,
                "invalid tool id {id:?}: ids match [A-Za-z_][A-Za-z0-9_-]*"
            ),
            PlanErrorKind::DuplicateId(id) => write!(f, "duplicate tool id {id:?}"),
            PlanErrorKind::UnknownToolType(t) => write!(f, "unknown tool type {t:?}"),
            PlanErrorKind::UnknownDependency(d) => write!(f, "unknown tool {d:?}"),
            PlanErrorKind::SelfDependency(id) => write!(f, "tool {id:?} depends on itself"),
            PlanErrorKind::Cycle(path) => {
                write!(f, "dependency cycle: {}", path.join(" → "))
            }
            PlanErrorKind::ParallelWithDependencies { tool, dependency } => write!(
                f,
                "execution_strategy \"parallel\" forbids dependencies, but {tool:?} depends on {dependency:?} (use \"auto\" or \"dag\")"
            ),
            PlanErrorKind::Template {
                template,
                column,
                message,
            } => write!(f, "template {template:?}, column {column}: {message}"),
            PlanErrorKind::Policy(msg) => write!(f, "{msg}"),
        }
    }
}

impl std::error::Error for PlanError {}
