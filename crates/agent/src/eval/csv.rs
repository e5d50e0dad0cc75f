//! Question files in the defog CSV format: `db_name, query_category, query, question,
//! instructions` (any column order, extra columns ignored).
//!
//! Why a small parser of our own: the format is RFC 4180 (quoted fields, doubled quotes,
//! newlines inside quotes) and we need per-row errors — a broken row must be reported as that
//! question's verdict, not abort the whole run.

/// One question to evaluate.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EvalQuestion {
    /// 1-based position in the file (data rows only).
    pub index: usize,
    /// Which database answers it (`db_name`).
    pub db_name: String,
    /// `query_category`, or empty.
    pub category: String,
    /// The question.
    pub question: String,
    /// The gold SQL: `;`-separated alternatives, `{a, b}` column subsets.
    pub gold: String,
    /// `instructions`, or empty.
    pub instructions: String,
}

/// A data row that could not be read as a question.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BadRow {
    /// 1-based position (data rows only).
    pub index: usize,
    /// Line in the file where the row starts.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Why a question file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A quoted field never ends.
    #[error("line {0}: a quoted field is not closed")]
    Unterminated(usize),
    /// The file has no header row.
    #[error("the file is empty (no header row)")]
    Empty,
    /// A required column is missing from the header.
    #[error("the header has no {0:?} column (found: {1})")]
    MissingColumn(String, String),
}

/// Splits CSV text into records with the line each starts on.
pub fn records(text: &str) -> Result<Vec<(usize, Vec<String>)>, CsvError> {
    let mut out = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut line = 1usize;
    let mut start_line = 1usize;
    let mut quote_line = 0usize;
    let mut chars = text
        .strip_prefix('\u{feff}')
        .unwrap_or(text)
        .chars()
        .peekable();
    let mut any = false;
    while let Some(ch) = chars.next() {
        if in_quotes {
            match ch {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                c => field.push(c),
            }
            continue;
        }
        match ch {
            '"' if field.is_empty() => {
                in_quotes = true;
                quote_line = line;
                any = true;
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                any = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                if any || !field.is_empty() {
                    record.push(std::mem::take(&mut field));
                    out.push((start_line, std::mem::take(&mut record)));
                }
                any = false;
                line += 1;
                start_line = line;
            }
            c => {
                field.push(c);
                any = true;
            }
        }
    }
    if in_quotes {
        return Err(CsvError::Unterminated(quote_line));
    }
    if any || !field.is_empty() {
        record.push(field);
        out.push((start_line, record));
    }
    Ok(out)
}

/// Reads questions from CSV text: every data row becomes a question or a [`BadRow`].
pub fn parse_questions(text: &str) -> Result<Vec<Result<EvalQuestion, BadRow>>, CsvError> {
    let mut recs = records(text)?.into_iter();
    let (_, header) = recs.next().ok_or(CsvError::Empty)?;
    let header: Vec<String> = header
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let need = |name: &str| {
        col(name).ok_or_else(|| CsvError::MissingColumn(name.into(), header.join(", ")))
    };
    let (q_col, gold_col, db_col) = (need("question")?, need("query")?, need("db_name")?);
    let (cat_col, ins_col) = (col("query_category"), col("instructions"));
    let mut out = Vec::new();
    for (i, (line, rec)) in recs.enumerate() {
        let index = i + 1;
        let get = |c: usize| rec.get(c).map(|s| s.trim().to_string());
        if rec.len() != header.len() {
            out.push(Err(BadRow {
                index,
                line,
                message: format!(
                    "the row has {} fields, the header {}",
                    rec.len(),
                    header.len()
                ),
            }));
            continue;
        }
        let (Some(question), Some(gold), Some(db_name)) = (get(q_col), get(gold_col), get(db_col))
        else {
            out.push(Err(BadRow {
                index,
                line,
                message: "missing fields".into(),
            }));
            continue;
        };
        let mut missing = Vec::new();
        for (name, v) in [
            ("question", &question),
            ("query", &gold),
            ("db_name", &db_name),
        ] {
            if v.is_empty() {
                missing.push(name);
            }
        }
        if !missing.is_empty() {
            out.push(Err(BadRow {
                index,
                line,
                message: format!("empty {}", missing.join(", ")),
            }));
            continue;
        }
        out.push(Ok(EvalQuestion {
            index,
            db_name,
            category: cat_col.and_then(get).unwrap_or_default(),
            question,
            gold,
            instructions: ins_col.and_then(get).unwrap_or_default(),
        }));
    }
    Ok(out)
}

/// Reads a question file.
pub fn load_questions(
    path: &std::path::Path,
) -> Result<Vec<Result<EvalQuestion, BadRow>>, CsvError> {
    let text = std::fs::read_to_string(path).map_err(|source| CsvError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_questions(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_with_commas_quotes_and_newlines() {
        let text = "db_name,query,question\r\nchinook,\"SELECT a, b FROM t WHERE x = \"\"y\"\"\",\"Two\nlines?\"\nchinook,SELECT 1,plain\n";
        let qs = parse_questions(text).unwrap();
        assert_eq!(qs.len(), 2);
        let q = qs[0].as_ref().unwrap();
        assert_eq!(q.gold, "SELECT a, b FROM t WHERE x = \"y\"");
        assert_eq!(q.question, "Two\nlines?");
        assert_eq!(qs[1].as_ref().unwrap().index, 2);
    }

    #[test]
    fn bad_rows_are_reported_one_by_one() {
        let text = "db_name,query,question\nchinook,SELECT 1\nchinook,,empty gold\nchinook,SELECT 2,fine\n";
        let qs = parse_questions(text).unwrap();
        assert!(qs[0].as_ref().unwrap_err().message.contains("2 fields"));
        assert_eq!(qs[0].as_ref().unwrap_err().line, 2);
        assert!(qs[1].as_ref().unwrap_err().message.contains("empty query"));
        assert!(qs[2].is_ok());
    }

    #[test]
    fn a_missing_column_or_open_quote_fails_the_file() {
        assert!(
            matches!(parse_questions("db_name,question\nx,y\n"), Err(CsvError::MissingColumn(c, _)) if c == "query")
        );
        assert!(matches!(
            parse_questions("db_name,query,question\nx,\"open,y\n"),
            Err(CsvError::Unterminated(2))
        ));
        assert!(matches!(parse_questions(""), Err(CsvError::Empty)));
    }
}
