//! The tokenizer: Python's lexical rules for the subset `quiver run` accepts.
//!
//! Python's grammar is indentation-sensitive, so the lexer turns leading whitespace into
//! `Indent`/`Dedent` tokens and ends each logical line with `Newline`, exactly as CPython's
//! tokenizer does; inside brackets newlines are ignored (implicit line joining), and a
//! trailing backslash joins lines explicitly. Every token carries its 1-based line and column
//! so that errors can say `script.py:12:5`.

use super::error::ScriptError;

/// A token kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Name(String),
    Int(i64),
    /// A float literal (kept as text so that `1e400` reports cleanly).
    Float(f64),
    Str(String),
    /// An f-string's raw text (fields parsed by the parser).
    FStr(String),
    /// An operator or delimiter (`+`, `**`, `(`, `->`, …).
    Op(&'static str),
    Newline,
    Indent,
    Dedent,
    End,
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub line: usize,
    pub col: usize,
}

const OPERATORS: [&str; 47] = [
    "**=", "//=", ">>=", "<<=", "...", "->", "**", "//", "==", "!=", "<=", ">=", "+=", "-=", "*=",
    "/=", "%=", "&=", "|=", "^=", ":=", "<<", ">>", "+", "-", "*", "/", "%", "<", ">", "=", "(",
    ")", "[", "]", "{", "}", ",", ":", ".", ";", "@", "&", "|", "^", "~", "!",
];

/// Splits `source` into tokens. `file` names the source in error messages.
pub fn tokenize(source: &str, file: &str) -> Result<Vec<Token>, ScriptError> {
    Lexer {
        chars: source.chars().collect(),
        pos: 0,
        line: 1,
        col: 1,
        file,
        tokens: Vec::new(),
        indents: vec![0],
        depth: 0,
        open: Vec::new(),
    }
    .run()
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    col: usize,
    file: &'a str,
    tokens: Vec<Token>,
    indents: Vec<usize>,
    /// Open brackets: newlines inside them do not end the line.
    depth: usize,
    /// Where each open bracket is, for "'(' was never closed".
    open: Vec<(char, usize, usize)>,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn error(&self, line: usize, col: usize, message: impl Into<String>) -> ScriptError {
        ScriptError::syntax(self.file, line, col, message)
    }

    fn push(&mut self, tok: Tok, line: usize, col: usize) {
        self.tokens.push(Token { tok, line, col });
    }

    fn run(mut self) -> Result<Vec<Token>, ScriptError> {
        let mut at_line_start = true;
        loop {
            if at_line_start && self.depth == 0 {
                if !self.indentation()? {
                    break;
                }
                at_line_start = false;
            }
            let Some(c) = self.peek(0) else { break };
            let (line, col) = (self.line, self.col);
            match c {
                '\n' => {
                    self.bump();
                    if self.depth == 0 {
                        self.push(Tok::Newline, line, col);
                        at_line_start = true;
                    }
                }
                ' ' | '\t' | '\r' | '\x0c' => {
                    self.bump();
                }
                '#' => {
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                '\\' if self.peek(1) == Some('\n') => {
                    self.bump();
                    self.bump();
                }
                '0'..='9' => self.number()?,
                '.' if self.peek(1).is_some_and(|c| c.is_ascii_digit()) => self.number()?,
                c if c.is_alphabetic() || c == '_' => {
                    let mut name = String::new();
                    while let Some(c) = self.peek(0).filter(|c| c.is_alphanumeric() || *c == '_') {
                        name.push(c);
                        self.bump();
                    }
                    let quote = self.peek(0).filter(|q| *q == '"' || *q == '\'');
                    let prefix = name.to_ascii_lowercase();
                    if quote.is_some()
                        && matches!(
                            prefix.as_str(),
                            "f" | "r" | "b" | "rb" | "br" | "fr" | "rf" | "u"
                        )
                    {
                        let raw = prefix.contains('r');
                        let text = self.string(raw, line, col)?;
                        let tok = if prefix.contains('f') {
                            Tok::FStr(text)
                        } else {
                            Tok::Str(text)
                        };
                        self.push(tok, line, col);
                    } else {
                        self.push(Tok::Name(name), line, col);
                    }
                }
                '"' | '\'' => {
                    let text = self.string(false, line, col)?;
                    self.push(Tok::Str(text), line, col);
                }
                _ => {
                    let op = OPERATORS.iter().find(|op| {
                        op.chars()
                            .enumerate()
                            .all(|(i, oc)| self.peek(i) == Some(oc))
                    });
                    let Some(op) = op else {
                        return Err(self.error(line, col, format!("invalid character '{c}'")));
                    };
                    for _ in 0..op.chars().count() {
                        self.bump();
                    }
                    match *op {
                        "(" | "[" | "{" => {
                            self.depth += 1;
                            self.open.push((c, line, col));
                        }
                        ")" | "]" | "}" => {
                            self.depth = self.depth.saturating_sub(1);
                            self.open.pop();
                        }
                        _ => {}
                    }
                    self.push(Tok::Op(op), line, col);
                }
            }
        }
        if let Some((bracket, line, col)) = self.open.first() {
            return Err(self.error(*line, *col, format!("'{bracket}' was never closed")));
        }
        let (line, col) = (self.line, self.col);
        if self.tokens.last().is_some_and(|t| t.tok != Tok::Newline) {
            self.push(Tok::Newline, line, col);
        }
        while self.indents.len() > 1 {
            self.indents.pop();
            self.push(Tok::Dedent, line, col);
        }
        self.push(Tok::End, line, col);
        Ok(self.tokens)
    }

    /// Reads a line's indentation and emits Indent/Dedent; skips blank and comment-only
    /// lines. Returns false at the end of the input.
    fn indentation(&mut self) -> Result<bool, ScriptError> {
        loop {
            let mut width = 0;
            while let Some(c) = self.peek(0) {
                match c {
                    ' ' => width += 1,
                    '\t' => width = (width / 8 + 1) * 8,
                    '\r' | '\x0c' => {}
                    _ => break,
                }
                self.bump();
            }
            match self.peek(0) {
                None => return Ok(false),
                Some('\n') => {
                    self.bump();
                    continue;
                }
                Some('#') => {
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                    continue;
                }
                Some(_) => {}
            }
            let (line, col) = (self.line, self.col);
            let current = self.indents.last().copied().unwrap_or(0);
            if width > current {
                self.indents.push(width);
                self.push(Tok::Indent, line, col);
            } else {
                while width < self.indents.last().copied().unwrap_or(0) {
                    self.indents.pop();
                    self.push(Tok::Dedent, line, col);
                }
                if width != self.indents.last().copied().unwrap_or(0) {
                    return Err(self.error(
                        line,
                        col,
                        "unindent does not match any outer indentation level",
                    ));
                }
            }
            return Ok(true);
        }
    }

    fn number(&mut self) -> Result<(), ScriptError> {
        let (line, col) = (self.line, self.col);
        let mut text = String::new();
        let mut is_float = false;
        if self.peek(0) == Some('0') && self.peek(1).is_some_and(|c| "xXoObB".contains(c)) {
            self.bump();
            let radix = match self.bump() {
                Some('x' | 'X') => 16,
                Some('o' | 'O') => 8,
                _ => 2,
            };
            while let Some(c) = self
                .peek(0)
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            {
                if c != '_' {
                    text.push(c);
                }
                self.bump();
            }
            let value = i64::from_str_radix(&text, radix)
                .map_err(|_| self.error(line, col, format!("invalid number literal '{text}'")))?;
            self.push(Tok::Int(value), line, col);
            return Ok(());
        }
        while let Some(c) = self.peek(0) {
            match c {
                '0'..='9' => text.push(c),
                '_' => {}
                '.' if !is_float => {
                    is_float = true;
                    text.push(c);
                }
                'e' | 'E' => {
                    is_float = true;
                    text.push(c);
                    self.bump();
                    if let Some(sign) = self.peek(0).filter(|c| *c == '+' || *c == '-') {
                        text.push(sign);
                        self.bump();
                    }
                    continue;
                }
                'j' | 'J' => {
                    return Err(self.error(line, col, "unsupported construct: complex numbers"))
                }
                _ => break,
            }
            self.bump();
        }
        let tok =
            if is_float {
                Tok::Float(text.parse().map_err(|_| {
                    self.error(line, col, format!("invalid number literal '{text}'"))
                })?)
            } else {
                Tok::Int(text.parse().map_err(|_| {
                    self.error(
                        line,
                        col,
                        format!(
                            "unsupported construct: integer literal {text} does not fit in 64 bits"
                        ),
                    )
                })?)
            };
        self.push(tok, line, col);
        Ok(())
    }

    fn string(&mut self, raw: bool, line: usize, col: usize) -> Result<String, ScriptError> {
        let quote = self.bump().unwrap_or('"');
        let triple = self.peek(0) == Some(quote) && self.peek(1) == Some(quote);
        if triple {
            self.bump();
            self.bump();
        }
        let mut out = String::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(self.error(line, col, "unterminated string literal"));
            };
            if c == quote {
                if !triple {
                    return Ok(out);
                }
                if self.peek(0) == Some(quote) && self.peek(1) == Some(quote) {
                    self.bump();
                    self.bump();
                    return Ok(out);
                }
                out.push(c);
                continue;
            }
            if c == '\n' && !triple {
                return Err(self.error(line, col, "unterminated string literal"));
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some(next) = self.bump() else {
                return Err(self.error(line, col, "unterminated string literal"));
            };
            if raw {
                out.push('\\');
                out.push(next);
                continue;
            }
            match next {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                '\\' => out.push('\\'),
                '\'' => out.push('\''),
                '"' => out.push('"'),
                '\n' => {}
                'x' | 'u' | 'U' => {
                    let digits = match next {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let hex: String = (0..digits).filter_map(|_| self.bump()).collect();
                    let ch = u32::from_str_radix(&hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| {
                            self.error(line, col, format!("invalid escape \\{next}{hex}"))
                        })?;
                    out.push(ch);
                }
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<Tok> {
        tokenize(source, "t.py")
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn indentation_becomes_indent_and_dedent() {
        let toks = kinds("if x:\n    y = 1\n\n    # c\nz\n");
        assert_eq!(
            toks,
            vec![
                Tok::Name("if".into()),
                Tok::Name("x".into()),
                Tok::Op(":"),
                Tok::Newline,
                Tok::Indent,
                Tok::Name("y".into()),
                Tok::Op("="),
                Tok::Int(1),
                Tok::Newline,
                Tok::Dedent,
                Tok::Name("z".into()),
                Tok::Newline,
                Tok::End,
            ]
        );
    }

    #[test]
    fn brackets_join_lines_and_strings_unescape() {
        let toks = kinds("f(1,\n  'a\\n', f\"{x}\", 2.5e1)\n");
        assert!(toks.contains(&Tok::Str("a\n".into())));
        assert!(toks.contains(&Tok::FStr("{x}".into())));
        assert!(toks.contains(&Tok::Float(25.0)));
        assert_eq!(toks.iter().filter(|t| **t == Tok::Newline).count(), 1);
    }

    #[test]
    fn errors_carry_the_position() {
        let err = tokenize("if x:\n    y\n  z\n", "s.py").unwrap_err();
        assert_eq!(
            err.to_string(),
            "s.py:3:3: SyntaxError: unindent does not match any outer indentation level"
        );
        let err = tokenize("x = 'abc\n", "s.py").unwrap_err();
        assert_eq!(
            err.to_string(),
            "s.py:1:5: SyntaxError: unterminated string literal"
        );
    }
}
