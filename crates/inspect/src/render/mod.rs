//! Renderers: the terminal views (trace detail, timeline, performance analysis) and the
//! self-contained HTML report. Each writes to any [`io::Write`](std::io::Write); the text
//! views take [`RenderOptions`] (width, colour) and never exceed the width.

mod html;
mod text;

pub use html::{escape_html, write_html};
pub use text::{write_analysis, write_detail, write_notes, write_timeline};

/// Tools a view lists before it summarizes (see [`RenderOptions::with_all_rows`]).
pub const DEFAULT_MAX_ROWS: usize = 200;

use std::io::IsTerminal;

/// Options of the text views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    width: usize,
    color: bool,
    all_rows: bool,
    max_rows: usize,
}

/// The narrowest width the views lay out for.
pub const MIN_WIDTH: usize = 60;
/// The default (and widest) width.
pub const DEFAULT_WIDTH: usize = 100;

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            width: DEFAULT_WIDTH,
            color: false,
            all_rows: false,
            max_rows: DEFAULT_MAX_ROWS,
        }
    }
}

impl RenderOptions {
    /// 100 columns, no colour.
    pub fn new() -> Self {
        Self::default()
    }

    /// For standard output: colour only on a terminal and when `NO_COLOR` is unset or empty.
    pub fn for_stdout() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        Self::default().with_color(std::io::stdout().is_terminal() && !no_color && !dumb)
    }

    /// Sets the width in columns (at least [`MIN_WIDTH`]).
    pub fn with_width(mut self, width: usize) -> Self {
        self.width = width.max(MIN_WIDTH);
        self
    }

    /// Turns ANSI colour on or off.
    pub fn with_color(mut self, color: bool) -> Self {
        self.color = color;
        self
    }

    /// Lists every tool even in runs with more than [`max_rows`](Self::max_rows) tools
    /// (by default those are summarized: levels, critical path, slowest and failed tools),
    /// and every suggestion (by default the [`max_rows`](Self::max_rows) largest).
    pub fn with_all_rows(mut self, all: bool) -> Self {
        self.all_rows = all;
        self
    }

    /// Sets how many tools a view lists before it summarizes (at least 1).
    pub fn with_max_rows(mut self, rows: usize) -> Self {
        self.max_rows = rows.max(1);
        self
    }

    /// Whether every row is listed.
    pub fn all_rows(&self) -> bool {
        self.all_rows
    }

    /// How many tools a view lists before it summarizes.
    pub fn max_rows(&self) -> usize {
        self.max_rows
    }

    /// The width in columns.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether ANSI colour is on.
    pub fn color(&self) -> bool {
        self.color
    }
}

/// A text style; rendered as ANSI codes only when colour is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Plain,
    Bold,
    Dim,
    Green,
    Red,
    Yellow,
    Cyan,
    Critical,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Plain => "",
            Style::Bold => "\x1b[1m",
            Style::Dim => "\x1b[2m",
            Style::Green => "\x1b[32m",
            Style::Red => "\x1b[31m",
            Style::Yellow => "\x1b[33m",
            Style::Cyan => "\x1b[36m",
            Style::Critical => "\x1b[1;35m",
        }
    }

    pub(crate) fn for_status(status: &str) -> Style {
        match status {
            "ok" => Style::Green,
            "error" => Style::Red,
            _ => Style::Yellow,
        }
    }
}

/// A line of styled segments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Line(pub(crate) Vec<(Style, String)>);

impl Line {
    pub(crate) fn new() -> Self {
        Line(Vec::new())
    }

    #[cfg(test)]
    pub(crate) fn plain(text: impl Into<String>) -> Self {
        Line(vec![(Style::Plain, text.into())])
    }

    pub(crate) fn push(&mut self, style: Style, text: impl Into<String>) -> &mut Self {
        let text = text.into();
        if !text.is_empty() {
            self.0.push((style, text));
        }
        self
    }

    pub(crate) fn with(mut self, style: Style, text: impl Into<String>) -> Self {
        self.push(style, text);
        self
    }

    pub(crate) fn width(&self) -> usize {
        self.0.iter().map(|(_, t)| str_width(t)).sum()
    }

    pub(crate) fn render(&self, color: bool) -> String {
        let mut out = String::new();
        for (style, text) in &self.0 {
            if color && *style != Style::Plain {
                out.push_str(style.code());
                out.push_str(text);
                out.push_str("\x1b[0m");
            } else {
                out.push_str(text);
            }
        }
        out
    }

    /// Without trailing spaces.
    pub(crate) fn trim_end(mut self) -> Self {
        while let Some((_, text)) = self.0.last_mut() {
            let kept = text.trim_end_matches(' ').len();
            if kept == 0 {
                self.0.pop();
            } else {
                text.truncate(kept);
                break;
            }
        }
        self
    }

    /// Pads with spaces to `width` columns.
    pub(crate) fn pad(mut self, width: usize) -> Self {
        let w = self.width();
        if w < width {
            self.push(Style::Plain, " ".repeat(width - w));
        }
        self
    }

    /// Cuts to `width` columns, ending in `…` when something was cut.
    pub(crate) fn truncate(self, width: usize) -> Self {
        if self.width() <= width {
            return self;
        }
        let mut out = Line::new();
        let mut used = 0;
        'outer: for (style, text) in self.0 {
            let mut kept = String::new();
            for c in text.chars() {
                let cw = char_width(c);
                if used + cw + 1 > width {
                    out.push(style, kept);
                    break 'outer;
                }
                used += cw;
                kept.push(c);
            }
            out.push(style, kept);
        }
        out.push(Style::Dim, "…");
        out
    }

    /// Wraps to `width` columns, breaking at spaces where possible; continuation lines start
    /// with `indent` spaces.
    pub(crate) fn wrap(&self, width: usize, indent: usize) -> Vec<Line> {
        let indent = indent.min(width / 2);
        let chars: Vec<(Style, char)> = self
            .0
            .iter()
            .flat_map(|(s, t)| t.chars().map(move |c| (*s, c)))
            .collect();
        let mut lines = Vec::new();
        let mut start = 0;
        let mut first = true;
        while start < chars.len() {
            let lead = if first { 0 } else { indent };
            let room = width.saturating_sub(lead).max(1);
            let mut w = 0;
            let mut end = start;
            while end < chars.len() && w + char_width(chars[end].1) <= room {
                w += char_width(chars[end].1);
                end += 1;
            }
            let mut next = end;
            if end < chars.len() {
                // Break after the last space, unless that leaves the line nearly empty.
                if let Some(sp) = (start + 1..end).rev().find(|&k| chars[k].1 == ' ') {
                    if sp > start + room / 3 {
                        end = sp;
                        next = sp + 1;
                    }
                }
                if end == start {
                    end = start + 1;
                    next = end;
                }
            }
            let mut line = Line::new();
            if lead > 0 {
                line.push(Style::Plain, " ".repeat(lead));
            }
            let mut cur: Option<(Style, String)> = None;
            for &(s, c) in &chars[start..end] {
                match &mut cur {
                    Some((cs, text)) if *cs == s => text.push(c),
                    _ => {
                        if let Some((cs, text)) = cur.take() {
                            line.push(cs, text);
                        }
                        cur = Some((s, c.to_string()));
                    }
                }
            }
            if let Some((cs, text)) = cur {
                line.push(cs, text);
            }
            lines.push(line);
            start = next;
            first = false;
            // Continuation lines never start with a space.
            while start < chars.len() && chars[start].1 == ' ' {
                start += 1;
            }
        }
        if lines.is_empty() {
            lines.push(Line::new());
        }
        lines
    }
}

/// Columns a character takes in a terminal: 0 for combining marks and controls, 2 for wide
/// East Asian characters and emoji, else 1.
pub(crate) fn char_width(c: char) -> usize {
    let u = c as u32;
    if u < 0x20 || (0x7f..0xa0).contains(&u) {
        return 0;
    }
    if matches!(u, 0x0300..=0x036f | 0x200b..=0x200f | 0xfe00..=0xfe0f | 0x20d0..=0x20ff) {
        return 0;
    }
    let wide = matches!(u,
        0x1100..=0x115f
        | 0x2e80..=0x303e
        | 0x3041..=0x33ff
        | 0x3400..=0x4dbf
        | 0x4e00..=0x9fff
        | 0xa000..=0xa4cf
        | 0xac00..=0xd7a3
        | 0xf900..=0xfaff
        | 0xfe30..=0xfe4f
        | 0xff00..=0xff60
        | 0xffe0..=0xffe6
        | 0x1f300..=0x1f64f
        | 0x1f900..=0x1f9ff
        | 0x2705 | 0x274c | 0x2b50
        | 0x20000..=0x3fffd);
    if wide {
        2
    } else {
        1
    }
}

/// Columns a string takes.
pub(crate) fn str_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// Cuts a plain string to `width` columns with `…`.
pub(crate) fn cut(s: &str, width: usize) -> String {
    if str_width(s) <= width {
        return s.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cw = char_width(c);
        if used + cw + 1 > width {
            break;
        }
        used += cw;
        out.push(c);
    }
    out.push('…');
    out
}

/// Control characters (a newline in a span name, an escape sequence in an attribute) shown
/// as spaces, so nothing read from a trace can break the layout or the terminal.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_count_wide_and_zero_width_characters() {
        assert_eq!(str_width("abc"), 3);
        assert_eq!(str_width("조회"), 4);
        assert_eq!(str_width("e\u{301}"), 1);
        assert_eq!(str_width("✓ █"), 3);
        assert_eq!(cut("primary_lookup", 8), "primary…");
        assert_eq!(cut("조회조회", 5), "조회…");
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_indents() {
        let l = Line::plain("Params: keywords=[\"server\"], latency_ms=80, region=eu-west-1");
        let lines: Vec<String> = l.wrap(30, 4).iter().map(|l| l.render(false)).collect();
        assert_eq!(
            lines,
            vec![
                "Params: keywords=[\"server\"],",
                "    latency_ms=80,",
                "    region=eu-west-1"
            ]
        );
        for l in Line::plain("x".repeat(70)).wrap(30, 2) {
            assert!(l.width() <= 30);
        }
    }

    #[test]
    fn colour_is_off_by_default_and_never_counts_in_width() {
        let l = Line::new()
            .with(Style::Green, "✓")
            .with(Style::Plain, " ok");
        assert_eq!(l.render(false), "✓ ok");
        assert_eq!(l.render(true), "\x1b[32m✓\x1b[0m ok");
        assert_eq!(l.width(), 4);
        assert_eq!(l.clone().pad(6).render(false), "✓ ok  ");
        assert_eq!(Line::plain("abcdef").truncate(4).render(false), "abc…");
    }
}
