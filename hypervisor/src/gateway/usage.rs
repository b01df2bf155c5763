//! Reading how many tokens an answer took from the provider's own reports, as they stream
//! past: OpenAI's final chunk (`usage.prompt_tokens`, `usage.completion_tokens`, asked for
//! with `stream_options.include_usage`), Anthropic's `message_start` (input) and
//! `message_delta` (output so far) events, or the `usage` of a whole JSON answer.

use serde_json::Value;

/// Longest line or whole answer looked into; longer ones pass through unread.
const MAX_HELD: usize = 4 << 20;

/// Tokens one request took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
}

impl Tokens {
    pub fn total(self) -> u64 {
        self.input.saturating_add(self.output)
    }
}

/// Watches an answer go by and keeps the latest figures it reported.
#[derive(Debug, Default)]
pub struct Scanner {
    /// The bytes since the last line end (a server-sent-events stream), or the whole answer.
    held: Vec<u8>,
    /// Too long to look into: skipped until the next line end.
    skipping: bool,
    tokens: Tokens,
}

impl Scanner {
    /// Takes in the next piece of the answer.
    pub fn feed(&mut self, bytes: &[u8]) {
        for piece in bytes.split_inclusive(|byte| *byte == b'\n') {
            let ends_line = piece.ends_with(b"\n");
            if !self.skipping {
                if self.held.len() + piece.len() > MAX_HELD {
                    self.held.clear();
                    self.skipping = true;
                } else {
                    self.held.extend_from_slice(piece);
                }
            }
            if ends_line {
                if !self.skipping {
                    let line = std::mem::take(&mut self.held);
                    self.line(&line);
                }
                self.skipping = false;
            }
        }
    }

    /// What the answer reported in all, once it is over (a whole JSON answer is read here).
    pub fn finish(mut self) -> Tokens {
        if !self.skipping && !self.held.is_empty() {
            let rest = std::mem::take(&mut self.held);
            self.line(&rest);
        }
        self.tokens
    }

    fn line(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        let json = text.strip_prefix("data:").map_or(text, str::trim_start);
        if !json.starts_with('{') {
            return;
        }
        let Ok(value) = serde_json::from_str::<Value>(json) else {
            return;
        };
        self.report(&value);
    }

    fn report(&mut self, value: &Value) {
        let number = |value: &Value| value.as_u64();
        // Anthropic's stream: the input at the start, the output (a running total) in deltas.
        match value["type"].as_str() {
            Some("message_start") => {
                let usage = &value["message"]["usage"];
                self.tokens.input = input_of(usage);
                if let Some(output) = number(&usage["output_tokens"]) {
                    self.tokens.output = output;
                }
                return;
            }
            Some("message_delta") => {
                if let Some(output) = number(&value["usage"]["output_tokens"]) {
                    self.tokens.output = output;
                }
                return;
            }
            _ => {}
        }
        let usage = &value["usage"];
        if let (Some(prompt), Some(completion)) = (
            number(&usage["prompt_tokens"]),
            number(&usage["completion_tokens"]),
        ) {
            // OpenAI (the final chunk of a stream, or a whole answer).
            self.tokens = Tokens {
                input: prompt,
                output: completion,
            };
        } else if let Some(output) = number(&usage["output_tokens"]) {
            // A whole Anthropic answer.
            self.tokens = Tokens {
                input: input_of(usage),
                output,
            };
        }
    }
}

/// Anthropic's input tokens, those read from and written to its cache included.
fn input_of(usage: &Value) -> u64 {
    [
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ]
    .iter()
    .filter_map(|key| usage[*key].as_u64())
    .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(pieces: &[&str]) -> Tokens {
        let mut scanner = Scanner::default();
        for piece in pieces {
            scanner.feed(piece.as_bytes());
        }
        scanner.finish()
    }

    #[test]
    fn an_openai_stream_reports_its_usage_in_the_last_chunk_even_cut_anywhere() {
        let stream = "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n\
                      data: {\"choices\":[],\"usage\":{\"prompt_tokens\":120,\"completion_tokens\":7,\"total_tokens\":127}}\n\n\
                      data: [DONE]\n\n";
        for cut in 0..stream.len() {
            let (a, b) = stream.split_at(cut);
            assert_eq!(
                scan(&[a, b]),
                Tokens {
                    input: 120,
                    output: 7
                },
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn an_anthropic_stream_counts_input_at_the_start_and_output_from_the_last_delta() {
        let stream = "event: message_start\n\
             data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":50,\"cache_read_input_tokens\":10,\"output_tokens\":1}}}\n\n\
             event: content_block_delta\n\
             data: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n\
             event: message_delta\n\
             data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}\n\n\
             event: message_stop\n\
             data: {\"type\":\"message_stop\"}\n\n";
        assert_eq!(
            scan(&[stream]),
            Tokens {
                input: 60,
                output: 15
            }
        );
    }

    #[test]
    fn whole_answers_report_their_usage_and_nothing_else_counts() {
        let openai = "{\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}";
        assert_eq!(scan(&[openai]).total(), 7);
        let anthropic = "{\"content\":[],\"usage\":{\"input_tokens\":5,\"output_tokens\":6}}";
        assert_eq!(scan(&[anthropic]).total(), 11);
        assert_eq!(
            scan(&["not json at all\n", "{\"error\":{}}"]),
            Tokens::default()
        );
        let huge = "x".repeat(MAX_HELD + 10);
        assert_eq!(scan(&[&huge, "\n", openai]).total(), 7);
    }
}
