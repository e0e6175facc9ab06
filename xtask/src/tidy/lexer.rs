//! Just enough of Rust's lexical grammar for the tidy rules: the code with comments and
//! literals blanked out, its tokens with their line numbers, function spans and `use` paths.

/// One token of code: an identifier (or number), `::`, or a single punctuation character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub line: usize,
}

/// A function with a body: where its `fn` is and where its closing brace is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FnSpan {
    pub name: String,
    pub line: usize,
    pub end_line: usize,
}

impl FnSpan {
    /// From the `fn` line to the closing brace's line, both included.
    pub fn lines(&self) -> usize {
        self.end_line - self.line + 1
    }
}

/// A path the code names (`a::b::c`), with a `use` tree expanded into one path per leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRef {
    pub path: String,
    pub line: usize,
}

/// The tokens of a Rust source, without its comments and literals (a brace or a `fn` inside a
/// string is not code) and without its `#[cfg(test)] mod` blocks.
pub fn product_tokens(source: &str) -> Vec<Token> {
    without_test_modules(tokens(&blank_literals(source)))
}

/// Every comment, string, byte string, raw string and char literal replaced by spaces, newlines
/// kept so line numbers hold.
pub fn blank_literals(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        if let Some(end) = literal_end(&chars, i) {
            out.extend(
                chars[i..end]
                    .iter()
                    .map(|&c| if c == '\n' { '\n' } else { ' ' }),
            );
            i = end;
        } else if is_ident_char(chars[i]) {
            // Whole identifiers, so that the `r` of `for` is never read as a raw string prefix.
            let end = ident_end(&chars, i);
            out.extend(&chars[i..end]);
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn ident_end(chars: &[char], start: usize) -> usize {
    let mut end = start;
    while end < chars.len() && is_ident_char(chars[end]) {
        end += 1;
    }
    end
}

/// Where the comment or literal starting at `i` ends (exclusive), if one starts there.
fn literal_end(chars: &[char], i: usize) -> Option<usize> {
    let at = |k: usize| chars.get(k).copied();
    match (chars[i], at(i + 1)) {
        ('/', Some('/')) => Some(
            (i..chars.len())
                .find(|&k| chars[k] == '\n')
                .unwrap_or(chars.len()),
        ),
        ('/', Some('*')) => Some(block_comment_end(chars, i)),
        ('"', _) => Some(string_end(chars, i + 1)),
        ('\'', Some('\\')) => {
            let close = (i + 3..chars.len()).find(|&k| chars[k] == '\'');
            Some(close.map_or(chars.len(), |k| k + 1))
        }
        ('\'', Some(_)) if at(i + 2) == Some('\'') => Some(i + 3),
        (c, _) if is_ident_char(c) => {
            let end = ident_end(chars, i);
            let prefix: String = chars[i..end].iter().collect();
            match (prefix.as_str(), at(end)) {
                ("r" | "br" | "cr", Some('"' | '#')) => raw_string_end(chars, end),
                ("b" | "c", Some('"')) => Some(string_end(chars, end + 1)),
                ("b", Some('\'')) => literal_end(chars, end),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Block comments nest in Rust.
fn block_comment_end(chars: &[char], start: usize) -> usize {
    let mut depth = 0;
    let mut k = start;
    while k + 1 < chars.len() {
        match (chars[k], chars[k + 1]) {
            ('/', '*') => {
                depth += 1;
                k += 2;
            }
            ('*', '/') => {
                depth -= 1;
                k += 2;
                if depth == 0 {
                    return k;
                }
            }
            _ => k += 1,
        }
    }
    chars.len()
}

/// From just after the opening quote to just after the closing one.
fn string_end(chars: &[char], mut k: usize) -> usize {
    while k < chars.len() {
        match chars[k] {
            '\\' => k += 2,
            '"' => return k + 1,
            _ => k += 1,
        }
    }
    chars.len()
}

/// `r#"..."#` from the hashes on; `None` for a raw identifier (`r#type`).
fn raw_string_end(chars: &[char], start: usize) -> Option<usize> {
    let hashes = chars[start..].iter().take_while(|&&c| c == '#').count();
    if chars.get(start + hashes) != Some(&'"') {
        return None;
    }
    let mut k = start + hashes + 1;
    while k < chars.len() {
        if chars[k] == '"'
            && chars[k + 1..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == '#')
                .count()
                == hashes
        {
            return Some(k + 1 + hashes);
        }
        k += 1;
    }
    Some(chars.len())
}

/// The tokens of blanked code.
pub fn tokens(code: &str) -> Vec<Token> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let end = if c == '\n' {
            line += 1;
            i + 1
        } else if c.is_whitespace() {
            i + 1
        } else if is_ident_char(c) {
            ident_end(&chars, i)
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            i + 2
        } else {
            i + 1
        };
        if !c.is_whitespace() {
            out.push(Token {
                text: chars[i..end].iter().collect(),
                line,
            });
        }
        i = end;
    }
    out
}

/// The index just past the bracket that closes the one at `open` (`{`, `(` or `[`).
fn closing(tokens: &[Token], open: usize) -> usize {
    let (left, right) = match tokens[open].text.as_str() {
        "(" => ("(", ")"),
        "[" => ("[", "]"),
        _ => ("{", "}"),
    };
    let mut depth = 0;
    for (k, token) in tokens.iter().enumerate().skip(open) {
        if token.text == left {
            depth += 1;
        } else if token.text == right {
            depth -= 1;
            if depth == 0 {
                return k + 1;
            }
        }
    }
    tokens.len()
}

/// Drops every `#[cfg(test)]` module with an inline body (its attributes included).
fn without_test_modules(tokens: Vec<Token>) -> Vec<Token> {
    let cfg_test = ["#", "[", "cfg", "(", "test", ")", "]"];
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let starts_cfg_test = tokens.len() > i + cfg_test.len()
            && cfg_test
                .iter()
                .zip(&tokens[i..])
                .all(|(want, token)| token.text == *want);
        if starts_cfg_test && let Some(end) = inline_module_end(&tokens, i + cfg_test.len()) {
            i = end;
        } else {
            out.push(tokens[i].clone());
            i += 1;
        }
    }
    out
}

/// After an item's first attribute: the end of the item if it is `mod name { ... }`.
fn inline_module_end(tokens: &[Token], mut k: usize) -> Option<usize> {
    let text = |k: usize| tokens.get(k).map(|token| token.text.as_str());
    while text(k) == Some("#") && text(k + 1) == Some("[") {
        k = closing(tokens, k + 1);
    }
    if text(k) == Some("pub") {
        k += 1;
        if text(k) == Some("(") {
            k = closing(tokens, k);
        }
    }
    (text(k) == Some("mod") && text(k + 2) == Some("{")).then(|| closing(tokens, k + 2))
}

/// Every function with a body, nested ones included (each is measured on its own).
pub fn functions(tokens: &[Token]) -> Vec<FnSpan> {
    let mut spans = Vec::new();
    for (k, token) in tokens.iter().enumerate() {
        if token.text != "fn" {
            continue;
        }
        let name = match tokens.get(k + 1).map(|t| t.text.as_str()) {
            Some("$") => format!("${}", tokens.get(k + 2).map_or("", |t| t.text.as_str())),
            Some(name)
                if name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphabetic() || c == '_') =>
            {
                name.to_owned()
            }
            _ => continue, // a `fn(..)` pointer type
        };
        if let Some(open) = body_start(tokens, k + 2) {
            let close = closing(tokens, open) - 1;
            let end_line = tokens.get(close).map_or(token.line, |t| t.line);
            spans.push(FnSpan {
                name,
                line: token.line,
                end_line,
            });
        }
    }
    spans
}

/// The `{` that opens a function's body: the first one outside the signature's parentheses
/// and brackets, unless a `;` (a declaration without a body) comes first.
fn body_start(tokens: &[Token], from: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (k, token) in tokens.iter().enumerate().skip(from) {
        match token.text.as_str() {
            "(" | "[" => depth += 1,
            ")" | "]" => depth -= 1,
            "{" if depth == 0 => return Some(k),
            ";" if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

/// Every path the code names: each `use` tree expanded into its leaves (`a::{b, c::d}` is
/// `a::b` and `a::c::d`), and each qualified path in code (`a::b::f(..)`).
pub fn paths(tokens: &[Token]) -> Vec<PathRef> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let previous = i.checked_sub(1).map(|k| tokens[k].text.as_str());
        if tokens[i].text == "use" && previous != Some("::") {
            i = use_tree(tokens, i + 1, "", &mut out);
        } else if is_path_root(tokens, i) {
            let line = tokens[i].line;
            let mut path = tokens[i].text.clone();
            while tokens.get(i + 1).is_some_and(|t| t.text == "::")
                && tokens
                    .get(i + 2)
                    .is_some_and(|t| t.text.starts_with(|c: char| c.is_alphabetic() || c == '_'))
            {
                path = format!("{path}::{}", tokens[i + 2].text);
                i += 2;
            }
            out.push(PathRef { path, line });
        }
        i += 1;
    }
    out
}

fn is_path_root(tokens: &[Token], i: usize) -> bool {
    let starts_ident = tokens[i]
        .text
        .starts_with(|c: char| c.is_alphabetic() || c == '_');
    let after_separator = i > 0 && tokens[i - 1].text == "::";
    starts_ident && !after_separator && tokens.get(i + 1).is_some_and(|t| t.text == "::")
}

/// Expands the `use` tree starting at `i` under `prefix`; returns the index after it.
fn use_tree(tokens: &[Token], mut i: usize, prefix: &str, out: &mut Vec<PathRef>) -> usize {
    let mut prefix = prefix.to_owned();
    let leaf = |path: String, line: usize| PathRef { path, line };
    let join = |prefix: &str, leaf: &str| {
        if prefix.is_empty() {
            leaf.to_owned()
        } else {
            format!("{prefix}::{leaf}")
        }
    };
    while let Some(token) = tokens.get(i) {
        match token.text.as_str() {
            "::" => i += 1,
            "{" => {
                i += 1;
                while tokens.get(i).is_some_and(|t| t.text != "}") {
                    i = use_tree(tokens, i, &prefix, out);
                    if tokens.get(i).is_some_and(|t| t.text == ",") {
                        i += 1;
                    }
                }
                return i + 1;
            }
            "*" => {
                out.push(leaf(join(&prefix, "*"), token.line));
                return i + 1;
            }
            "self" if !prefix.is_empty() => {
                out.push(leaf(prefix, token.line));
                return i + 1;
            }
            "," | "}" | ";" => return i,
            segment => {
                prefix = join(&prefix, segment);
                i += 1;
                match tokens.get(i).map(|t| t.text.as_str()) {
                    Some("::") => {}
                    Some("as") => {
                        out.push(leaf(prefix, token.line));
                        return i + 2;
                    }
                    _ => {
                        out.push(leaf(prefix, token.line));
                        return i;
                    }
                }
            }
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r####"
//! A module. fn not_code() {
/* a block /* nested */ fn still_not_code() { */
fn first<'a>(x: &'a str) -> char {
    let brace = '{';
    let quote = '\'';
    let text = "}}} fn fake() {";
    let raw = r#"a "quoted" } brace"#;
    let bytes = b"}";
    'outer: loop { break 'outer; }
    brace
}

trait Declared { fn no_body(&self); }

fn second(callback: fn(u8) -> u8) -> Vec<u8>
where
    u8: Copy,
{
    vec![callback(1)]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    fn hidden() {}
}
"####;

    #[test]
    fn functions_span_from_fn_to_their_closing_brace_ignoring_literals_and_test_modules() {
        let spans = functions(&product_tokens(SAMPLE));
        let found: Vec<(&str, usize, usize)> = spans
            .iter()
            .map(|s| (s.name.as_str(), s.line, s.end_line))
            .collect();
        assert_eq!(found, [("first", 4, 12), ("second", 16, 21)]);
        assert_eq!(spans[0].lines(), 9);
    }

    #[test]
    fn use_trees_expand_into_their_leaves() {
        let source = "use std::{fs, io::{self, Write as _}};\nuse crate::resources::x::Y;\n\
                      fn f() { tokio::spawn(a::b); \"std::net::TcpStream\"; }";
        let found: Vec<(String, usize)> = paths(&product_tokens(source))
            .into_iter()
            .map(|p| (p.path, p.line))
            .collect();
        let want = [
            ("std::fs", 1),
            ("std::io", 1),
            ("std::io::Write", 1),
            ("crate::resources::x::Y", 2),
            ("tokio::spawn", 3),
            ("a::b", 3),
        ];
        let want: Vec<(String, usize)> = want.iter().map(|(p, l)| (p.to_string(), *l)).collect();
        assert_eq!(found, want);
    }
}
