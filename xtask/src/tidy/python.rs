//! Python function spans by indentation, the way the interpreter reads it: a line inside a
//! triple-quoted string, inside brackets or after a backslash continues the statement above,
//! so its indentation ends nothing.

/// A `def` (or `async def`) and the line of its last statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefSpan {
    pub name: String,
    pub line: usize,
    pub end_line: usize,
}

impl DefSpan {
    /// From the `def` line to its last line of code, both included (decorators not counted).
    pub fn lines(&self) -> usize {
        self.end_line - self.line + 1
    }
}

/// How a physical line takes part in the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// Starts a statement at this indentation.
    Statement(usize),
    /// Continues a statement (string, brackets, backslash).
    Continuation,
    /// Blank or only a comment.
    Empty,
}

/// Every function and method, nested ones included.
pub fn defs(source: &str) -> Vec<DefSpan> {
    let lines: Vec<&str> = source.lines().collect();
    let kinds = classify(&lines);
    let mut spans = Vec::new();
    for (index, kind) in kinds.iter().enumerate() {
        let Line::Statement(indent) = *kind else {
            continue;
        };
        let statement = lines[index].trim_start();
        let Some(name) = def_name(statement) else {
            continue;
        };
        let mut end = index;
        for (later, later_kind) in kinds.iter().enumerate().skip(index + 1) {
            match later_kind {
                Line::Statement(at) if *at <= indent => break,
                Line::Statement(_) | Line::Continuation => end = later,
                Line::Empty => {}
            }
        }
        spans.push(DefSpan {
            name,
            line: index + 1,
            end_line: end + 1,
        });
    }
    spans
}

fn def_name(statement: &str) -> Option<String> {
    let rest = statement
        .strip_prefix("async ")
        .map_or(statement, str::trim_start);
    let rest = rest.strip_prefix("def ")?.trim_start();
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The open string, bracket depth and continuation carried from one line to the next.
#[derive(Debug, Default)]
struct Scanner {
    triple_quote: Option<char>,
    brackets: usize,
    backslash: bool,
}

fn classify(lines: &[&str]) -> Vec<Line> {
    let mut scanner = Scanner::default();
    lines
        .iter()
        .map(|line| {
            let continues =
                scanner.triple_quote.is_some() || scanner.brackets > 0 || scanner.backslash;
            let has_code = scanner.scan(line);
            if continues {
                Line::Continuation
            } else if has_code {
                Line::Statement(line.len() - line.trim_start().len())
            } else {
                Line::Empty
            }
        })
        .collect()
}

impl Scanner {
    /// Reads one line; says whether it holds anything but blanks and a comment.
    fn scan(&mut self, line: &str) -> bool {
        let chars: Vec<char> = line.chars().collect();
        let mut has_code = false;
        let mut i = 0;
        self.backslash = false;
        while i < chars.len() {
            let c = chars[i];
            if let Some(quote) = self.triple_quote {
                if c == '\\' {
                    i += 2;
                    continue;
                }
                if chars[i..].starts_with(&[quote; 3]) {
                    self.triple_quote = None;
                    i += 3;
                    continue;
                }
                i += 1;
                continue;
            }
            match c {
                '#' => break,
                '\\' if i + 1 == chars.len() => self.backslash = true,
                '(' | '[' | '{' => self.brackets += 1,
                ')' | ']' | '}' => self.brackets = self.brackets.saturating_sub(1),
                '"' | '\'' if chars[i..].starts_with(&[c; 3]) => {
                    self.triple_quote = Some(c);
                    i += 2;
                }
                '"' | '\'' => i = string_end(&chars, i),
                _ => {}
            }
            has_code |= !c.is_whitespace();
            i += 1;
        }
        has_code
    }
}

/// The index of the quote closing the one-line string opened at `open`.
fn string_end(chars: &[char], open: usize) -> usize {
    let mut k = open + 1;
    while k < chars.len() {
        match chars[k] {
            '\\' => k += 2,
            c if c == chars[open] => return k,
            _ => k += 1,
        }
    }
    chars.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#""""A module."""


def first(a,
          b):
    text = """
def not_a_function():
"""
    # a comment at any indentation
    return {
'key': "value # not a comment",
    }

# about second
async def second():
    def inner():
        pass

    return inner
"#;

    #[test]
    fn defs_end_at_their_last_statement_ignoring_strings_brackets_and_comments() {
        let found: Vec<(String, usize, usize)> = defs(SAMPLE)
            .into_iter()
            .map(|d| (d.name, d.line, d.end_line))
            .collect();
        let want = [("first", 4, 12), ("second", 15, 19), ("inner", 16, 17)];
        let want: Vec<(String, usize, usize)> = want
            .iter()
            .map(|(n, s, e)| (n.to_string(), *s, *e))
            .collect();
        assert_eq!(found, want);
    }
}
