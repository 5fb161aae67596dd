//! Byte offsets to 1-based line and column numbers.

/// Maps byte offsets in a text to 1-based line and column numbers.
///
/// Columns count Unicode characters, not bytes, so they match what an editor shows; a byte
/// order mark at the start, which editors do not show, is not counted.
/// Lines end at `\n`, `\r\n` or a lone `\r`.
#[derive(Debug, Clone)]
pub(crate) struct LineIndex {
    line_starts: Vec<usize>,
    /// The last answer, `(offset, line index, column)`: lookups mostly move forward, and
    /// counting characters from there keeps long single-line files fast.
    last: Option<(usize, usize, usize)>,
}

impl LineIndex {
    /// Indexes the line starts of `text`.
    pub(crate) fn new(text: &str) -> Self {
        let bytes = text.as_bytes();
        let first = if text.starts_with('\u{feff}') { 3 } else { 0 };
        let mut line_starts = vec![first];
        for (i, &byte) in bytes.iter().enumerate() {
            match byte {
                b'\n' => line_starts.push(i + 1),
                b'\r' if bytes.get(i + 1) != Some(&b'\n') => line_starts.push(i + 1),
                _ => {}
            }
        }
        LineIndex {
            line_starts,
            last: None,
        }
    }

    /// The 1-based `(line, column)` of byte `offset` in `text` (the text this index was built from).
    pub(crate) fn position(&mut self, text: &str, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(text.len()).max(self.line_starts[0]);
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let (from, column_before) = match self.last {
            Some((last_offset, last_line, column))
                if last_line == line && last_offset <= offset =>
            {
                (last_offset, column)
            }
            _ => (self.line_starts[line], 0),
        };
        let column = column_before + text.get(from..offset).map_or(0, |s| s.chars().count());
        self.last = Some((offset, line, column));
        (line + 1, column + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_and_all_line_endings() {
        let text = "ab\ncd\r\néf\rg";
        let mut index = LineIndex::new(text);
        assert_eq!(index.position(text, 0), (1, 1));
        assert_eq!(index.position(text, 1), (1, 2));
        assert_eq!(index.position(text, 3), (2, 1));
        assert_eq!(index.position(text, 7), (3, 1));
        // 'f' follows the two-byte 'é'
        assert_eq!(index.position(text, 9), (3, 2));
        assert_eq!(index.position(text, 11), (4, 1));
        assert_eq!(index.position(text, 100), (4, 2));
        // backwards lookups do not reuse the cache
        assert_eq!(index.position(text, 1), (1, 2));
    }
}
