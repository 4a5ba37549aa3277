//! Terminal colours: on when stderr is a terminal and `NO_COLOR` is unset, or forced.

use std::io::IsTerminal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

/// An (opening, closing) pair of escape sequences; empty when colour is off.
pub type Paint = (&'static str, &'static str);

impl Style {
    pub fn plain() -> Self {
        Style { color: false }
    }

    /// Decides from `--color`, `NO_COLOR` and whether stderr is a terminal.
    pub fn detect(choice: ColorChoice) -> Self {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
            }
        };
        Style { color }
    }

    fn paint(&self, open: &'static str) -> Paint {
        if self.color { (open, "\x1b[0m") } else { ("", "") }
    }

    pub fn red(&self) -> Paint {
        self.paint("\x1b[1;31m")
    }
    pub fn green(&self) -> Paint {
        self.paint("\x1b[32m")
    }
    pub fn yellow(&self) -> Paint {
        self.paint("\x1b[1;33m")
    }
    pub fn blue(&self) -> Paint {
        self.paint("\x1b[1;34m")
    }
    pub fn dim(&self) -> Paint {
        self.paint("\x1b[2m")
    }
    pub fn bold(&self) -> Paint {
        self.paint("\x1b[1m")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}
