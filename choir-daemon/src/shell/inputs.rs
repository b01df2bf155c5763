//! Where what users type goes: each shell window's input queue, read by its session's writer
//! thread. A queue is made before the shell's start is recorded, so whatever a client may
//! type into a shell the log says is running has a queue to go to (typed before the shell
//! has started, it waits there), and a keystroke goes from the connection that read it
//! straight to its shell, past the world actor and the manager.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use choir_proto::WindowId;

/// A window's input queue, as its session takes it.
pub(super) struct Typed {
    /// What was typed, for the writer thread.
    pub queue: std_mpsc::Receiver<String>,
    /// Set by the session once it has recorded the shell's end (before that is committed):
    /// from then on typing is refused, as `decide` refuses it once the end is in the log.
    pub ended: Arc<AtomicBool>,
}

struct Queue {
    typed: std_mpsc::Sender<String>,
    ended: Arc<AtomicBool>,
}

/// The input queues of the shell windows whose shells run (or are starting). Cheap to clone.
#[derive(Clone, Default)]
pub struct Inputs(Arc<Mutex<HashMap<WindowId, Queue>>>);

impl Inputs {
    /// Queues what a user typed for window `window_id`'s shell; gives it back if the window
    /// has no running shell.
    pub fn send(&self, window_id: WindowId, typed: String) -> Result<(), String> {
        match self.lock().get(&window_id) {
            Some(queue) if !queue.ended.load(Ordering::Acquire) => {
                queue.typed.send(typed).map_err(|unsent| unsent.0)
            }
            _ => Err(typed),
        }
    }

    /// A new queue for window `window_id` (replacing its last one, whose writer then ends).
    pub(super) fn open(&self, window_id: WindowId) -> Typed {
        let (typed, queue) = std_mpsc::channel();
        let ended = Arc::new(AtomicBool::new(false));
        self.lock().insert(
            window_id,
            Queue {
                typed,
                ended: ended.clone(),
            },
        );
        Typed { queue, ended }
    }

    /// Drops window `window_id`'s queue: its writer ends once it has written what is in it.
    pub(super) fn close(&self, window_id: WindowId) {
        self.lock().remove(&window_id);
    }

    pub(super) fn close_all(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<WindowId, Queue>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_reaches_the_queue_of_its_window_only_while_it_is_open() {
        let inputs = Inputs::default();
        assert_eq!(
            inputs.send(WindowId(1), "ls".into()),
            Err("ls".into()),
            "no shell yet"
        );
        let typed = inputs.open(WindowId(1));
        assert_eq!(inputs.send(WindowId(1), "ls".into()), Ok(()));
        assert!(
            inputs.send(WindowId(2), "rm".into()).is_err(),
            "another window"
        );
        assert_eq!(typed.queue.try_recv().unwrap(), "ls");
        // The shell's end is recorded: refused, though the queue is still there.
        typed.ended.store(true, Ordering::Release);
        assert!(inputs.send(WindowId(1), "ls".into()).is_err());
        // A restart's new queue: the old one's reader sees its end.
        let again = inputs.open(WindowId(1));
        assert!(typed.queue.recv().is_err());
        assert_eq!(inputs.send(WindowId(1), "ls".into()), Ok(()));
        inputs.close(WindowId(1));
        assert!(inputs.send(WindowId(1), "x".into()).is_err());
        assert_eq!(
            again.queue.recv().unwrap(),
            "ls",
            "what was queued is still written"
        );
        assert!(again.queue.recv().is_err());
    }
}
