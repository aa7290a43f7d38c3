//! The console's keys: what each key does in each mode (the panes, the filter and note fields,
//! the detail, the kill dialog). Like the rest of the state, no I/O: a key may only ask for an
//! [`Effect`].

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{App, Effect, KillStep, Mode, Pane};
use crate::console::sampler::Request;

impl App {
    /// One key. Ctrl-C always quits.
    pub(crate) fn key(&mut self, key: KeyEvent) -> Option<Effect> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Some(Effect::Quit);
        }
        match self.mode.clone() {
            Mode::Normal => self.normal_key(key),
            Mode::Help => {
                self.mode = Mode::Normal;
                None
            }
            Mode::Filter(text) => {
                match edit(text, key) {
                    Edited::Typing(text) => {
                        self.filter = text.clone();
                        self.mode = Mode::Filter(text);
                    }
                    Edited::Done(text) => {
                        self.filter = text;
                        self.mode = Mode::Normal;
                    }
                    Edited::Cancelled => {
                        self.filter.clear();
                        self.mode = Mode::Normal;
                    }
                }
                self.selected[Pane::Sessions.index()] = 0;
                self.rebuild();
                None
            }
            Mode::Note(text) => match edit(text, key) {
                Edited::Typing(text) => {
                    self.mode = Mode::Note(text);
                    None
                }
                Edited::Done(text) => {
                    self.mode = Mode::Normal;
                    (!text.trim().is_empty()).then(|| Effect::Note(text.trim().to_owned()))
                }
                Edited::Cancelled => {
                    self.mode = Mode::Normal;
                    None
                }
            },
            Mode::Detail {
                pid,
                detail,
                scroll,
            } => {
                let scroll = match key.code {
                    KeyCode::Up => scroll.saturating_sub(1),
                    KeyCode::Down => scroll.saturating_add(1),
                    KeyCode::PageUp => scroll.saturating_sub(self.page as u16),
                    KeyCode::PageDown => scroll.saturating_add(self.page as u16),
                    KeyCode::Home => 0,
                    KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter => {
                        self.mode = Mode::Normal;
                        return None;
                    }
                    KeyCode::Char(c @ ('k' | 'K')) => {
                        return self.begin_kill(pid, c == 'K');
                    }
                    _ => scroll,
                };
                self.mode = Mode::Detail {
                    pid,
                    detail,
                    scroll,
                };
                None
            }
            Mode::Kill(step) => self.kill_key(step, key),
        }
    }

    fn normal_key(&mut self, key: KeyEvent) -> Option<Effect> {
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => return Some(Effect::Quit),
            KeyCode::Char('?') => self.mode = Mode::Help,
            KeyCode::Tab => self.pane = Pane::ALL[(self.pane.index() + 1) % Pane::ALL.len()],
            KeyCode::BackTab => {
                self.pane = Pane::ALL[(self.pane.index() + Pane::ALL.len() - 1) % Pane::ALL.len()]
            }
            KeyCode::Char(c @ '1'..='6') => self.pane = Pane::ALL[c as usize - '1' as usize],
            KeyCode::Up => self.step(-1),
            KeyCode::Down => self.step(1),
            KeyCode::PageUp => self.step(-(self.page as isize)),
            KeyCode::PageDown => self.step(self.page as isize),
            KeyCode::Home => self.step(isize::MIN / 2),
            KeyCode::End => self.step(isize::MAX / 2),
            KeyCode::Left | KeyCode::Right | KeyCode::Char(' ') if self.pane == Pane::Blockers => {
                self.toggle(key.code)
            }
            KeyCode::Char('/') => {
                self.pane = Pane::Sessions;
                self.mode = Mode::Filter(self.filter.clone());
            }
            KeyCode::Char('s') => {
                self.sort = self.sort.next();
                self.message = Some(format!("sessions sorted by {}", self.sort.label()));
                self.rebuild();
            }
            KeyCode::Char('p') => {
                self.paused = !self.paused;
                return Some(Effect::Pause(self.paused));
            }
            KeyCode::Char('i') => self.mode = Mode::Note(String::new()),
            KeyCode::Enter => {
                let pid = self.selected_pid()?;
                let trx_id = self
                    .threads()
                    .iter()
                    .find(|t| t.pid == pid)
                    .and_then(|t| t.trx.as_ref())
                    .map(|t| t.id.clone());
                self.mode = Mode::Detail {
                    pid,
                    detail: None,
                    scroll: 0,
                };
                return Some(Effect::Send(Request::Detail { pid, trx_id }));
            }
            KeyCode::Char(c @ ('k' | 'K')) => {
                let Some(pid) = self.selected_pid() else {
                    self.message =
                        Some("select a session first (panes 1, 2 and 4 list them)".into());
                    return None;
                };
                return self.begin_kill(pid, c == 'K');
            }
            _ => {}
        }
        None
    }

    fn begin_kill(&mut self, pid: u64, query_only: bool) -> Option<Effect> {
        self.mode = Mode::Kill(KillStep::Snapshotting { pid, query_only });
        Some(Effect::Send(Request::KillBegin { pid, query_only }))
    }

    fn kill_key(&mut self, step: KillStep, key: KeyEvent) -> Option<Effect> {
        match step {
            KillStep::Confirm { snapshot, .. } => match key.code {
                KeyCode::Char('y' | 'Y') => {
                    self.mode = Mode::Kill(KillStep::Killing { pid: snapshot.pid });
                    Some(Effect::Send(Request::KillConclude { confirmed: true }))
                }
                KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc => {
                    self.mode = Mode::Normal;
                    self.message = Some(format!(
                        "session {} not killed (recorded in the evidence log)",
                        snapshot.pid
                    ));
                    Some(Effect::Send(Request::KillConclude { confirmed: false }))
                }
                _ => None,
            },
            // The snapshot is being written: closing now answers "no" once it arrives.
            KillStep::Snapshotting { pid, .. } => {
                if matches!(key.code, KeyCode::Esc | KeyCode::Char('n' | 'q')) {
                    self.mode = Mode::Normal;
                    self.message = Some(format!("session {pid} not killed"));
                }
                None
            }
            // Re-verifying and killing cannot be stopped half-way.
            KillStep::Killing { .. } => None,
            KillStep::Done { .. } | KillStep::Refused { .. } => {
                self.mode = Mode::Normal;
                None
            }
        }
    }

    fn step(&mut self, by: isize) {
        if !self.pane.lists_sessions() {
            return;
        }
        let rows = self.rows(self.pane);
        let slot = &mut self.selected[self.pane.index()];
        let target = (*slot as isize).saturating_add(by);
        *slot = target.clamp(0, rows.saturating_sub(1) as isize) as usize;
    }

    /// Left collapses the selected node, Right expands it, Space toggles.
    fn toggle(&mut self, code: KeyCode) {
        let Some(row) = self.tree.get(self.selected(Pane::Blockers)) else {
            return;
        };
        if !row.has_waiters {
            return;
        }
        let pid = row.session.pid;
        let collapse = match code {
            KeyCode::Left => true,
            KeyCode::Right => false,
            _ => !self.collapsed.contains(&pid),
        };
        if collapse {
            self.collapsed.insert(pid);
        } else {
            self.collapsed.remove(&pid);
        }
        self.rebuild();
    }
}

enum Edited {
    Typing(String),
    Done(String),
    Cancelled,
}

/// A one-line text field: characters, Backspace, Enter to accept, Esc to cancel.
fn edit(mut text: String, key: KeyEvent) -> Edited {
    match key.code {
        KeyCode::Enter => Edited::Done(text),
        KeyCode::Esc => Edited::Cancelled,
        KeyCode::Backspace => {
            text.pop();
            Edited::Typing(text)
        }
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
            text.push(c);
            Edited::Typing(text)
        }
        _ => Edited::Typing(text),
    }
}
