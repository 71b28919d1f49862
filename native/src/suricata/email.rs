//! `email.utils.getaddresses` (CPython 3.11 with the strict parsing of CVE-2023-27043) reduced to the
//! addresses: `_addresses` keeps only those, so names are parsed (their syntax moves the parser) but
//! not kept.

const SPECIALS: &str = "()<>@,:;.\"[]";

/// `[address for _, address in getaddresses(values) if address]`.
pub fn addresses(values: &[&str]) -> Vec<String> {
    let checked: Vec<String> = values
        .iter()
        .map(|v| {
            if balanced_parentheses(v) {
                v.to_string()
            } else {
                "('', '')".to_string()
            }
        })
        .collect();
    let joined: Vec<char> = checked.join(", ").chars().collect();
    let parsed = AddressList::parse(&joined);
    let expected: usize = checked
        .iter()
        .map(|v| {
            1 + strip_quoted_names(&v.chars().collect::<Vec<_>>())
                .iter()
                .filter(|&&c| c == ',')
                .count()
        })
        .sum();
    if parsed.len() != expected {
        return Vec::new();
    }
    parsed
        .into_iter()
        .filter(|a| !a.is_empty() && !a.contains('['))
        .collect()
}

/// `_iter_escaped_chars`: (position, character, escaped by a backslash).
fn escaped_chars(text: &[char]) -> Vec<(usize, char, bool)> {
    let mut out = Vec::with_capacity(text.len());
    let mut escape = false;
    let mut last = 0;
    for (pos, &ch) in text.iter().enumerate() {
        last = pos;
        if escape {
            out.push((pos, ch, true));
            escape = false;
        } else if ch == '\\' {
            escape = true;
        } else {
            out.push((pos, ch, false));
        }
    }
    if escape {
        out.push((last, '\\', false));
    }
    out
}

/// `_strip_quoted_realnames`.
fn strip_quoted_names(text: &[char]) -> Vec<char> {
    if !text.contains(&'"') {
        return text.to_vec();
    }
    let mut start = 0;
    let mut open: Option<usize> = None;
    let mut out = Vec::new();
    for (pos, ch, escaped) in escaped_chars(text) {
        if ch == '"' && !escaped {
            match open {
                None => open = Some(pos),
                Some(open_pos) => {
                    if start != open_pos {
                        out.extend_from_slice(&text[start..open_pos]);
                    }
                    start = pos + 1;
                    open = None;
                }
            }
        }
    }
    if start < text.len() {
        out.extend_from_slice(&text[start..]);
    }
    out
}

/// `_check_parenthesis`.
fn balanced_parentheses(text: &str) -> bool {
    let stripped = strip_quoted_names(&text.chars().collect::<Vec<_>>());
    let mut opens = 0i64;
    for (_, ch, escaped) in escaped_chars(&stripped) {
        if escaped {
            continue;
        }
        if ch == '(' {
            opens += 1;
        } else if ch == ')' {
            opens -= 1;
            if opens < 0 {
                return false;
            }
        }
    }
    opens == 0
}

/// `email._parseaddr.AddressList`, keeping addresses only.
struct AddressList<'a> {
    field: &'a [char],
    pos: usize,
}

/// Python's `str.isspace` for one character (what `strip` removes).
fn py_isspace(ch: char) -> bool {
    matches!(ch, '\t'..='\r' | '\x1c'..='\x1f' | ' ' | '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}'
        | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
}

fn is_in(ch: char, set: &str) -> bool {
    set.contains(ch)
}

const LWS: &str = " \t";
const FWS: &str = " \t\r\n";
const ATOMENDS: &str = "()<>@,:;.\"[] \t\r\n";
const PHRASEENDS: &str = "()<>@,:;\"[] \t\r\n";

impl<'a> AddressList<'a> {
    fn parse(field: &'a [char]) -> Vec<String> {
        let mut list = AddressList { field, pos: 0 };
        let mut result = Vec::new();
        while list.pos < field.len() {
            let found = list.getaddress();
            if found.is_empty() {
                result.push(String::new());
            } else {
                result.extend(found);
            }
        }
        result
    }

    fn cur(&self) -> char {
        self.field[self.pos]
    }

    fn more(&self) -> bool {
        self.pos < self.field.len()
    }

    fn gotonext(&mut self) -> String {
        let mut whitespace = String::new();
        while self.more() {
            let ch = self.cur();
            if is_in(ch, " \t\n\r") {
                if !is_in(ch, "\n\r") {
                    whitespace.push(ch);
                }
                self.pos += 1;
            } else if ch == '(' {
                self.getdelimited('(', ")\r", true);
            } else {
                break;
            }
        }
        whitespace
    }

    fn getaddress(&mut self) -> Vec<String> {
        self.gotonext();
        let oldpos = self.pos;
        let phrases = self.getphraselist();
        self.gotonext();
        let mut found = Vec::new();
        if !self.more() {
            if let Some(first) = phrases.into_iter().next() {
                found.push(first);
            }
        } else if is_in(self.cur(), ".@") {
            self.pos = oldpos;
            found.push(self.getaddrspec());
        } else if self.cur() == ':' {
            self.pos += 1;
            while self.more() {
                self.gotonext();
                if self.more() && self.cur() == ';' {
                    self.pos += 1;
                    break;
                }
                found.extend(self.getaddress());
            }
        } else if self.cur() == '<' {
            found.push(self.getrouteaddr());
        } else if let Some(first) = phrases.into_iter().next() {
            found.push(first);
        } else if is_in(self.cur(), SPECIALS) {
            self.pos += 1;
        }
        self.gotonext();
        if self.more() && self.cur() == ',' {
            self.pos += 1;
        }
        found
    }

    fn getrouteaddr(&mut self) -> String {
        let mut expectroute = false;
        self.pos += 1;
        self.gotonext();
        let mut address = String::new();
        while self.more() {
            if expectroute {
                self.getdomain();
                expectroute = false;
            } else if self.cur() == '>' {
                self.pos += 1;
                break;
            } else if self.cur() == '@' {
                self.pos += 1;
                expectroute = true;
            } else if self.cur() == ':' {
                self.pos += 1;
            } else {
                address = self.getaddrspec();
                self.pos += 1;
                break;
            }
            self.gotonext();
        }
        address
    }

    fn getaddrspec(&mut self) -> String {
        let mut parts: Vec<String> = Vec::new();
        self.gotonext();
        while self.more() {
            let mut preserve_ws = true;
            let ch = self.cur();
            if ch == '.' {
                if parts.last().is_some_and(|p| p.chars().all(py_isspace)) {
                    parts.pop();
                }
                parts.push(".".into());
                self.pos += 1;
                preserve_ws = false;
            } else if ch == '"' {
                let quoted = self.getdelimited('"', "\"\r", false);
                parts.push(format!(
                    "\"{}\"",
                    quoted.replace('\\', "\\\\").replace('"', "\\\"")
                ));
            } else if is_in(ch, ATOMENDS) {
                if parts.last().is_some_and(|p| p.chars().all(py_isspace)) {
                    parts.pop();
                }
                break;
            } else {
                parts.push(self.getatom(ATOMENDS));
            }
            let whitespace = self.gotonext();
            if preserve_ws && !whitespace.is_empty() {
                parts.push(whitespace);
            }
        }
        if !self.more() || self.cur() != '@' {
            return parts.concat();
        }
        parts.push("@".into());
        self.pos += 1;
        self.gotonext();
        let domain = self.getdomain();
        if domain.is_empty() {
            return String::new();
        }
        parts.concat() + &domain
    }

    fn getdomain(&mut self) -> String {
        let mut parts: Vec<String> = Vec::new();
        while self.more() {
            let ch = self.cur();
            if is_in(ch, LWS) {
                self.pos += 1;
            } else if ch == '(' {
                self.getdelimited('(', ")\r", true);
            } else if ch == '[' {
                parts.push(format!("[{}]", self.getdelimited('[', "]\r", false)));
            } else if ch == '.' {
                self.pos += 1;
                parts.push(".".into());
            } else if ch == '@' {
                return String::new();
            } else if is_in(ch, ATOMENDS) {
                break;
            } else {
                parts.push(self.getatom(ATOMENDS));
            }
        }
        parts.concat()
    }

    fn getdelimited(&mut self, begin: char, ends: &str, comments: bool) -> String {
        if self.cur() != begin {
            return String::new();
        }
        let mut out = String::new();
        let mut quote = false;
        self.pos += 1;
        while self.more() {
            let ch = self.cur();
            if quote {
                out.push(ch);
                quote = false;
            } else if is_in(ch, ends) {
                self.pos += 1;
                break;
            } else if comments && ch == '(' {
                let comment = self.getdelimited('(', ")\r", true);
                out.push_str(&comment);
                continue;
            } else if ch == '\\' {
                quote = true;
            } else {
                out.push(ch);
            }
            self.pos += 1;
        }
        out
    }

    fn getatom(&mut self, ends: &str) -> String {
        let mut out = String::new();
        while self.more() && !is_in(self.cur(), ends) {
            out.push(self.cur());
            self.pos += 1;
        }
        out
    }

    fn getphraselist(&mut self) -> Vec<String> {
        let mut phrases = Vec::new();
        while self.more() {
            let ch = self.cur();
            if is_in(ch, FWS) {
                self.pos += 1;
            } else if ch == '"' {
                phrases.push(self.getdelimited('"', "\"\r", false));
            } else if ch == '(' {
                self.getdelimited('(', ")\r", true);
            } else if is_in(ch, PHRASEENDS) {
                break;
            } else {
                phrases.push(self.getatom(PHRASEENDS));
            }
        }
        phrases
    }
}

#[cfg(test)]
mod tests {
    use super::addresses;

    #[test]
    fn addresses_as_getaddresses_finds_them() {
        assert_eq!(
            addresses(&["\"Alerts\" <alerts@example.gov.cn>"]),
            vec!["alerts@example.gov.cn"]
        );
        assert_eq!(addresses(&["<a@b>", "c@d, e@f"]), vec!["a@b", "c@d", "e@f"]);
        assert_eq!(
            addresses(&["alice@example.com <bob@example.com>"]),
            Vec::<String>::new()
        );
        assert_eq!(addresses(&["a@[1.2.3.4]"]), Vec::<String>::new());
        assert_eq!(addresses(&["(unbalanced <a@b>"]), Vec::<String>::new());
    }
}
