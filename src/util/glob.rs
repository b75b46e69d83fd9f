//! Glob patterns on URL paths, for the rules that pick response fields by path
//! (`--header-for`, `--cache-control-for`). A pattern is matched against the path as the
//! site resolved it: percent-decoded, normalised, starting with `/`.
//!
//! - `*` matches any run of characters (perhaps none) except `/`;
//! - `**` matches any run of characters, `/` included: `/assets/**` is everything under
//!   `/assets/`; `/**/` also matches a single `/`, so `/a/**/b` matches `/a/b` too;
//! - `?` matches one character except `/`;
//! - `{a,b,c}` matches any one of the alternatives (which may hold `*`, `**` and `?`, but no
//!   further braces);
//! - every other character matches itself (case matters; there is no escape character);
//! - a pattern without a `/` (`*.html`) matches the last segment of the path, in any folder;
//!   one with a `/` matches the whole path and must start with `/` or `*`.
//!
//! Braces (and `/**/`) are expanded when the pattern is compiled, into at most
//! `MAX_ALTERNATIVES` plain patterns. Each is matched by one pass over the path keeping, for
//! every position in the pattern, whether the path read so far can end there (the textbook
//! dynamic programme): the work is bounded by pattern length × path length, whatever the
//! pattern, so no pattern can make matching take exponential time. It knows nothing of HTTP.
use std::fmt;

/// Brace groups multiply: `{a,b}{c,d}{e,f}` is 8 patterns. More than this is almost
/// certainly a mistake, and each one is another pass over the path.
pub const MAX_ALTERNATIVES: usize = 64;

/// A pattern longer than this is almost certainly a mistake; it also bounds the work of
/// one match (pattern length × path length).
pub const MAX_PATTERN_CHARS: usize = 1024;

/// One element of a compiled pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `?`
    One,
    /// `*`
    Star,
    /// `**`
    Any,
}

/// A compiled glob pattern.
#[derive(Clone, PartialEq, Eq)]
pub struct Glob {
    source: String,
    /// The brace-free patterns this one stands for; it matches when any of them does.
    alternatives: Vec<Vec<Token>>,
    /// No `/` in the pattern: match the path's last segment only.
    last_segment: bool,
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.source)
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Glob {
    /// Compiles `pattern`, or says what is wrong with it.
    pub fn new(pattern: &str) -> Result<Glob, String> {
        if pattern.is_empty() {
            return Err("empty pattern".into());
        }
        if pattern.chars().count() > MAX_PATTERN_CHARS {
            return Err(format!("longer than {MAX_PATTERN_CHARS} characters"));
        }
        let last_segment = !pattern.contains('/');
        if !last_segment && !pattern.starts_with(['/', '*']) {
            return Err(format!("a pattern with a / matches the whole path: start it with /, got {pattern:?}"));
        }
        let mut alternatives = Vec::new();
        for expanded in expand_braces(pattern)? {
            for plain in expand_slash_any_slash(&expanded) {
                if alternatives.len() == MAX_ALTERNATIVES {
                    return Err(format!("more than {MAX_ALTERNATIVES} alternatives"));
                }
                alternatives.push(tokens(&plain));
            }
        }
        Ok(Glob { source: pattern.to_string(), alternatives, last_segment })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `path` (decoded, normalised, starting with `/`) matches.
    pub fn matches(&self, path: &str) -> bool {
        self.matches_counting(path).0
    }

    /// `matches`, and the number of pattern-position × character steps it took (for tests
    /// that check the work stays bounded).
    fn matches_counting(&self, path: &str) -> (bool, usize) {
        let subject = match self.last_segment {
            true => path.rsplit('/').next().unwrap_or(path),
            false => path,
        };
        let chars: Vec<char> = subject.chars().collect();
        let mut steps = 0;
        for pattern in &self.alternatives {
            let (matched, n) = match_tokens(pattern, &chars);
            steps += n;
            if matched {
                return (true, steps);
            }
        }
        (false, steps)
    }
}

/// Whether `tokens` match all of `text`, and the steps taken. `row[j]`: the text read so
/// far can be matched by the first `j` tokens.
fn match_tokens(tokens: &[Token], text: &[char]) -> (bool, usize) {
    let mut row = vec![false; tokens.len() + 1];
    row[0] = true;
    for (j, t) in tokens.iter().enumerate() {
        row[j + 1] = row[j] && matches!(t, Token::Star | Token::Any);
    }
    let mut next = vec![false; tokens.len() + 1];
    let mut steps = 0;
    for &c in text {
        next[0] = false;
        for (j, t) in tokens.iter().enumerate() {
            steps += 1;
            next[j + 1] = match *t {
                Token::Char(x) => row[j] && c == x,
                Token::One => row[j] && c != '/',
                // Empty here (the row to the left), or one more character (the row above).
                Token::Star => next[j] || (row[j + 1] && c != '/'),
                Token::Any => next[j] || row[j + 1],
            };
        }
        std::mem::swap(&mut row, &mut next);
        if !row.contains(&true) {
            return (false, steps);
        }
    }
    (row[tokens.len()], steps)
}

fn tokens(pattern: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                // `***` is `**` followed by `*`, which adds nothing.
                while chars.peek() == Some(&'*') {
                    chars.next();
                }
                Token::Any
            }
            '*' => Token::Star,
            '?' => Token::One,
            c => Token::Char(c),
        });
    }
    out
}

/// `a{b,c}d{e,f}` -> `abde`, `abdf`, `acde`, `acdf`.
fn expand_braces(pattern: &str) -> Result<Vec<String>, String> {
    let mut out = vec![String::new()];
    let mut rest = pattern;
    while !rest.is_empty() {
        let open = rest.find(['{', '}']).unwrap_or(rest.len());
        let (plain, tail) = rest.split_at(open);
        out.iter_mut().for_each(|p| p.push_str(plain));
        if tail.is_empty() {
            break;
        }
        if tail.starts_with('}') {
            return Err(format!("a }} without its {{ in {pattern:?}"));
        }
        let close = tail.find('}').ok_or(format!("a {{ without its }} in {pattern:?}"))?;
        let inner = &tail[1..close];
        if inner.contains('{') {
            return Err(format!("braces cannot nest, in {pattern:?}"));
        }
        let choices: Vec<&str> = inner.split(',').collect();
        if out.len() * choices.len() > MAX_ALTERNATIVES {
            return Err(format!("more than {MAX_ALTERNATIVES} alternatives"));
        }
        out = out.iter().flat_map(|p| choices.iter().map(move |c| format!("{p}{c}"))).collect();
        rest = &tail[close + 1..];
    }
    Ok(out)
}

/// `/a/**/b` -> `/a/**/b` and `/a/b`: a `**` that is a whole folder name between two
/// slashes may also stand for no folder at all (each such `**` kept or dropped).
fn expand_slash_any_slash(pattern: &str) -> Vec<String> {
    let segments: Vec<&str> = pattern.split('/').collect();
    let last = segments.len() - 1;
    let mut out: Vec<Vec<&str>> = vec![Vec::new()];
    for (i, segment) in segments.iter().enumerate() {
        let optional = *segment == "**" && i != 0 && i != last && out.len() * 2 <= MAX_ALTERNATIVES;
        if optional {
            let without = out.clone();
            out.iter_mut().for_each(|p| p.push(segment));
            out.extend(without);
        } else {
            out.iter_mut().for_each(|p| p.push(segment));
        }
    }
    out.into_iter().map(|p| p.join("/")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (pattern, path, matches)
    const CASES: &[(&str, &str, bool)] = &[
        // A pattern without a slash: the last segment, in any folder.
        ("*.html", "/index.html", true),
        ("*.html", "/a/b/page.html", true),
        ("*.html", "/a/b/page.htm", false),
        ("*.html", "/a.html/b", false),
        ("*.html", "/.html", true),
        ("index.html", "/docs/index.html", true),
        ("index.html", "/docs/index.htmlx", false),
        ("*", "/", true),
        ("?", "/a/b", true),
        ("?", "/a/bc", false),
        ("*.{js,css}", "/app/main.css", true),
        ("*.{js,css}", "/app/main.jsx", false),
        ("{,*.}map", "/x/app.js.map", true),
        ("{,*.}map", "/map", true),
        // A pattern with a slash: the whole path.
        ("/assets/**", "/assets/app.js", true),
        ("/assets/**", "/assets/a/b/c.png", true),
        ("/assets/**", "/assets/", true),
        ("/assets/**", "/assets", false),
        ("/assets/**", "/static/assets/x", false),
        ("/assets/*", "/assets/app.js", true),
        ("/assets/*", "/assets/a/app.js", false),
        ("/a/**/b", "/a/b", true),
        ("/a/**/b", "/a/x/b", true),
        ("/a/**/b", "/a/x/y/b", true),
        ("/a/**/b", "/a/xb", false),
        ("/a/**/**/b", "/a/b", true),
        ("/a/**/**/b", "/a/x/y/b", true),
        ("**/*.js", "/a/b.js", true),
        ("**/*.js", "/b.js", true),
        ("**/*.js", "/b.json", false),
        ("/**", "/", true),
        ("/**", "/anything/at/all", true),
        ("/?.txt", "/a.txt", true),
        ("/?.txt", "/ab.txt", false),
        ("/{docs,blog}/*.html", "/blog/x.html", true),
        ("/{docs,blog}/*.html", "/news/x.html", false),
        ("/{docs,blog}/**", "/docs/a/b", true),
        ("/*/index.html", "/en/index.html", true),
        ("/*/index.html", "/index.html", false),
        ("/ü/*", "/ü/x", true),
        ("/?", "/ü", true),
        ("/A", "/a", false),
        ("/a*b*c", "/abc", true),
        ("/a*b*c", "/aXbYc", true),
        ("/a*b*c", "/aXbY/c", false),
    ];

    #[test]
    fn the_table() {
        for &(pattern, path, expected) in CASES {
            let glob = Glob::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
            assert_eq!(glob.matches(path), expected, "{pattern:?} on {path:?}");
        }
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in ["", "a/b", "/{a,b", "/a}", "/{a,{b}}", "/{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}"] {
            assert!(Glob::new(bad).is_err(), "{bad:?}");
        }
        assert!(Glob::new(&"/a".repeat(MAX_PATTERN_CHARS)).is_err());
        assert!(Glob::new("/{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}").is_ok(), "64 alternatives");
    }

    #[test]
    fn a_pathological_pattern_takes_bounded_work() {
        // A backtracking matcher tries every way of splitting the a's among the stars:
        // exponential in the number of stars. Here each alternative is one pass.
        let path = format!("/{}", "a".repeat(2000));
        for pattern in ["**a**a**a**a**b", "/*a*a*a*a*a*a*a*a*b", "/{*a,**a}*a*a*a*a*b"] {
            let glob = Glob::new(pattern).unwrap();
            let (matched, steps) = glob.matches_counting(&path);
            assert!(!matched, "{pattern}");
            let tokens: usize = glob.alternatives.iter().map(Vec::len).sum();
            assert!(steps <= tokens * path.chars().count(), "{pattern}: {steps} steps");
        }
        let glob = Glob::new("**a**a**a**a**").unwrap();
        assert!(glob.matches(&path));
    }

    #[test]
    fn it_shows_as_written() {
        let glob = Glob::new("/assets/**").unwrap();
        assert_eq!((glob.as_str(), glob.to_string()), ("/assets/**", "/assets/**".to_string()));
    }
}
