//! The WebSocket to the daemon, as events for the app: opened, a text frame, closed. The
//! protocol itself (hello, resume, request ids) is `choir_proto::client::Link`'s.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};
use yew::Callback;

use choir_proto::ClientFrame;

/// What the socket reports.
#[derive(Debug, Clone, PartialEq)]
pub enum NetEvent {
    Opened,
    Text(String),
    /// The socket closed (or never opened): the close code and reason the server gave.
    Closed {
        code: u16,
        reason: String,
    },
}

/// One connection; dropping it closes the socket and silences its handlers.
pub struct Socket {
    ws: WebSocket,
    _handlers: Handlers,
}

struct Handlers {
    _open: Closure<dyn FnMut()>,
    _message: Closure<dyn FnMut(MessageEvent)>,
    _close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    /// Opens `url`; every event goes to `report`.
    pub fn open(url: &str, report: Callback<NetEvent>) -> Result<Self, String> {
        let ws = WebSocket::new(url).map_err(|err| format!("{err:?}"))?;
        let opened = report.clone();
        let open = Closure::<dyn FnMut()>::new(move || opened.emit(NetEvent::Opened));
        let received = report.clone();
        let message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(text) = event.data().as_string() {
                received.emit(NetEvent::Text(text));
            }
        });
        let close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            report.emit(NetEvent::Closed {
                code: event.code(),
                reason: event.reason(),
            });
        });
        ws.set_onopen(Some(open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(close.as_ref().unchecked_ref()));
        Ok(Self {
            ws,
            _handlers: Handlers {
                _open: open,
                _message: message,
                _close: close,
            },
        })
    }

    /// Sends a frame; false when the socket cannot take it.
    pub fn send(&self, frame: &ClientFrame) -> bool {
        let Ok(text) = serde_json::to_string(frame) else {
            return false;
        };
        self.ws.ready_state() == WebSocket::OPEN && self.ws.send_with_str(&text).is_ok()
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}
