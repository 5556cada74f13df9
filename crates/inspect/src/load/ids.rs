//! Trace and span ids: hex in any case and length, or base64, to one normalized form.

/// Normalizes an id: hex → lowercase, zero-padded to 16 or 32 digits (Jaeger drops leading
/// zeros); base64 of `bytes` (or 16 for a span id's trace) → lowercase hex; anything else
/// (ids that are not hex, such as `span-1`) as written. Empty and all-zero ids are absent.
pub(crate) fn normalize_id(raw: &str, bytes: usize) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let id = if raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        let lower = raw.to_ascii_lowercase();
        let width = if lower.len() <= 16 { 16 } else { 32 };
        if lower.len() < width {
            format!("{lower:0>width$}")
        } else {
            lower
        }
    } else if let Some(decoded) =
        base64_decode(raw).filter(|d| d.len() == bytes || d.len() == 8 || d.len() == 16)
    {
        decoded.iter().map(|b| format!("{b:02x}")).collect()
    } else {
        raw.to_owned()
    };
    if id.bytes().all(|b| b == b'0') {
        None
    } else {
        Some(id)
    }
}

/// Standard base64, padded or not.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if s.len() % 4 == 1 {
        return None;
    }
    Some(out)
}
