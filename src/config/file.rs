//! The syntax of a `--config` file: the small part of TOML that a list of flags needs, read
//! with line numbers so that every mistake can be named by file, line and key. What the keys
//! mean is `config`'s business (they are the long flag names); this module only reads
//! `key = value` lines.
//!
//! Accepted, each as TOML defines it (so the file is valid TOML for other tools too):
//!
//! - `key = value` lines at the top level; a key is bare (`A-Za-z0-9_-`); each key once;
//! - `# comments`, to the end of a line, and blank lines;
//! - basic strings `"..."` with the escapes `\" \\ \n \t \r \b \f \uXXXX \UXXXXXXXX`, and
//!   literal strings `'...'` (no escapes);
//! - decimal integers (`8080`, `-1`, `1_000`; no leading zeros) and floats (`0.5`, `1e3`);
//! - `true` and `false`;
//! - arrays `[...]` of any of these, arrays included, over one line or several, with an
//!   optional trailing comma.
//!
//! Refused, each with its own message: tables (`[section]`), dotted and quoted keys,
//! multi-line strings, hexadecimal/octal/binary integers, `inf`/`nan`, dates and inline tables.
use std::fmt;

/// One `key = value` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// 1-based line of the key.
    pub line: usize,
    pub key: String,
    pub value: Value,
}

/// A value as written. Numbers keep their text (underscores and a `+` removed), so the flag
/// that reads them checks them exactly as it checks a command-line value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(String),
    Integer(String),
    Float(String),
    Boolean(bool),
    /// The items, each with the line it starts on.
    Array(Vec<(usize, Value)>),
}

impl Value {
    /// What kind of value this is, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Array(_) => "an array",
        }
    }
}

/// A syntax error: where, in which key's value (when the key was read), and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "line {}: {key}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// Arrays inside arrays deeper than this are refused: no flag needs more than two levels,
/// and the reader recurses once per level.
const MAX_ARRAY_DEPTH: usize = 8;

/// Reads every entry of `text`, in order.
pub fn parse(text: &str) -> Result<Vec<Entry>, SyntaxError> {
    let mut reader = Reader { text: text.as_bytes(), src: text, pos: 0, line: 1, key: None };
    let mut entries: Vec<Entry> = Vec::new();
    loop {
        reader.skip_blank_lines();
        let Some(c) = reader.peek() else { break };
        let line = reader.line;
        if c == b'[' {
            return Err(reader.error("tables ([name]) are not supported: put every key at the top level"));
        }
        let key = reader.key()?;
        reader.key = Some(key.clone());
        if let Some(first) = entries.iter().find(|e| e.key == key) {
            return Err(reader.error(&format!("given twice (first on line {})", first.line)));
        }
        reader.skip_spaces();
        if !reader.eat(b'=') {
            return Err(reader.error("expected = after the key"));
        }
        reader.skip_spaces();
        let value = reader.value(0)?;
        reader.end_of_line()?;
        reader.key = None;
        entries.push(Entry { line, key, value });
    }
    Ok(entries)
}

struct Reader<'a> {
    text: &'a [u8],
    src: &'a str,
    pos: usize,
    line: usize,
    /// The key whose value is being read, for messages.
    key: Option<String>,
}

impl Reader<'_> {
    fn error(&self, message: &str) -> SyntaxError {
        SyntaxError { line: self.line, key: self.key.clone(), message: message.to_string() }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.pos += 1;
        }
        found
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn skip_comment(&mut self) {
        if self.peek() == Some(b'#') {
            while !matches!(self.peek(), None | Some(b'\n')) {
                self.pos += 1;
            }
        }
    }

    /// Consumes a line break (`\n` or `\r\n`), if there is one.
    fn newline(&mut self) -> bool {
        let crlf = self.text[self.pos..].starts_with(b"\r\n");
        if crlf || self.peek() == Some(b'\n') {
            self.pos += if crlf { 2 } else { 1 };
            self.line += 1;
            return true;
        }
        false
    }

    /// Spaces, comments and line breaks, up to the next thing to read.
    fn skip_blank_lines(&mut self) {
        loop {
            self.skip_spaces();
            self.skip_comment();
            if !self.newline() {
                break;
            }
        }
    }

    /// After a value: spaces, perhaps a comment, then the end of the line or of the file.
    fn end_of_line(&mut self) -> Result<(), SyntaxError> {
        self.skip_spaces();
        self.skip_comment();
        if self.peek().is_none() || self.newline() {
            return Ok(());
        }
        Err(self.error(&format!("unexpected {:?} after the value", self.rest_of_line())))
    }

    fn rest_of_line(&self) -> &str {
        let rest = &self.src[self.pos..];
        rest.split(['\r', '\n']).next().unwrap_or(rest)
    }

    fn key(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_') {
            self.pos += 1;
        }
        let key = &self.src[start..self.pos];
        if key.is_empty() {
            let what = match self.peek() {
                Some(b'"' | b'\'') => "quoted keys are not supported: write the flag's name bare",
                _ => "expected a key, like port = 8080",
            };
            return Err(self.error(what));
        }
        if self.peek() == Some(b'.') {
            self.key = Some(key.to_string());
            return Err(self.error("dotted keys are not supported: put every key at the top level"));
        }
        Ok(key.to_string())
    }

    fn value(&mut self, depth: usize) -> Result<Value, SyntaxError> {
        match self.peek() {
            Some(b'"') => self.basic_string().map(Value::String),
            Some(b'\'') => self.literal_string().map(Value::String),
            Some(b'[') => self.array(depth),
            Some(b'{') => Err(self.error("inline tables are not supported")),
            Some(b't' | b'f') => self.boolean(),
            Some(c) if c.is_ascii_digit() || c == b'+' || c == b'-' || c == b'i' || c == b'n' => self.number(),
            _ => Err(self.error("expected a value: a \"string\", a number, true, false or an [array]")),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, SyntaxError> {
        if depth == MAX_ARRAY_DEPTH {
            return Err(self.error(&format!("arrays nested more than {MAX_ARRAY_DEPTH} deep")));
        }
        let opened_on = self.line;
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_blank_lines();
            match self.peek() {
                None => {
                    let mut e = self.error("the array is not closed with ]");
                    e.line = opened_on;
                    return Err(e);
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                Some(_) => {}
            }
            let line = self.line;
            items.push((line, self.value(depth + 1)?));
            self.skip_blank_lines();
            if !self.eat(b',') && self.peek() != Some(b']') {
                return Err(self.error("expected , or ] after an array item"));
            }
        }
    }

    fn boolean(&mut self) -> Result<Value, SyntaxError> {
        for (word, value) in [("true", true), ("false", false)] {
            if self.text[self.pos..].starts_with(word.as_bytes()) && !self.word_goes_on(self.pos + word.len()) {
                self.pos += word.len();
                return Ok(Value::Boolean(value));
            }
        }
        Err(self.error("expected a value: strings need quotes (\"...\")"))
    }

    fn word_goes_on(&self, at: usize) -> bool {
        self.text.get(at).is_some_and(|c| c.is_ascii_alphanumeric() || b"_-.:".contains(c))
    }

    fn number(&mut self) -> Result<Value, SyntaxError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || b"+-._:".contains(&c)) {
            self.pos += 1;
        }
        let raw = &self.src[start..self.pos];
        let unsigned = raw.trim_start_matches(['+', '-']);
        let bad = |why: &str| Err(self.error(&format!("{raw:?}: {why}")));
        if unsigned.contains(':') || (unsigned.len() >= 10 && unsigned.as_bytes()[4] == b'-') {
            return bad("dates and times are not supported; quote it if it is text");
        }
        if ["inf", "nan"].contains(&unsigned) {
            return bad("inf and nan are not supported");
        }
        if unsigned.starts_with("0x") || unsigned.starts_with("0o") || unsigned.starts_with("0b") {
            return bad("only decimal numbers are supported; quote it if it is text (\"0660\")");
        }
        if raw.len() - unsigned.len() > 1 || !underscores_between_digits(unsigned) {
            return bad("not a number; strings need quotes (\"...\")");
        }
        let text = raw.trim_start_matches('+').replace('_', "");
        let digits = unsigned.replace('_', "");
        let int_part = digits.split(['.', 'e', 'E']).next().unwrap_or("");
        if int_part.is_empty() || !int_part.bytes().all(|b| b.is_ascii_digit()) {
            return bad("not a number; strings need quotes (\"...\")");
        }
        if int_part.len() > 1 && int_part.starts_with('0') {
            return bad("leading zeros are not allowed; quote it if it is text (\"0660\")");
        }
        if digits.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Value::Integer(text));
        }
        let valid_float = text.parse::<f64>().is_ok_and(f64::is_finite)
            && !digits.contains(".e")
            && !digits.contains(".E")
            && !digits.ends_with('.');
        match valid_float {
            true => Ok(Value::Float(text)),
            false => bad("not a number; strings need quotes (\"...\")"),
        }
    }

    fn literal_string(&mut self) -> Result<String, SyntaxError> {
        if self.text[self.pos..].starts_with(b"'''") {
            return Err(self.error("multi-line strings are not supported"));
        }
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.peek() {
                None | Some(b'\n' | b'\r') => return Err(self.error("the string is not closed with '")),
                Some(b'\'') => break,
                Some(c) if c.is_ascii_control() && c != b'\t' => {
                    return Err(self.error("control characters must be escaped, in a \"string\""));
                }
                Some(_) => self.pos += 1,
            }
        }
        let s = self.src[start..self.pos].to_string();
        self.pos += 1;
        Ok(s)
    }

    fn basic_string(&mut self) -> Result<String, SyntaxError> {
        if self.text[self.pos..].starts_with(b"\"\"\"") {
            return Err(self.error("multi-line strings are not supported"));
        }
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.src[self.pos..];
            let Some(c) = rest.chars().next() else { return Err(self.error("the string is not closed with \"")) };
            self.pos += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\n' | '\r' => return Err(self.error("the string is not closed with \"")),
                '\\' => out.push(self.escape()?),
                c if c.is_control() && c != '\t' => {
                    return Err(self.error("control characters must be escaped"));
                }
                c => out.push(c),
            }
        }
    }

    fn escape(&mut self) -> Result<char, SyntaxError> {
        let Some(c) = self.peek() else { return Err(self.error("the string is not closed with \"")) };
        self.pos += 1;
        let hex_digits = match c {
            b'"' => return Ok('"'),
            b'\\' => return Ok('\\'),
            b'n' => return Ok('\n'),
            b't' => return Ok('\t'),
            b'r' => return Ok('\r'),
            b'b' => return Ok('\u{8}'),
            b'f' => return Ok('\u{c}'),
            b'u' => 4,
            b'U' => 8,
            _ => return Err(self.error(&format!("unknown escape \\{}", c as char))),
        };
        let hex = self.src.get(self.pos..self.pos + hex_digits).unwrap_or("");
        let c = u32::from_str_radix(hex, 16)
            .ok()
            .filter(|_| hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(char::from_u32)
            .ok_or(self.error(&format!("\\{} needs {hex_digits} hex digits of a Unicode scalar value", c as char)))?;
        self.pos += hex_digits;
        Ok(c)
    }
}

/// `1_000` yes; `_1`, `1_`, `1__0`, `1_.5` no.
fn underscores_between_digits(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().all(|(i, &c)| {
        c != b'_' || (i > 0 && i + 1 < b.len() && b[i - 1].is_ascii_digit() && b[i + 1].is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Value {
        let entries = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(entries.len(), 1, "{text:?}");
        entries.into_iter().next().unwrap().value
    }

    fn s(v: &str) -> Value {
        Value::String(v.to_string())
    }

    #[test]
    fn values() {
        let cases: &[(&str, Value)] = &[
            ("port = 8080", Value::Integer("8080".into())),
            ("port=+8_080 # the port", Value::Integer("8080".into())),
            ("x = -1", Value::Integer("-1".into())),
            ("x = 0", Value::Integer("0".into())),
            ("x = 0.5", Value::Float("0.5".into())),
            ("x = 1e3", Value::Float("1e3".into())),
            ("x = -2.5E-1", Value::Float("-2.5E-1".into())),
            ("x = true", Value::Boolean(true)),
            ("x = false", Value::Boolean(false)),
            ("x = \"a \\\"b\\\" \\\\ \\u00fc \\U0001F600 #\"", s("a \"b\" \\ ü 😀 #")),
            ("x = 'C:\\path\\ #1'", s("C:\\path\\ #1")),
            ("x = \"\"", s("")),
            ("x = []", Value::Array(vec![])),
            ("x = [\"a\", 'b',]", Value::Array(vec![(1, s("a")), (1, s("b"))])),
            (
                "x = [\n  \"a\", # one\n\n  [\"b\", 2],\n]\n",
                Value::Array(vec![(2, s("a")), (4, Value::Array(vec![(4, s("b")), (4, Value::Integer("2".into()))]))]),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(&one(text), expected, "{text:?}");
        }
    }

    #[test]
    fn entries_keep_their_lines() {
        let text = "# evserve\r\n\r\nport = 8080\r\n  listing = true  \n\nheader = [\n 'X-A: 1',\n]\nspa = false";
        let entries = parse(text).unwrap();
        let keys: Vec<(usize, &str)> = entries.iter().map(|e| (e.line, e.key.as_str())).collect();
        assert_eq!(keys, [(3, "port"), (4, "listing"), (6, "header"), (9, "spa")]);
        assert_eq!(entries[2].value, Value::Array(vec![(7, s("X-A: 1"))]));
        assert_eq!(parse("").unwrap(), []);
        assert_eq!(parse("\n# only a comment").unwrap(), []);
    }

    #[test]
    fn mistakes_name_the_line_and_the_key() {
        let cases: &[(&str, usize, Option<&str>, &str)] = &[
            ("port = 1\nport = 2", 2, Some("port"), "given twice (first on line 1)"),
            ("[server]\nport = 1", 1, None, "tables"),
            ("\nserver.port = 1", 2, Some("server"), "dotted keys"),
            ("\"port\" = 1", 1, None, "quoted keys"),
            ("= 1", 1, None, "expected a key"),
            ("port 8080", 1, Some("port"), "expected ="),
            ("port =", 1, Some("port"), "expected a value"),
            ("root = /srv/www", 1, Some("root"), "expected a value"),
            ("cache-control = no-cache", 1, Some("cache-control"), "strings need quotes"),
            ("port = 80 80", 1, Some("port"), "unexpected \"80\" after the value"),
            ("unix-mode = 0660", 1, Some("unix-mode"), "leading zeros"),
            ("unix-mode = 0o660", 1, Some("unix-mode"), "only decimal"),
            ("x = 1__0", 1, Some("x"), "not a number"),
            ("x = 1.", 1, Some("x"), "not a number"),
            ("x = .5", 1, Some("x"), "expected a value"),
            ("x = inf", 1, Some("x"), "inf and nan"),
            ("x = 1979-05-27", 1, Some("x"), "dates"),
            ("x = 07:32:00", 1, Some("x"), "dates"),
            ("x = trueish", 1, Some("x"), "strings need quotes"),
            ("x = \"abc", 1, Some("x"), "not closed"),
            ("x = 'abc\ny'", 1, Some("x"), "not closed"),
            ("x = \"\"\"a\"\"\"", 1, Some("x"), "multi-line"),
            ("x = \"\\q\"", 1, Some("x"), "unknown escape \\q"),
            ("x = \"\\u12\"", 1, Some("x"), "hex digits"),
            ("x = \"\\uD800\"", 1, Some("x"), "hex digits"),
            ("x = \"a\u{1}\"", 1, Some("x"), "control characters"),
            ("x = {a = 1}", 1, Some("x"), "inline tables"),
            ("\n\nx = [\n\"a\"\n\"b\"]", 5, Some("x"), "expected , or ]"),
            ("x = [\"a\",\n", 1, Some("x"), "not closed with ]"),
            ("x = [[[[[[[[[1]]]]]]]]]", 1, Some("x"), "nested"),
        ];
        for &(text, line, key, message) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!((e.line, e.key.as_deref()), (line, key), "{text:?}: {e}");
            assert!(e.message.contains(message), "{text:?}: {e}");
        }
    }
}
