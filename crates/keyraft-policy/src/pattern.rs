//! `*` / `?` wildcard patterns, as used by Action, Resource, StringLike and ArnLike.
//!
//! `*` matches any run of characters (also none), `?` exactly one character. There is no
//! escape: AWS's `${*}` / `${?}` are policy variables, which this crate does not substitute.

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// `*`: matches everything.
    Any,
    /// No wildcard: equality.
    Exact(String),
    /// Contains `*` or `?`.
    Wild(String),
}

impl Pattern {
    /// Compiles `text`; with `fold_case` the pattern is stored ASCII-lowercased and must be
    /// matched with `matches(_, true)`.
    pub fn new(text: &str, fold_case: bool) -> Self {
        let text = if fold_case { text.to_ascii_lowercase() } else { text.to_owned() };
        if text == "*" {
            Pattern::Any
        } else if text.contains(['*', '?']) {
            Pattern::Wild(text)
        } else {
            Pattern::Exact(text)
        }
    }

    /// Whether `input` matches; `fold_case` compares ASCII letters case-insensitively.
    pub fn matches(&self, input: &str, fold_case: bool) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(p) if fold_case => p.eq_ignore_ascii_case(input),
            Pattern::Exact(p) => p == input,
            Pattern::Wild(p) => wildcard_match(p.as_bytes(), input.as_bytes(), fold_case),
        }
    }
}

/// Iterative glob match with one backtrack point (linear in practice, no allocation).
/// `?` consumes one UTF-8 character of `text`.
fn wildcard_match(pattern: &[u8], text: &[u8], fold_case: bool) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            p += 1;
            star = Some((p, t));
            continue;
        }
        if p < pattern.len() && pattern[p] == b'?' {
            p += 1;
            t += utf8_len(text[t]);
            continue;
        }
        if p < pattern.len() && byte_eq(pattern[p], text[t], fold_case) {
            p += 1;
            t += 1;
            continue;
        }
        match star {
            Some((sp, st)) => {
                let next = st + utf8_len(text[st]);
                star = Some((sp, next));
                p = sp;
                t = next;
            }
            None => return false,
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len() && t == text.len()
}

fn byte_eq(a: u8, b: u8, fold_case: bool) -> bool {
    if fold_case {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn m(p: &str, t: &str) -> bool {
        Pattern::new(p, false).matches(t, false)
    }

    #[test]
    fn star_and_question() {
        assert!(m("*", ""));
        assert!(m("kms:*", "kms:Encrypt"));
        assert!(m("kms:Gen*", "kms:GenerateDataKey"));
        assert!(!m("kms:Gen*", "kms:Encrypt"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("a?c", "aéc"));
        assert!(!m("a?c", "aébc"));
        assert!(m("*ab", "aab"));
        assert!(m("**", "x"));
        assert!(!m("abc", "abcd"));
    }

    #[test]
    fn case_folding_only_when_asked() {
        let p = Pattern::new("KMS:Describe*", true);
        assert!(p.matches("kms:DescribeKey", true));
        assert!(p.matches("KMS:DESCRIBEKEY", true));
        assert!(!p.matches("kms:Decrypt", true));
        assert!(!Pattern::new("Key/*", false).matches("key/1", false));
    }
}
