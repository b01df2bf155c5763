//! The semantic palette: widgets ask for a role, never a colour. With `NO_COLOR` set every
//! role is the terminal's default colours, with bold/reverse kept for what must stand out.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// Colours unless `NO_COLOR` is set (to anything non-empty), as no-color.org asks.
    pub fn from_env() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        Self { color: !no_color }
    }

    pub fn colored() -> Self {
        Self { color: true }
    }

    pub fn monochrome() -> Self {
        Self { color: false }
    }

    fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    /// How an app's span is drawn (its colour only with colours on).
    pub fn app_span(&self, style: choir_proto::apps::SpanStyle) -> Style {
        use choir_proto::apps::Color as App;
        let mut drawn = match style.fg {
            App::Default => Style::new(),
            App::Red => self.fg(Color::Red),
            App::Green => self.fg(Color::Green),
            App::Yellow => self.fg(Color::Yellow),
            App::Blue => self.fg(Color::Blue),
            App::Magenta => self.fg(Color::Magenta),
            App::Cyan => self.fg(Color::Cyan),
            App::Gray => self.fg(Color::DarkGray),
        };
        for (on, modifier) in [
            (style.bold, Modifier::BOLD),
            (style.dim, Modifier::DIM),
            (style.italic, Modifier::ITALIC),
            (style.underline, Modifier::UNDERLINED),
            (style.reverse, Modifier::REVERSED),
        ] {
            if on {
                drawn = drawn.add_modifier(modifier);
            }
        }
        drawn
    }

    pub fn desktop(&self) -> Style {
        Style::new()
    }

    pub fn border_focused(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn border(&self) -> Style {
        self.fg(Color::DarkGray)
    }

    pub fn title_focused(&self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }

    pub fn title(&self) -> Style {
        self.fg(Color::Gray)
    }

    pub fn taskbar(&self) -> Style {
        if self.color {
            Style::new().bg(Color::Rgb(30, 30, 40)).fg(Color::Gray)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }

    pub fn taskbar_active(&self) -> Style {
        if self.color {
            Style::new()
                .bg(Color::Cyan)
                .fg(Color::Black)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }

    pub fn muted(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    pub fn user(&self) -> Style {
        self.fg(Color::Green).add_modifier(Modifier::BOLD)
    }

    pub fn assistant(&self) -> Style {
        self.fg(Color::Magenta).add_modifier(Modifier::BOLD)
    }

    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }

    /// What a search found, in copy mode.
    pub fn found(&self) -> Style {
        if self.color {
            Style::new().fg(Color::Black).bg(Color::Yellow)
        } else {
            Style::new().add_modifier(Modifier::UNDERLINED | Modifier::BOLD)
        }
    }

    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn overlay(&self) -> Style {
        if self.color {
            Style::new().bg(Color::Rgb(20, 20, 28)).fg(Color::White)
        } else {
            Style::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monochrome_uses_no_colour_at_all() {
        let theme = Theme::monochrome();
        let styles = [
            theme.desktop(),
            theme.border_focused(),
            theme.border(),
            theme.title_focused(),
            theme.title(),
            theme.taskbar(),
            theme.taskbar_active(),
            theme.muted(),
            theme.user(),
            theme.assistant(),
            theme.selected(),
            theme.ok(),
            theme.warn(),
            theme.error(),
            theme.overlay(),
        ];
        for style in styles {
            assert_eq!((style.fg, style.bg), (None, None), "{style:?}");
        }
        assert!(Theme::colored().border_focused().fg.is_some());
    }
}
