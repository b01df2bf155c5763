//! Fitting a conversation into the model's context: when the whole does not fit, tool outputs
//! of earlier turns are cut short with a marker and the oldest turns are left out, and the
//! latest turn is always kept (its own tool outputs cut harder if need be). A turn whose
//! question alone does not fit is refused with the numbers, and the thread stays usable: the
//! next turn leaves that one out like any old turn.

use super::provider::Message;

/// Context and answer sizes, in tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The model's whole context window.
    pub context_tokens: u32,
    /// Room kept for the answer (sent as `max_tokens`).
    pub max_tokens: u32,
}

/// Context windows of known model families, by name prefix (the first match wins).
const KNOWN_CONTEXTS: &[(&str, u32)] = &[
    ("gpt-4.1", 1_000_000),
    ("gpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-5", 400_000),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4", 200_000),
    ("claude", 200_000),
    ("smollm2", 8_192),
    ("llama3", 8_192),
    ("qwen2.5", 32_768),
];

/// The context assumed for a model not in the table: small enough for most local models.
pub const FALLBACK_CONTEXT: u32 = 8_192;

impl Budget {
    /// The budget for `model`, with what the configuration says overriding the defaults.
    pub fn for_model(model: &str, context_tokens: Option<u32>, max_tokens: Option<u32>) -> Self {
        let name = model.to_ascii_lowercase();
        let name = name.rsplit('/').next().unwrap_or(&name);
        let context_tokens = context_tokens.unwrap_or_else(|| {
            KNOWN_CONTEXTS
                .iter()
                .find(|(prefix, _)| name.starts_with(prefix))
                .map_or(FALLBACK_CONTEXT, |(_, tokens)| *tokens)
        });
        let max_tokens = max_tokens.unwrap_or((context_tokens / 4).clamp(256, 4096));
        Self {
            context_tokens,
            max_tokens: max_tokens.min(context_tokens / 2).max(1),
        }
    }
}

/// A conservative count of the tokens `text` takes: about three bytes a token (English runs
/// near four; code and other scripts fewer).
pub fn estimate(text: &str) -> usize {
    text.len().div_ceil(3)
}

/// Tokens a message takes, with a little for its framing.
fn message_tokens(message: &Message) -> usize {
    const FRAMING: usize = 6;
    FRAMING
        + match message {
            Message::User(text) => estimate(text),
            Message::Assistant { text, tool_calls } => {
                estimate(text)
                    + tool_calls
                        .iter()
                        .map(|call| {
                            FRAMING + estimate(&call.name) + estimate(&call.arguments.to_string())
                        })
                        .sum::<usize>()
            }
            Message::ToolResult { call_id, output } => estimate(call_id) + estimate(output),
        }
}

/// Earlier turns are left out this many at a time (fewer only when nothing else is left).
const DROP_BLOCK: usize = 8;

/// Longest tool output kept in turns before the latest, in characters.
pub const EARLIER_OUTPUT_CHARS: usize = 2_000;
/// The caps tried in turn on the latest turn's tool outputs when it does not fit.
const LATEST_OUTPUT_CAPS: &[usize] = &[16_000, 4_000, 1_000, 200];

/// What fits.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    pub messages: Vec<Message>,
    /// Earlier turns left out.
    pub dropped_turns: usize,
    /// The estimate of the request's input tokens.
    pub tokens: usize,
}

/// The latest turn does not fit even alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "this turn needs about {needed} tokens of context, but the model's {context} tokens leave \
     {available} once the instructions, the tools and {max_tokens} tokens for the answer are \
     counted; shorten the message or raise context_tokens"
)]
pub struct TooLarge {
    pub needed: usize,
    pub available: usize,
    pub context: u32,
    pub max_tokens: u32,
}

/// Fits `messages` (a whole conversation, oldest first) into `budget` after `fixed` tokens of
/// system prompt and tool schemas.
pub fn fit(messages: Vec<Message>, fixed: usize, budget: Budget) -> Result<Fitted, TooLarge> {
    let available =
        (budget.context_tokens as usize).saturating_sub(budget.max_tokens as usize + fixed);
    let mut turns = split_turns(messages);
    let cost = |turn: &[Message]| turn.iter().map(message_tokens).sum::<usize>();
    // Earlier turns' tool outputs are cut only when the whole does not fit as it is.
    if turns.iter().map(|turn| cost(turn)).sum::<usize>() > available {
        let last = turns.len().saturating_sub(1);
        for turn in &mut turns[..last] {
            cap_outputs(turn, EARLIER_OUTPUT_CHARS);
        }
    }
    let mut dropped_turns = 0;
    if let Some(latest) = turns.last_mut() {
        for cap in LATEST_OUTPUT_CAPS {
            if cost(latest) <= available {
                break;
            }
            cap_outputs(latest, *cap);
        }
        // Questions that piled up unanswered (a turn that failed, say because one was too
        // large) lead the latest turn: the older of them go first.
        while cost(latest) > available && leading_questions(latest) > 1 {
            latest.remove(0);
            dropped_turns += 1;
        }
        let needed = cost(latest);
        if needed > available {
            return Err(TooLarge {
                needed,
                available,
                context: budget.context_tokens,
                max_tokens: budget.max_tokens,
            });
        }
    }
    let mut total: usize = turns.iter().map(|turn| cost(turn)).sum();
    // Whole blocks of turns go, so the start of the conversation stays the same for the next
    // turns and a server's prompt cache keeps working (dropping one turn at a time would
    // change the start at every turn once a thread is over budget).
    let mut dropped = 0;
    while total > available && turns.len() > 1 {
        total -= cost(&turns.remove(0));
        dropped += 1;
    }
    while dropped % DROP_BLOCK != 0 && turns.len() > 1 {
        total -= cost(&turns.remove(0));
        dropped += 1;
    }
    dropped_turns += dropped;
    Ok(Fitted {
        messages: turns.into_iter().flatten().collect(),
        dropped_turns,
        tokens: total + fixed,
    })
}

/// Turns: each starts with the user message(s) it answers. Anything before the first user
/// message (an answer whose question was cut off by the read window) is left out, so the
/// request starts with the user, as Anthropic requires.
fn split_turns(messages: Vec<Message>) -> Vec<Vec<Message>> {
    let mut turns: Vec<Vec<Message>> = Vec::new();
    let mut previous_was_user = false;
    for message in messages {
        let is_user = matches!(message, Message::User(_));
        if is_user && !previous_was_user {
            turns.push(Vec::new());
        }
        previous_was_user = is_user;
        if let Some(turn) = turns.last_mut() {
            turn.push(message);
        }
    }
    turns
}

/// How many user messages a turn starts with.
fn leading_questions(turn: &[Message]) -> usize {
    turn.iter()
        .take_while(|message| matches!(message, Message::User(_)))
        .count()
}

/// Cuts each tool output in `turn` to `cap` characters, saying how much was left out.
fn cap_outputs(turn: &mut [Message], cap: usize) {
    for message in turn {
        if let Message::ToolResult { output, .. } = message {
            let total = output.chars().count();
            if total > cap {
                let kept: String = output.chars().take(cap).collect();
                *output = format!(
                    "{kept}\n[{} more characters of this output were left out of the conversation]",
                    total - cap
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(text: &str) -> Message {
        Message::User(text.into())
    }

    fn answer(text: &str) -> Message {
        Message::Assistant {
            text: text.into(),
            tool_calls: Vec::new(),
        }
    }

    #[test]
    fn known_models_and_fallback() {
        assert_eq!(
            Budget::for_model("gpt-4o-mini", None, None).context_tokens,
            128_000
        );
        assert_eq!(
            Budget::for_model("anthropic/claude-3-5-haiku", None, None).context_tokens,
            200_000
        );
        let unknown = Budget::for_model("my-local-thing", None, None);
        assert_eq!(
            unknown,
            Budget {
                context_tokens: FALLBACK_CONTEXT,
                max_tokens: 2048
            }
        );
        let set = Budget::for_model("gpt-4o", Some(4000), Some(100_000));
        assert_eq!(
            set,
            Budget {
                context_tokens: 4000,
                max_tokens: 2000
            }
        );
    }

    #[test]
    fn old_turns_dropped_latest_kept_and_a_huge_question_refused() {
        let budget = Budget {
            context_tokens: 1000,
            max_tokens: 200,
        };
        let big = "x".repeat(1200);
        let messages = vec![
            user(&big),
            answer("a"),
            user(&big),
            answer("b"),
            user("now?"),
        ];
        let fitted = fit(messages, 100, budget).unwrap();
        // Both earlier turns go: a block of them, never the latest.
        assert_eq!(fitted.dropped_turns, 2);
        assert_eq!(fitted.messages, vec![user("now?")]);
        assert!(fitted.tokens <= 800);

        // Blocks: the start of what is sent stays put while the thread grows.
        let many = |n: usize| {
            (0..n)
                .flat_map(|i| [user(&format!("{i}: {big}")), answer("ok")])
                .chain([user("last")])
                .collect::<Vec<_>>()
        };
        let big_budget = Budget {
            context_tokens: 6000,
            max_tokens: 200,
        };
        let first = fit(many(20), 0, big_budget).unwrap();
        let later = fit(many(21), 0, big_budget).unwrap();
        assert_eq!(first.dropped_turns % DROP_BLOCK, 0);
        assert_eq!(first.dropped_turns, later.dropped_turns);
        assert_eq!(first.messages.first(), later.messages.first());

        let huge = "y".repeat(10_000);
        let err = fit(vec![user("hi"), answer("a"), user(&huge)], 100, budget).unwrap_err();
        assert_eq!((err.available, err.context), (700, 1000));
        assert!(err.needed > 3000, "{err}");
        // The next turn leaves the huge one out and goes on, answered or not.
        let later = vec![user(&huge), answer(""), user("and now?")];
        let fitted = fit(later, 100, budget).unwrap();
        assert_eq!(fitted.messages, vec![user("and now?")]);
        let unanswered = vec![user("hi"), answer("a"), user(&huge), user("and now?")];
        let fitted = fit(unanswered, 100, budget).unwrap();
        assert_eq!(
            fitted.messages,
            vec![user("hi"), answer("a"), user("and now?")]
        );
        assert_eq!(fitted.dropped_turns, 1);
    }

    #[test]
    fn tool_outputs_are_cut_with_a_marker() {
        let budget = Budget {
            context_tokens: 3000,
            max_tokens: 500,
        };
        let result = |output: &str| Message::ToolResult {
            call_id: "c1".into(),
            output: output.into(),
        };
        let long = "z".repeat(20_000);
        let messages = vec![
            user("q1"),
            answer("a1"),
            result(&long),
            user("q2"),
            result(&long),
        ];
        let fitted = fit(messages, 0, budget).unwrap();
        let Message::ToolResult { output, .. } = &fitted.messages[2] else {
            panic!("{:?}", fitted.messages)
        };
        assert!(output.starts_with(&"z".repeat(EARLIER_OUTPUT_CHARS)));
        assert!(output
            .ends_with("[18000 more characters of this output were left out of the conversation]"));
        assert!(fitted.tokens <= 2500);
        // Nothing is cut when everything fits.
        let short = vec![
            user("q1"),
            answer("a1"),
            result(&"w".repeat(5000)),
            user("q2"),
        ];
        let fitted = fit(
            short.clone(),
            0,
            Budget {
                context_tokens: 200_000,
                max_tokens: 500,
            },
        )
        .unwrap();
        assert_eq!(fitted.messages, short);
        // Leading answers without their question are not sent.
        let fitted = fit(vec![answer("orphan"), user("q")], 0, budget).unwrap();
        assert_eq!(fitted.messages, vec![user("q")]);
    }
}
