//! A parser for the Python literals that appear in `.npy` headers: a dict with string keys
//! whose values are strings, integers (Python 2's `3L` too), `True`/`False`/`None`, tuples
//! and lists. Nothing else is accepted; errors are short phrases for `BadHeader` messages.

/// The values a header dict holds.
#[derive(Debug)]
pub(crate) enum Value {
    Str(String),
    Int(i128),
    Bool(bool),
    None,
    /// A tuple or a list.
    Seq(Vec<Value>),
}

/// A recursive-descent parser for the Python literals that appear in `.npy` headers.
pub(crate) struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(text: &'a [u8]) -> Self {
        Parser { text, pos: 0 }
    }

    /// Parses the whole text as one dict with string keys.
    pub(crate) fn dict(mut self) -> Result<Vec<(String, Value)>, String> {
        self.expect(b'{')?;
        let mut entries = Vec::new();
        while self.peek() != Some(b'}') {
            let Value::Str(key) = self.value(0)? else {
                return Err("a key is not a string".into());
            };
            self.expect(b':')?;
            entries.push((key, self.value(0)?));
            if !self.comma_or(b'}')? {
                break;
            }
        }
        self.expect(b'}')?;
        match self.peek() {
            None => Ok(entries),
            Some(c) => Err(format!("unexpected {} after the dict", show(c))),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > 16 {
            return Err("nested too deeply".into());
        }
        match self.peek().ok_or("it ends too early")? {
            q @ (b'\'' | b'"') => {
                self.pos += 1;
                let start = self.pos;
                while self.text.get(self.pos).is_some_and(|&c| c != q) {
                    self.pos += 1;
                }
                let s = String::from_utf8_lossy(&self.text[start..self.pos]).into_owned();
                self.expect(q)?;
                Ok(Value::Str(s))
            }
            open @ (b'(' | b'[') => {
                self.pos += 1;
                let close = if open == b'(' { b')' } else { b']' };
                let mut items = Vec::new();
                while self.peek() != Some(close) {
                    items.push(self.value(depth + 1)?);
                    if !self.comma_or(close)? {
                        break;
                    }
                }
                self.expect(close)?;
                Ok(Value::Seq(items))
            }
            c if c.is_ascii_digit() || c == b'-' => {
                let start = self.pos;
                self.pos += 1;
                while self.text.get(self.pos).is_some_and(u8::is_ascii_digit) {
                    self.pos += 1;
                }
                let digits = std::str::from_utf8(&self.text[start..self.pos]).unwrap_or("");
                let n = digits
                    .parse()
                    .map_err(|_| format!("{digits:?} is not a valid integer"))?;
                if self.text.get(self.pos) == Some(&b'L') {
                    self.pos += 1; // Python 2 wrote long integers as `3L`
                }
                Ok(Value::Int(n))
            }
            _ => {
                let start = self.pos;
                while self
                    .text
                    .get(self.pos)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    self.pos += 1;
                }
                match &self.text[start..self.pos] {
                    b"True" => Ok(Value::Bool(true)),
                    b"False" => Ok(Value::Bool(false)),
                    b"None" => Ok(Value::None),
                    _ => Err(format!("unexpected {}", show(self.text[start]))),
                }
            }
        }
    }

    /// After an item: a comma (true, more may follow) or the closing bracket (false).
    fn comma_or(&mut self, close: u8) -> Result<bool, String> {
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(c) if c == close => Ok(false),
            Some(c) => Err(format!(
                "expected `,` or {}, found {}",
                show(close),
                show(c)
            )),
            None => Err("it ends too early".into()),
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        match self.peek() {
            Some(got) if got == c => {
                self.pos += 1;
                Ok(())
            }
            Some(got) => Err(format!("expected {}, found {}", show(c), show(got))),
            None => Err(format!("expected {}, but it ends", show(c))),
        }
    }

    /// The next byte that is not whitespace (headers are padded with spaces and end in '\n').
    fn peek(&mut self) -> Option<u8> {
        while self.text.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
        self.text.get(self.pos).copied()
    }
}

/// A header byte for messages: `x` in backticks, or its hex value if it is not printable.
fn show(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("`{}`", c as char)
    } else {
        format!("byte 0x{c:02x}")
    }
}
